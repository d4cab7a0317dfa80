package dynamolocal

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill java when the process that
// started it dies without calling Stop (a test binary that panicked or timed
// out, say), so no emulator outlives its tests.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
