package dynamolocal

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill java when the process that
// started it dies without calling Stop (a test binary that panicked or timed
// out, say), so no emulator outlives its tests. Its own process group keeps
// a terminal's Ctrl-C, meant for the process that started it, from killing
// it at once: that process still needs it while it shuts down (the
// $disconnect of each open socket), and stops it after.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
