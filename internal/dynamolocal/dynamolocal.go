package dynamolocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/logging"

	"github.com/chatroom/chat/internal/sdkhttp"
)

const (
	// startAttempts is how often Start tries a new port when the chosen one
	// was taken between picking it and java binding it.
	startAttempts = 3
	// readyTimeout bounds the wait for a started server to answer.
	readyTimeout = 60 * time.Second
	// pollTimeout bounds each ListTables probe while waiting.
	pollTimeout = time.Second
	// pollInterval is the pause between probes.
	pollInterval = 100 * time.Millisecond
	// outputTail is how much of the process's combined output is kept for
	// error messages.
	outputTail = 8 << 10
)

// Server is a running DynamoDB Local process started by [Start].
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:<Port>.
	Endpoint string
	// Port is the TCP port the server listens on, on 127.0.0.1.
	Port int

	cmd    *exec.Cmd
	out    *tailBuffer
	logger *slog.Logger

	done    chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's result; read after done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start runs DynamoDB Local from dir (as returned by [Fetch]) in memory on a
// free port and waits, up to a minute or until ctx is done, until it answers
// on 127.0.0.1. (DynamoDB Local listens on all interfaces; it has no option
// to restrict that.) ctx only bounds the start: the process runs until
// [Server.Stop] is called, which the caller must do.
func Start(ctx context.Context, dir string, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if !hasJar(dir) {
		return nil, fmt.Errorf("dynamolocal: %s not found in %s (use Fetch)", jarName, dir)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("dynamolocal: java (17 or newer) is needed to run DynamoDB Local: %w", err)
	}

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := start(ctx, java, dir, port, logger)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortInUse) || attempt == startAttempts {
			return nil, err
		}
		logger.WarnContext(ctx, "DynamoDB Local port was taken, retrying with another", "port", port, "attempt", attempt)
	}
}

var errPortInUse = errors.New("port already in use")

func start(ctx context.Context, java, dir string, port int, logger *slog.Logger) (*Server, error) {
	begin := time.Now()
	s := &Server{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		Port:     port,
		out:      &tailBuffer{max: outputTail},
		logger:   logger,
		done:     make(chan struct{}),
	}
	// Not CommandContext: ctx bounds the start, not the server's life.
	s.cmd = exec.Command(java,
		"-Djava.library.path="+filepath.Join(dir, libName),
		"-jar", filepath.Join(dir, jarName),
		"-inMemory",
		"-sharedDb",         // one database whatever the credentials and region
		"-disableTelemetry", // 1.24+ otherwise reports usage to AWS
		"-port", strconv.Itoa(port),
	)
	s.cmd.Dir = dir
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	setParentDeathSignal(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("dynamolocal: starting java: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	logger.DebugContext(ctx, "started DynamoDB Local process", "pid", s.cmd.Process.Pid, "endpoint", s.Endpoint)

	if err := s.waitReady(ctx); err != nil {
		stopErr := s.Stop()
		return nil, errors.Join(fmt.Errorf("dynamolocal: DynamoDB Local on port %d: %w\noutput:\n%s", port, err, s.out.Bytes()), stopErr)
	}
	logger.InfoContext(ctx, "DynamoDB Local is ready", "endpoint", s.Endpoint, "pid", s.cmd.Process.Pid,
		"elapsed", time.Since(begin).Round(time.Millisecond))
	return s, nil
}

// waitReady polls ListTables until the server answers, the process exits, ctx
// is done or readyTimeout passes.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := s.Client(func(o *dynamodb.Options) {
		o.Retryer = aws.NopRetryer{}
	})
	var lastErr error
	for {
		pctx, pcancel := context.WithTimeout(ctx, pollTimeout)
		_, err := client.ListTables(pctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		pcancel()
		// DynamoDB Local does not exit when it cannot bind its port: it
		// logs a BindException and lingers. Whoever holds the port may
		// even be the one answering.
		if s.bindFailed() {
			return errPortInUse
		}
		if err == nil {
			select {
			case <-s.done:
				return fmt.Errorf("%w, although its port answers", s.exitError())
			default:
				return nil
			}
		}
		lastErr = err
		timer := time.NewTimer(pollInterval)
		select {
		case <-s.done:
			timer.Stop()
			return fmt.Errorf("%w before the server answered", s.exitError())
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("server did not answer in time: %w (last error: %v)", ctx.Err(), lastErr)
		case <-timer.C:
		}
	}
}

// exitError describes the process's exit; call it after s.done is closed.
func (s *Server) exitError() error {
	if s.waitErr != nil {
		return fmt.Errorf("java exited: %w", s.waitErr)
	}
	return errors.New("java exited with status 0")
}

func (s *Server) bindFailed() bool {
	out := s.out.Bytes()
	return bytes.Contains(out, []byte("BindException")) || bytes.Contains(out, []byte("Failed to bind"))
}

// Stop kills the DynamoDB Local process and waits for it to exit. It may be
// called more than once; later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.stopErr = fmt.Errorf("dynamolocal: killing DynamoDB Local (pid %d): %w", s.cmd.Process.Pid, err)
		}
		<-s.done
		s.logger.Debug("stopped DynamoDB Local", "endpoint", s.Endpoint)
	})
	return s.stopErr
}

// PID is the java process's id, for whoever measures what it uses.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Output returns the last few kilobytes of the process's combined stdout and
// stderr.
func (s *Server) Output() string { return string(s.out.Bytes()) }

// Client returns a DynamoDB client for this server; see [NewClient].
func (s *Server) Client(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return NewClient(s.Endpoint, optFns...)
}

// NewClient returns a DynamoDB client for a DynamoDB Local at endpoint (such
// as http://127.0.0.1:8000): static dummy credentials, region us-east-1 and
// BaseEndpoint set to endpoint, SDK log messages sent to slog.Default(), and
// no CRC32 response validation. It reads no AWS configuration from the
// environment or from files. optFns are applied last, as in [dynamodb.New];
// whatever HTTPClient they leave (by default the SDK's) is then wrapped so
// that net/http does not see the request body's WriteTo method (see
// [bodyWithoutWriteTo]).
func NewClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
		Logger:       slogLogger{},
		// DynamoDB Local sends no x-amz-crc32 header on 4xx errors, which the SDK checks as CRC 0 and logs as "response did not match expected checksum".
		DisableValidateResponseChecksum: true,
	}
	return dynamodb.New(opts, append(slices.Clip(optFns), func(o *dynamodb.Options) {
		// smithy-go's closed request body returns io.EOF from WriteTo, which makes net/http drop the connection under a response still being read.
		o.HTTPClient = sdkhttp.Wrap(o.HTTPClient)
	})...)
}

// slogLogger passes the SDK's log messages to slog.Default().
type slogLogger struct{}

func (slogLogger) Logf(classification logging.Classification, format string, v ...any) {
	level := slog.LevelInfo
	switch classification {
	case logging.Warn:
		level = slog.LevelWarn
	case logging.Debug:
		level = slog.LevelDebug
	}
	slog.Default().Log(context.Background(), level, fmt.Sprintf(format, v...), "source", "aws-sdk-go-v2")
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dynamolocal: finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("dynamolocal: finding a free port: %w", err)
	}
	return port, nil
}

// tailBuffer is an io.Writer that keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// Bytes returns a copy of the kept bytes.
func (b *tailBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf)
}
