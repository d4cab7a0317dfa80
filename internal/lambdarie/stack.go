package lambdarie

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatroom/chat/internal/cpushare"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/gateway"
)

// DefaultConcurrency is how many invocations each function serves at once
// unless Config says otherwise: enough for a few people chatting, whose
// sockets' events and HTTP calls overlap.
const DefaultConcurrency = 8

// Config configures [Start].
type Config struct {
	// Emulator configures the API Gateway emulator in front. Its Store
	// must be "dynamodb" (the default here): the functions are other
	// processes and cannot open the embedded store. LambdaEndpoint is set
	// by Start.
	Emulator emulator.Options
	// RIE is the aws-lambda-rie binary; empty installs it ([InstallRIE]).
	RIE string
	// Go is the go command that builds; "go" if empty.
	Go string
	// WorkDir receives the bootstraps; empty uses a temporary directory,
	// removed at Shutdown.
	WorkDir string
	// Concurrency is AWS_LAMBDA_MAX_CONCURRENCY for each function's one
	// RIE (DefaultConcurrency if zero), in the single-instance mode only;
	// the router queues invocations beyond it.
	Concurrency int
	// Instances is the number of instances of each function (1 if
	// zero), each its own RIE and bootstrap in namespaces of its own.
	// With more than one, or with CPULimit, the stack is a simulated
	// fleet: each instance serves one invocation at a time, as a Lambda
	// execution environment does, so a function serves Instances at once
	// and further invocations wait for a free instance. Concurrency must
	// then be 0 or 1: the fleet's concurrency is Instances.
	Instances int
	// FanoutInstances is the number of instances, in a simulated fleet,
	// of each function that no route reaches and other functions invoke
	// (the fan-out function; DefaultFanoutInstances if zero, never fewer
	// than Instances). Lambda scales asynchronous invocations out, and a
	// shard waits for its slots' earlier shards, so with as few instances
	// as the others the waiting shards could hold every one while those
	// they wait for queue behind them.
	FanoutInstances int
	// CPULimit holds each instance's function process (not its RIE) to
	// the share of a core Lambda gives its MemorySize
	// ([cpushare.ForMemory]), each instance in a cgroup of its own. It
	// needs cgroup v1's cpu controller: Start fails, saying why, where
	// [cpushare.Available] does.
	CPULimit bool
	// Env is added to every function's environment, over the template's
	// (the simulated cloud points the functions' meters at a directory).
	Env map[string]string
	// Logger receives the run's logs and, as "function output", every
	// line the RIEs and the functions write.
	Logger *slog.Logger
}

// Stack is the running chat: the emulator, the router and the RIEs.
type Stack struct {
	// Emulator is the API Gateway emulator; its URL is the chat's.
	Emulator *emulator.Emulator
	// LambdaURL is the router's base address, the emulator's
	// -lambda-endpoint.
	LambdaURL string

	logger   *slog.Logger
	router   *http.Server
	invoker  *Router
	routerCh chan error
	// instances are the RIEs, one an instance of a function, each
	// replaced when it stops on its own (replace.go).
	instances []*instance
	rie       string
	replaced  atomic.Int64
	// groups are each function's instances' cgroups, with CPULimit.
	groups   map[string][]*cpushare.Group
	memoryMB map[string]int
	exited   chan error
	tempDir  string
	once     sync.Once
	// closeRouter stops the router's queued asynchronous invocations.
	closeRouter func()
}

// DefaultFanoutInstances is Config.FanoutInstances unless set.
const DefaultFanoutInstances = 8

// defaultMemoryMB is Lambda's MemorySize for a function that sets none.
const defaultMemoryMB = 128

// runtimeUID and runtimeGID are the user and group the RIE runs a
// function as, Lambda's sandbox user (its process supervisor's default).
const (
	runtimeUID = 993
	runtimeGID = 990
)

// cgroupProcsTimeout bounds the wait for a stopped instance's processes
// to leave its cgroup, which the kernel does a moment after their exit.
const cgroupProcsTimeout = 5 * time.Second

// Start builds the functions and brings the chat up: the router, then the
// emulator invoking through it, then one RIE per instance of each function
// (one instance unless cfg.Instances says more), pointed at the
// emulator's management API and DynamoDB Local. It returns once every RIE
// listens; on an error everything started is stopped, its cgroups
// removed.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	perRIE, err := rieConcurrency(cfg)
	if err != nil {
		return nil, err
	}
	instances := max(cfg.Instances, 1)
	if err := Supported(); err != nil {
		return nil, err
	}
	if cfg.CPULimit {
		if err := cpushare.Available(cpushare.Root); err != nil {
			return nil, fmt.Errorf("lambdarie: the CPU limit needs cgroup v1's cpu controller: %w", err)
		}
	}
	s := &Stack{logger: cfg.Logger, exited: make(chan error, 1), groups: map[string][]*cpushare.Group{}, memoryMB: map[string]int{}}
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if stopErr := s.Shutdown(stopCtx); stopErr != nil {
				cfg.Logger.Error("stopping after a failed start", "error", stopErr.Error())
			}
		}
	}()
	rie := cfg.RIE
	if rie == "" {
		if rie, err = InstallRIE(ctx, cfg.Go, cfg.Logger); err != nil {
			return nil, err
		}
	}
	s.rie = rie

	// The router listens first: the emulator needs its address, and the
	// RIEs need the emulator's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdarie: %w", err)
	}
	s.LambdaURL = "http://" + ln.Addr().String()
	router := NewRouter(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: perRIE}}, cfg.Logger)
	s.closeRouter = router.Close
	s.invoker = router
	s.router = &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	s.routerCh = make(chan error, 1)
	go func() { s.routerCh <- s.router.Serve(ln) }()

	o := cfg.Emulator
	if o.Store == "" {
		o.Store = "dynamodb"
	}
	o.LambdaEndpoint = s.LambdaURL
	if s.Emulator, err = emulator.Start(ctx, o); err != nil {
		return nil, err
	}
	env, err := s.Emulator.FunctionEnv()
	if err != nil {
		return nil, err
	}

	work := cfg.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "lambdarie-"); err != nil {
			return nil, fmt.Errorf("lambdarie: %w", err)
		}
		s.tempDir = work
	}
	// The bind mount needs the absolute path.
	if work, err = filepath.Abs(work); err != nil {
		return nil, fmt.Errorf("lambdarie: %w", err)
	}
	dirs := map[string]string{}
	for id, fn := range s.Emulator.Routes.Functions {
		dirs[id] = fn.Dir
	}
	start := time.Now()
	if err := Build(ctx, cfg.Go, o.Root, dirs, work); err != nil {
		return nil, err
	}
	cfg.Logger.Info("built the functions", "functions", len(dirs), "took", time.Since(start).Round(time.Millisecond).String())

	targets := map[string][]string{}
	names := make([]string, 0, len(dirs))
	for id := range dirs {
		names = append(names, id)
	}
	sort.Strings(names)
	lambdaEnv, err := settings(o.Root, names)
	if err != nil {
		return nil, err
	}
	var fns []Function
	for _, id := range names {
		fnEnv := lambdaEnv[id]
		maps.Copy(fnEnv, env[id])
		maps.Copy(fnEnv, cfg.Env)
		s.memoryMB[id] = defaultMemoryMB
		if mb, err := strconv.Atoi(fnEnv["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]); err == nil {
			s.memoryMB[id] = mb
		}
		fnDir := filepath.Join(work, id)
		n := instancesOf(cfg, s.Emulator.Routes.Functions[id], instances)
		for i := range n {
			fn := Function{Name: id, Dir: fnDir, Env: fnEnv}
			if n > 1 {
				fn.Instance = i + 1
			}
			if cfg.CPULimit {
				if fn.Dir, err = s.limitInstance(fn, fnDir, i+1); err != nil {
					return nil, err
				}
			}
			fns = append(fns, fn)
		}
	}
	// All at once: each RIE's start (and, in this mode, its function's
	// init) mostly waits, and a fleet has many.
	procs := make([]*process, len(fns))
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { procs[i], errs[i] = startRIE(ctx, rie, fn, runtimesPerRIE(perRIE), cfg.Logger) })
	}
	wg.Wait()
	for i, p := range procs {
		if p == nil {
			continue
		}
		inst := &instance{cur: p}
		s.instances = append(s.instances, inst)
		for range perRIE {
			targets[fns[i].Name] = append(targets[fns[i].Name], "http://"+p.addr)
		}
		go s.watch(inst, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	router.Set(targets)
	cfg.Logger.Info("functions are running under the Lambda Runtime Interface Emulator", "functions", len(targets),
		"instances", instances, "concurrency_per_instance", perRIE, "cpu_limit", cfg.CPULimit,
		"lambda_endpoint", s.LambdaURL, "url", s.Emulator.URL)
	return s, nil
}

// instancesOf is the number of instances of fn: instances, or in a
// simulated fleet for a function that only other functions invoke,
// FanoutInstances.
func instancesOf(cfg Config, fn *gateway.Function, instances int) int {
	fleet := cfg.Instances > 1 || cfg.CPULimit
	if !fleet || fn == nil || len(fn.InvokedBy) == 0 {
		return instances
	}
	n := cfg.FanoutInstances
	if n <= 0 {
		n = DefaultFanoutInstances
	}
	return max(n, instances)
}

// rieConcurrency is the number of invocations each RIE serves at once:
// Concurrency with a single instance per function, as `make run-lambda`
// has always run; one in a simulated fleet, as a Lambda execution
// environment does, which would make any other Concurrency a lie.
func rieConcurrency(cfg Config) (int, error) {
	if cfg.Instances <= 1 && !cfg.CPULimit {
		if cfg.Concurrency <= 0 {
			return DefaultConcurrency, nil
		}
		return cfg.Concurrency, nil
	}
	if cfg.Concurrency > 1 {
		return 0, fmt.Errorf("lambdarie: Concurrency %d with Instances %d and CPULimit %v: each instance of a fleet serves one invocation at a time, so a function's concurrency is its Instances", cfg.Concurrency, cfg.Instances, cfg.CPULimit)
	}
	return 1, nil
}

// runtimesPerRIE is the AWS_LAMBDA_MAX_CONCURRENCY an RIE serving slots
// invocations at once is given. A fleet instance's one slot gets two
// runtimes: the RIE answers the function's response before the runtime
// that sent it polls for the next event, so an invocation sent the moment
// the last one answered would find no idle runtime ("Runtime.Unavailable:
// no idle runtimes") with one. The router never sends the second at once,
// so the instance still serves one invocation at a time.
func runtimesPerRIE(slots int) int {
	if slots == 1 {
		return 2
	}
	return slots
}

// limitInstance makes the cgroup of a function's instance and the
// directory to mount on its /var/task, whose bootstrap puts itself in
// the cgroup before it becomes the function's bootstrap. The RIE starts
// it, so only the function is held, not the RIE, as in Lambda, whose own
// machinery does not run on the function's share; and it is held from its
// first instruction, its cold start included.
func (s *Stack) limitInstance(fn Function, fnDir string, instance int) (string, error) {
	mb := s.memoryMB[fn.Name]
	g, err := cpushare.New(cpushare.Root, fmt.Sprintf("%s-%d", fn.Name, instance), cpushare.ForMemory(mb))
	if err != nil {
		return "", fmt.Errorf("lambdarie: function %s: %w", fn.label(), err)
	}
	s.groups[fn.Name] = append(s.groups[fn.Name], g)
	// The RIE runs the function as Lambda's sandbox user, not root, so
	// that user must be able to join the group.
	if err := os.Chown(g.ProcsFile(), runtimeUID, runtimeGID); err != nil {
		return "", fmt.Errorf("lambdarie: function %s: letting its user join its cgroup: %w", fn.label(), err)
	}
	dir := filepath.Join(fnDir, fmt.Sprintf("instance-%d", instance))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("lambdarie: %w", err)
	}
	// The binary is linked in beside the script rather than run at its
	// own path: the sandbox user may not traverse the directories above
	// it (a test's temporary directory is private), while the bind mount
	// makes /var/task reachable whatever its parents.
	fnBin := filepath.Join(dir, "function")
	_ = os.Remove(fnBin)
	if err := os.Link(filepath.Join(fnDir, "bootstrap"), fnBin); err != nil {
		return "", fmt.Errorf("lambdarie: %w", err)
	}
	// $$ is the shell's pid in the RIE's PID namespace, which is how the
	// kernel reads a pid written by a process of that namespace.
	script := fmt.Sprintf("#!/bin/sh\necho $$ > %s && exec %s \"$@\"\n",
		shellQuote(g.ProcsFile()), shellQuote(TaskRoot+"/function"))
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("lambdarie: %w", err)
	}
	return dir, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Invocations gives each function's invocations since the start or the
// last [Stack.ResetInvocations], with its MemorySize, so that
// [InvocationStats.GBSeconds] is what Lambda would bill for them.
func (s *Stack) Invocations() map[string]InvocationStats {
	out := s.invoker.Invocations()
	for name, st := range out {
		st.MemoryMB = s.memoryMB[name]
		out[name] = st
	}
	return out
}

// ResetInvocations zeroes the statistics of [Stack.Invocations], so that
// a benchmark can measure one phase of its run.
func (s *Stack) ResetInvocations() { s.invoker.ResetInvocations() }

// CPUGroups gives each function's instances' cgroups, in the order of
// their instances; nil without CPULimit. They are closed by Shutdown.
func (s *Stack) CPUGroups() map[string][]*cpushare.Group {
	out := map[string][]*cpushare.Group{}
	for name, gs := range s.groups {
		out[name] = slices.Clone(gs)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Wait blocks until the emulator or the router stops serving, or an RIE
// that exits on its own cannot be replaced (replace.go), and says why.
func (s *Stack) Wait() error {
	emu := make(chan error, 1)
	go func() { emu <- s.Emulator.Wait() }()
	select {
	case err := <-emu:
		return err
	case err := <-s.routerCh:
		return fmt.Errorf("lambdarie: the router stopped: %w", err)
	case err := <-s.exited:
		return err
	}
}

// Output is the last of what every RIE and its function wrote, for a
// report when something failed.
func (s *Stack) Output() string {
	var b strings.Builder
	for _, inst := range s.instances {
		p := inst.process()
		fmt.Fprintf(&b, "---- %s\n%s\n", p.name, p.out.tail())
	}
	return b.String()
}

// Shutdown stops the emulator first, whose sockets' $disconnect still
// needs the functions, then the RIEs and the router, and removes the
// bootstraps if Start made their directory.
func (s *Stack) Shutdown(ctx context.Context) error {
	var errs []error
	s.once.Do(func() {
		if s.Emulator != nil {
			errs = append(errs, s.Emulator.Shutdown(ctx))
		}
		var wg sync.WaitGroup
		stopErrs := make([]error, len(s.instances))
		for i, inst := range s.instances {
			wg.Go(func() { stopErrs[i] = inst.close() })
		}
		wg.Wait()
		errs = append(errs, stopErrs...)
		for _, gs := range s.groups {
			for _, g := range gs {
				errs = append(errs, closeGroup(g))
			}
		}
		if s.closeRouter != nil {
			s.closeRouter()
		}
		if s.router != nil {
			if err := s.router.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		if s.tempDir != "" {
			errs = append(errs, os.RemoveAll(s.tempDir))
		}
	})
	return errors.Join(errs...)
}

// closeGroup removes an instance's cgroup once the kernel has let go of
// its processes, which have exited but may not yet have left it.
func closeGroup(g *cpushare.Group) error {
	deadline := time.Now().Add(cgroupProcsTimeout)
	for {
		err := g.Close()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
