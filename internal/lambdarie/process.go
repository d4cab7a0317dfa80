package lambdarie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// TaskRoot is where Lambda puts a function's code, and one of the places
// the RIE looks for a bootstrap.
const TaskRoot = "/var/task"

const (
	// startTimeout bounds an RIE's wait to listen.
	startTimeout = 20 * time.Second
	// stopGrace is how long an RIE has to stop after SIGTERM before it is
	// killed.
	stopGrace = 5 * time.Second
	// startAttempts retries a start whose free port was taken meanwhile.
	startAttempts = 3
	// outputTail is how much of each RIE's output is kept for Output.
	outputTail = 64 << 10
)

// bindAndRun runs in the RIE's new mount namespace: it bind-mounts the
// function's directory ($0) onto /var/task and becomes the RIE ("$@").
const bindAndRun = `mount --bind "$0" ` + TaskRoot + ` && exec "$@"`

// Function is one function to run under its own RIE.
type Function struct {
	// Name is the function's logical id, by which it is invoked.
	Name string
	// Dir holds its bootstrap; it is mounted on /var/task.
	Dir string
	// Env is its environment from the template.
	Env map[string]string
	// Instance numbers the function's RIEs from 1 when it has several,
	// to tell their logs apart; 0 when it has one.
	Instance int
}

// label names the RIE in logs and errors.
func (fn Function) label() string {
	if fn.Instance == 0 {
		return fn.Name
	}
	return fmt.Sprintf("%s#%d", fn.Name, fn.Instance)
}

// process is one RIE and the function it runs.
type process struct {
	name string
	// fn and concurrency are what it was started with, runtimeAPI and
	// addr (the invoke listener) where it listens: a replacement starts
	// the same, in the same place.
	fn          Function
	concurrency int
	runtimeAPI  string
	addr        string
	started     time.Time
	cmd         *exec.Cmd
	out         *lineLog
	// exited is closed when the process has exited; err is then its exit.
	exited chan struct{}
	err    error
	// stopping is set before a deliberate stop, so the exit is not news.
	mu       sync.Mutex
	stopping bool
}

// startRIE starts the RIE for fn with concurrency workers, retrying on
// fresh ports if the ones picked were taken before the RIE bound them.
func startRIE(ctx context.Context, rie string, fn Function, concurrency int, logger *slog.Logger) (*process, error) {
	var errs []error
	for range startAttempts {
		p, err := startOnce(ctx, rie, fn, concurrency, logger)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("lambdarie: function %s: %w", fn.label(), errors.Join(errs...))
}

func startOnce(ctx context.Context, rie string, fn Function, concurrency int, logger *slog.Logger) (*process, error) {
	runtimeAPI, err := ports.free()
	if err != nil {
		return nil, err
	}
	invoke, err := ports.free()
	if err != nil {
		ports.release(runtimeAPI)
		return nil, err
	}
	p, err := startAt(ctx, rie, fn, concurrency, logger, runtimeAPI, invoke)
	if err != nil {
		ports.release(runtimeAPI, invoke)
	}
	return p, err
}

// startAt starts the RIE for fn on the given addresses: its Runtime API
// and its invoke listener.
func startAt(ctx context.Context, rie string, fn Function, concurrency int, logger *slog.Logger, runtimeAPI, invoke string) (*process, error) {
	// A port some other listener took since it was picked would answer
	// the readiness dial below in the RIE's place, while the RIE itself
	// fails to bind it: pick again.
	for _, addr := range []string{runtimeAPI, invoke} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("lambdarie: port %s was taken before the RIE could bind it", addr)
		}
	}
	cmd := exec.Command("/bin/sh", "-c", bindAndRun, fn.Dir, rie,
		// Warnings, not only errors: why an RIE stops ("INIT failed",
		// "rie server stopped") is logged as a warning, and a stopped
		// RIE's last lines are what its log entry quotes. The rest of
		// them are the bootstrap paths it tries in vain and its noise at
		// a stop; the function's own output and the START, END and
		// REPORT lines are written whatever the level.
		"--log-level", "warn",
		"--runtime-api-address", runtimeAPI,
		"--runtime-interface-emulator-address", invoke)
	cmd.Env = rieEnv(fn, concurrency)
	cmd.Dir = fn.Dir
	log := logger.With("function", fn.Name)
	if fn.Instance != 0 {
		log = log.With("instance", fn.Instance)
	}
	out := newLineLog(log)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = namespaces()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the RIE: %w", err)
	}
	p := &process{name: fn.label(), fn: fn, concurrency: concurrency, runtimeAPI: runtimeAPI, addr: invoke, cmd: cmd, out: out, exited: make(chan struct{}), started: time.Now()}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitListening(ctx); err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("%w\n%s", err, out.tail())
	}
	return p, nil
}

// rieEnv is the environment of an RIE and so of its function: Lambda's
// own variables, then the template's.
func rieEnv(fn Function, concurrency int) []string {
	env := map[string]string{
		"PATH": os.Getenv("PATH"),
		// The mode of the RIE that takes --runtime-api-address, and the
		// number of invocations the function serves at once (aws-lambda-go
		// reads it too).
		"AWS_LAMBDA_MAX_CONCURRENCY": strconv.Itoa(concurrency),
		"AWS_LAMBDA_FUNCTION_NAME":   fn.Name,
		"AWS_REGION":                 "us-east-1",
		"AWS_DEFAULT_REGION":         "us-east-1",
		// The functions sign with these only for local endpoints; they
		// must never find real credentials on this machine.
		"AWS_ACCESS_KEY_ID":           "local",
		"AWS_SECRET_ACCESS_KEY":       "local",
		"AWS_CONFIG_FILE":             filepath.Join(fn.Dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(fn.Dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"LAMBDA_TASK_ROOT":            TaskRoot,
	}
	maps.Copy(env, fn.Env)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// waitListening waits until the RIE accepts connections on its invoke
// address, or exits.
func (p *process) waitListening(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", p.addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-p.exited:
			return fmt.Errorf("the RIE exited before listening: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("the RIE did not listen on %s: %w", p.addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop asks the RIE to stop, which stops its function, and kills it if it
// does not. Being the first process of its PID namespace, its end ends
// every process in it.
func (p *process) stop() error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopGrace):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("lambdarie: killing the RIE of %s: %w", p.name, err)
	}
	<-p.exited
	return nil
}

// unexpected reports whether the process exited without being stopped.
func (p *process) unexpected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.stopping
}

// ports are the addresses handed to RIEs by this process and not given
// back. A port is picked by listening on port 0 and closing the listener,
// for the RIE to bind a moment later; the kernel may hand the same port
// to the next such listener in between, and with a fleet's RIEs starting
// side by side it did: two RIEs were given one port, the second failed
// to bind it, and its readiness dial reached the first, so the instance
// looked started and was gone. Ports are a process-wide resource, so the
// book is too.
var ports = portBook{pick: pickPort, taken: map[string]bool{}}

type portBook struct {
	// pick draws a free loopback address from the kernel.
	pick  func() (string, error)
	mu    sync.Mutex
	taken map[string]bool
}

func pickPort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("lambdarie: no free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("lambdarie: %w", err)
	}
	return addr, nil
}

// pickAttempts bounds the draws for a port not already handed out.
const pickAttempts = 32

// free picks a loopback address no other RIE of this process was given.
func (b *portBook) free() (string, error) {
	for range pickAttempts {
		addr, err := b.pick()
		if err != nil {
			return "", err
		}
		b.mu.Lock()
		taken := b.taken[addr]
		b.taken[addr] = true
		b.mu.Unlock()
		if !taken {
			return addr, nil
		}
	}
	return "", fmt.Errorf("lambdarie: %d draws gave only ports this process handed out already", pickAttempts)
}

// release gives addresses back once their RIE stopped for good.
func (b *portBook) release(addrs ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range addrs {
		delete(b.taken, a)
	}
}

// lineLog logs each line a process writes and keeps the last of them.
type lineLog struct {
	logger  *slog.Logger
	mu      sync.Mutex
	partial []byte
	kept    []byte
}

func newLineLog(logger *slog.Logger) *lineLog { return &lineLog{logger: logger} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.kept = append(l.kept, p...)
	if over := len(l.kept) - outputTail; over > 0 {
		l.kept = l.kept[over:]
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimSpace(l.partial[:i]); len(line) > 0 {
			l.logger.Info("function output", "line", string(line))
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *lineLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.kept)
}
