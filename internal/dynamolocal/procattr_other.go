//go:build !linux

package dynamolocal

import "os/exec"

// setParentDeathSignal does nothing where the kernel has no parent-death
// signal; Stop remains the way the emulator ends.
func setParentDeathSignal(*exec.Cmd) {}
