package lambdarie

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Lambda replaces an execution environment whose runtime exits or whose
// init fails: the next invocation gets a new one, after a cold start. An
// RIE, in the mode the stack runs it, exits with its function instead
// (a crash, a failed init, an init past the timeout on a machine too busy
// to start 40 functions at once), and the instance would refuse every
// invocation sent to it for the rest of the run. So the stack starts a
// new RIE in its place, on the same addresses, which the router finds
// again by itself (Router.forward redials a refused connection).
const (
	// replaceBudget is how many times an instance is replaced within
	// replaceWindow; one that keeps stopping is a broken function, which
	// ends the run (Stack.Wait) rather than loop.
	replaceBudget = 3
	replaceWindow = time.Minute
	// stoppedOutput is how much of a stopped RIE's last output its log
	// line carries: the RIE's and the function's own account of why.
	stoppedOutput = 4 << 10
)

// instance is one instance of a function: its RIE, replaced as it stops.
type instance struct {
	mu     sync.Mutex
	cur    *process
	closed bool
	// replaced are the times it was replaced within replaceWindow.
	replaced []time.Time
	// replacing is closed when the replacement under way ends, and
	// cancelReplace cuts its start short; both nil when none is.
	replacing     chan struct{}
	cancelReplace context.CancelFunc
}

func (inst *instance) process() *process {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return inst.cur
}

// close stops the instance's RIE for good: none replaces it after, and
// its ports are given back.
func (inst *instance) close() error {
	inst.mu.Lock()
	inst.closed = true
	p, replacing, cancel := inst.cur, inst.replacing, inst.cancelReplace
	inst.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	err := p.stop()
	// A replacement under way stops what it started once it sees the
	// instance closed; the ports are free only after that.
	if replacing != nil {
		<-replacing
	}
	ports.release(p.runtimeAPI, p.addr)
	return err
}

// RIEPIDs are the process ids of the RIEs running now (their functions
// are in [Stack.CPUGroups]), for whoever measures what they use.
func (s *Stack) RIEPIDs() []int {
	pids := make([]int, 0, len(s.instances))
	for _, inst := range s.instances {
		pids = append(pids, inst.process().cmd.Process.Pid)
	}
	return pids
}

// Replaced is how many times an RIE that stopped on its own was replaced
// since the start. A run that reports figures says so: each replacement
// is an instance's cold start, and whatever it was running failed.
func (s *Stack) Replaced() int { return int(s.replaced.Load()) }

// watch waits for p, inst's RIE, to end. An end nobody asked for is
// logged with what the RIE last wrote, and the instance is replaced; one
// that cannot be, or past its budget, is reported to Wait.
func (s *Stack) watch(inst *instance, p *process) {
	<-p.exited
	if !p.unexpected() {
		return
	}
	s.logger.Error("function stopped", "function", p.name, "error", fmt.Sprintf("the RIE exited: %v", p.err),
		"ran", time.Since(p.started).Round(time.Millisecond).String(), "output", lastLines(p.out.tail(), stoppedOutput))
	next, err := s.replace(inst, p)
	if err != nil {
		s.logger.Error("function not replaced", "function", p.name, "error", err.Error())
		select {
		case s.exited <- err:
		default:
		}
		return
	}
	if next != nil {
		s.replaced.Add(1)
		s.logger.Warn("function replaced", "function", p.name, "addr", next.addr)
		go s.watch(inst, next)
	}
}

// replace starts a new RIE where p was; nil, nil if the instance was
// closed meanwhile.
func (s *Stack) replace(inst *instance, p *process) (*process, error) {
	inst.mu.Lock()
	if inst.closed {
		inst.mu.Unlock()
		return nil, nil
	}
	now := time.Now()
	recent := inst.replaced[:0]
	for _, t := range inst.replaced {
		if now.Sub(t) < replaceWindow {
			recent = append(recent, t)
		}
	}
	inst.replaced = recent
	if len(recent) >= replaceBudget {
		inst.mu.Unlock()
		return nil, fmt.Errorf("lambdarie: the RIE of %s exited (%v) for the %d time within %v: not replaced again", p.name, p.err, len(recent)+1, replaceWindow)
	}
	inst.replaced = append(inst.replaced, now)
	// Started outside the lock, so a Shutdown meanwhile is not held up
	// by it: close cancels the start and waits for done.
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	done := make(chan struct{})
	inst.replacing, inst.cancelReplace = done, cancel
	inst.mu.Unlock()
	defer func() {
		cancel()
		inst.mu.Lock()
		inst.replacing, inst.cancelReplace = nil, nil
		inst.mu.Unlock()
		close(done)
	}()

	next, err := startAt(ctx, s.rie, p.fn, p.concurrency, s.logger, p.runtimeAPI, p.addr)
	inst.mu.Lock()
	closed := inst.closed
	if !closed && err == nil {
		inst.cur = next
	}
	inst.mu.Unlock()
	if closed {
		if err == nil {
			_ = next.stop()
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lambdarie: replacing the RIE of %s, which exited (%v): %w", p.name, p.err, err)
	}
	return next, nil
}

// lastLines is the end of out, at most n bytes of it, from a line's start
// where one begins in them.
func lastLines(out string, n int) string {
	if len(out) <= n {
		return out
	}
	out = out[len(out)-n:]
	// A newline that ends the text starts no line.
	if i := strings.IndexByte(strings.TrimSuffix(out, "\n"), '\n'); i >= 0 {
		out = out[i+1:]
	}
	return out
}
