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
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatroom/chat/internal/emulator"
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
	// Concurrency is AWS_LAMBDA_MAX_CONCURRENCY for each function
	// (DefaultConcurrency if zero).
	Concurrency int
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
	routerCh chan error
	procs    []*process
	exited   chan error
	tempDir  string
	once     sync.Once
}

// Start builds the functions and brings the chat up: the router, then the
// emulator invoking through it, then one RIE per function, pointed at the
// emulator's management API and DynamoDB Local. It returns once every RIE
// listens; on an error everything started is stopped.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if err := Supported(); err != nil {
		return nil, err
	}
	s := &Stack{logger: cfg.Logger, exited: make(chan error, 1)}
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

	// The router listens first: the emulator needs its address, and the
	// RIEs need the emulator's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdarie: %w", err)
	}
	s.LambdaURL = "http://" + ln.Addr().String()
	router := NewRouter(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency}}, cfg.Logger)
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
	for _, id := range names {
		fnEnv := lambdaEnv[id]
		maps.Copy(fnEnv, env[id])
		p, err := startRIE(ctx, rie, Function{Name: id, Dir: filepath.Join(work, id), Env: fnEnv}, cfg.Concurrency, cfg.Logger)
		if err != nil {
			return nil, err
		}
		s.procs = append(s.procs, p)
		// The RIE serves Concurrency invocations at once: so many slots.
		for range cfg.Concurrency {
			targets[id] = append(targets[id], "http://"+p.addr)
		}
		go s.watch(p)
	}
	router.Set(targets)
	cfg.Logger.Info("functions are running under the Lambda Runtime Interface Emulator", "functions", len(targets), "lambda_endpoint", s.LambdaURL, "url", s.Emulator.URL)
	return s, nil
}

// watch reports an RIE that ends on its own: its function can no longer
// be invoked, so the run is broken.
func (s *Stack) watch(p *process) {
	<-p.exited
	if !p.unexpected() {
		return
	}
	err := fmt.Errorf("lambdarie: the RIE of %s exited: %v", p.name, p.err)
	s.logger.Error("function stopped", "function", p.name, "error", err.Error())
	select {
	case s.exited <- err:
	default:
	}
}

// Wait blocks until the emulator or the router stops serving, or an RIE
// exits on its own, and says why.
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
	for _, p := range s.procs {
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
		stopErrs := make([]error, len(s.procs))
		for i, p := range s.procs {
			wg.Go(func() { stopErrs[i] = p.stop() })
		}
		wg.Wait()
		errs = append(errs, stopErrs...)
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
