package cpushare_test

import (
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/cpushare"
)

func TestForMemory(t *testing.T) {
	for _, tc := range []struct {
		mb   int
		want float64
	}{
		{128, 0.0724},
		{256, 0.1447},
		{1024, 0.5789},
		{1769, 1},
		{3538, 2},
	} {
		if got := cpushare.ForMemory(tc.mb); math.Abs(got-tc.want) > 0.0001 {
			t.Errorf("ForMemory(%d) = %.4f, want %.4f", tc.mb, got, tc.want)
		}
	}
}

func TestNewRefusesNoShare(t *testing.T) {
	if _, err := cpushare.New(t.TempDir(), "x", 0); err == nil {
		t.Error("a share of 0 was accepted")
	}
}

// TestGroupHoldsABusyLoop runs a process that would take a whole core and
// checks the group keeps it near its share. Only the upper bound is
// checked: a busy machine can give it less than its share, never more.
func TestGroupHoldsABusyLoop(t *testing.T) {
	if err := cpushare.Available(cpushare.Root); err != nil {
		t.Skipf("%v (needs root and cgroup v1's cpu controller)", err)
	}
	const share = 0.2
	g, err := cpushare.New(cpushare.Root, "test busy loop", share)
	if err != nil {
		t.Fatal(err)
	}
	cmd := g.Command("/bin/sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(1500 * time.Millisecond)
	used := cpuTime(t, cmd.Process.Pid)
	wall := time.Since(start)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := g.Close(); err != nil {
		t.Error(err)
	}
	got := used.Seconds() / wall.Seconds()
	t.Logf("a busy loop held to %.2f of a core used %.3f (%v of CPU in %v)", share, got, used, wall.Round(time.Millisecond))
	if got > share*1.5 {
		t.Errorf("the loop used %.3f of a core; the group allows %.2f", got, share)
	}
	if used == 0 {
		t.Error("the loop used no CPU at all: did it run?")
	}
}

func TestCloseRefusesWhileInUse(t *testing.T) {
	if err := cpushare.Available(cpushare.Root); err != nil {
		t.Skipf("%v (needs root and cgroup v1's cpu controller)", err)
	}
	g, err := cpushare.New(cpushare.Root, "test close", 1)
	if err != nil {
		t.Fatal(err)
	}
	cmd := g.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The shell joins the group, then execs sleep, keeping its pid.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		pids, err := g.Procs()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(pids, cmd.Process.Pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process %d never joined the group (it holds %v)", cmd.Process.Pid, pids)
		}
	}
	if err := g.Close(); err == nil {
		t.Error("Close removed a group that still holds a process")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := g.Close(); err != nil {
		t.Errorf("Close after the process ended: %v", err)
	}
}

// cpuTime is the user and system time a process has used so far.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}
