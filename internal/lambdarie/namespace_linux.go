package lambdarie

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// namespaces gives an RIE a mount namespace, whose mounts Go makes
// private so the bind mount stays inside it, and a PID namespace, in which
// it is the first process: when it ends, the kernel ends its function too,
// which runs in a process group of its own. The kernel also kills it when
// the process that started it dies without stopping it. Its own process
// group keeps a terminal's Ctrl-C from reaching it before the launcher has
// stopped the emulator, whose sockets' $disconnect still needs it.
func namespaces() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags:   syscall.CLONE_NEWPID,
		Unshareflags: syscall.CLONE_NEWNS,
		Pdeathsig:    syscall.SIGKILL,
		Setpgid:      true,
	}
}

// Supported reports why the functions cannot run here under the RIE, or
// nil if they can: it makes /var/task if missing, then tries a bind mount
// onto it in namespaces like an RIE's.
func Supported() error {
	if err := os.MkdirAll(TaskRoot, 0o755); err != nil {
		return fmt.Errorf("lambdarie: cannot make %s, where the RIE looks for a function (run as root): %w", TaskRoot, err)
	}
	dir, err := os.MkdirTemp("", "lambdarie-probe-")
	if err != nil {
		return fmt.Errorf("lambdarie: %w", err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("/bin/sh", "-c", bindAndRun, dir, "true")
	cmd.SysProcAttr = namespaces()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lambdarie: cannot bind-mount a function onto %s in a private mount and PID namespace (needs Linux, root or CAP_SYS_ADMIN, and mount): %w %s", TaskRoot, err, out)
	}
	return nil
}
