//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseOpenFiles lets the process hold n descriptors: a room of 10,000
// is 10,000 server ends in the benchcloud that runs the cloud and 10,000
// client sockets in its client process (both, with -in-process), past
// the usual limit of 1,024.
func raiseOpenFiles(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open-file limit: %w", err)
	}
	if lim.Cur >= n {
		return nil
	}
	if n > lim.Max {
		return fmt.Errorf("the rooms need %d open files in this process, past its hard limit of %d (raise it with `ulimit -Hn %d` where that is allowed)", n, lim.Max, n)
	}
	want := syscall.Rlimit{Cur: n, Max: lim.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return fmt.Errorf("raising the open-file limit from %d to %d: %w", lim.Cur, n, err)
	}
	return nil
}
