// Package cpushare holds processes to a fraction of one core, as Lambda
// holds a function to the CPU share of its memory size: a function gets
// one full vCPU at 1,769 MB and proportionally less below, so a 256 MB
// function runs at about a seventh of a core. The simulated cloud runs
// each function instance in a [Group] of its own so that what it measures
// (durations, and the GB-seconds billed on them) is what Lambda would.
//
// It uses cgroup v1's cpu controller (cpu.cfs_quota_us over
// cpu.cfs_period_us), which must be mounted at /sys/fs/cgroup/cpu and
// writable (root); [Available] says whether it is.
package cpushare

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FullCoreMB is the memory size at which Lambda gives a function one full
// vCPU; the share scales linearly with memory below it.
const FullCoreMB = 1769

// ForMemory is the share of a core Lambda gives a function of memoryMB.
func ForMemory(memoryMB int) float64 {
	return float64(memoryMB) / FullCoreMB
}

// period is the CFS period: 100 ms, the kernel's default. The quota is a
// slice of it, so a process at a seventh of a core runs about 14 ms of
// every 100 ms, as Lambda's own throttling does in bursts.
const period = 100 * time.Millisecond

// ErrUnavailable is returned when the cpu controller cannot be used.
var ErrUnavailable = errors.New("cpushare: cgroup v1 cpu controller not available")

// Root is where cgroup v1's cpu controller is mounted.
const Root = "/sys/fs/cgroup/cpu"

// Available says whether groups can be made under root (Root in use).
func Available(root string) error {
	st, err := os.Stat(filepath.Join(root, "cpu.cfs_quota_us"))
	if err != nil || st.IsDir() {
		return fmt.Errorf("%w: no %s/cpu.cfs_quota_us", ErrUnavailable, root)
	}
	probe, err := os.MkdirTemp(root, "chat-probe-")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := os.Remove(probe); err != nil {
		return fmt.Errorf("cpushare: removing %s: %w", probe, err)
	}
	return nil
}

// Group is one cgroup holding its processes to a share of a core.
type Group struct {
	dir   string
	share float64
}

// New makes a group under root named after name, holding its processes to
// share of one core (0 < share; above 1 it allows that many cores).
func New(root, name string, share float64) (*Group, error) {
	if share <= 0 {
		return nil, fmt.Errorf("cpushare: share %v must be positive", share)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	dir := filepath.Join(root, "chat-"+sanitize(name)+"-"+hex.EncodeToString(suffix[:]))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	g := &Group{dir: dir, share: share}
	quota := max(int64(share*float64(period.Microseconds())), 1000) // the kernel's floor is 1 ms
	if err := g.write("cpu.cfs_period_us", period.Microseconds()); err != nil {
		_ = os.Remove(dir)
		return nil, err
	}
	if err := g.write("cpu.cfs_quota_us", quota); err != nil {
		_ = os.Remove(dir)
		return nil, err
	}
	return g, nil
}

// Share is the fraction of a core the group allows.
func (g *Group) Share() float64 { return g.share }

// Command is exec.Command for a program that runs inside the group from
// its first instruction: a shell puts itself in the group, then execs it.
// (cgroup v1 cannot start a process inside a group, and adding it after
// the start would let its start-up run unlimited.)
func (g *Group) Command(name string, args ...string) *exec.Cmd {
	script := `echo $$ > "$0" && exec "$@"`
	return exec.Command("/bin/sh", append([]string{"-c", script, g.ProcsFile(), name}, args...)...)
}

// ProcsFile is the group's cgroup.procs: a process that writes its pid
// there (or whose starter does) joins the group, for a start that
// [Group.Command] cannot make, such as a process another program starts.
func (g *Group) ProcsFile() string { return filepath.Join(g.dir, "cgroup.procs") }

// Add moves a running process into the group.
func (g *Group) Add(pid int) error { return g.write("cgroup.procs", int64(pid)) }

// Procs lists the processes in the group.
func (g *Group) Procs() ([]int, error) {
	raw, err := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("cpushare: %w", err)
	}
	var pids []int
	for f := range strings.FieldsSeq(string(raw)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Throttled reports how often and for how long the kernel held the group
// back to its quota.
func (g *Group) Throttled() (periods int64, total time.Duration, err error) {
	raw, err := os.ReadFile(filepath.Join(g.dir, "cpu.stat"))
	if err != nil {
		return 0, 0, fmt.Errorf("cpushare: %w", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "nr_throttled":
			periods = n
		case "throttled_time":
			total = time.Duration(n)
		}
	}
	return periods, total, nil
}

// Close removes the group. Its processes must have exited: the kernel
// refuses to remove a group that holds any.
func (g *Group) Close() error {
	if err := os.Remove(g.dir); err != nil {
		return fmt.Errorf("cpushare: removing %s (are its processes gone?): %w", g.dir, err)
	}
	return nil
}

func (g *Group) write(file string, v int64) error {
	if err := os.WriteFile(filepath.Join(g.dir, file), []byte(strconv.FormatInt(v, 10)), 0o644); err != nil {
		return fmt.Errorf("cpushare: %s: %w", file, err)
	}
	return nil
}

// sanitize keeps a name to what a directory name may safely hold.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, name)
}
