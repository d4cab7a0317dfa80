package lambdarie

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLastLines(t *testing.T) {
	tests := []struct {
		name, out string
		n         int
		want      string
	}{
		{"short enough", "a\nb\n", 10, "a\nb\n"},
		{"cut at a line's start", "first line\nsecond\nthird\n", 12, "third\n"},
		{"one long last line", strings.Repeat("x", 20) + "\n", 8, "xxxxxxx\n"},
		{"no newline in the end", "abc\n" + strings.Repeat("y", 10), 6, "yyyyyy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lastLines(tt.out, tt.n); got != tt.want {
				t.Errorf("lastLines(%q, %d) = %q, want %q", tt.out, tt.n, got, tt.want)
			}
		})
	}
}

// TestCloseWaitsForAReplacement: closing an instance while its RIE is
// being replaced cuts the start short and gives the ports back only once
// the replacement has ended, so no other RIE is handed them while the new
// one may still hold them.
func TestCloseWaitsForAReplacement(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep here: %v", err)
	}
	p := &process{name: "F", runtimeAPI: "127.0.0.1:1", addr: "127.0.0.1:2", cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	ports.mu.Lock()
	ports.taken[p.runtimeAPI], ports.taken[p.addr] = true, true
	ports.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	inst := &instance{cur: p, replacing: done, cancelReplace: cancel}

	closed := make(chan error, 1)
	go func() { closed <- inst.close() }()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("close did not cancel the replacement's start")
	}
	select {
	case err := <-closed:
		t.Fatalf("close returned (%v) before the replacement ended", err)
	case <-time.After(100 * time.Millisecond):
	}
	ports.mu.Lock()
	held := ports.taken[p.addr]
	ports.mu.Unlock()
	if !held {
		t.Error("the ports were given back while the replacement was under way")
	}
	close(done)
	if err := <-closed; err != nil {
		t.Errorf("close: %v", err)
	}
	ports.mu.Lock()
	held = ports.taken[p.addr] || ports.taken[p.runtimeAPI]
	ports.mu.Unlock()
	if held {
		t.Error("the ports were not given back once the replacement ended")
	}
}
