//go:build !linux

package lambdarie

import (
	"errors"
	"syscall"
)

func namespaces() *syscall.SysProcAttr { return nil }

// Supported reports why the functions cannot run here under the RIE: the
// RIE and its mount namespaces are Linux's.
func Supported() error {
	return errors.New("lambdarie: the Lambda Runtime Interface Emulator and the mount namespaces it is run in need Linux")
}
