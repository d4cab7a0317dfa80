package cloudsim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// command is one line the parent writes to the client process, as JSON.
type command struct {
	// Op is "open" (URL, First, Tickets), "send" (Socket, Frame) or
	// "close".
	Op      string   `json:"op"`
	URL     string   `json:"url,omitempty"`
	First   int      `json:"first,omitempty"`
	Tickets []string `json:"tickets,omitempty"`
	Socket  int      `json:"socket,omitempty"`
	Frame   string   `json:"frame,omitempty"`
}

// openBatch is the most sockets one open command dials: a ticket lasts a
// minute (auth.TicketTTL), so the parent issues them a batch at a time
// rather than all 10,000 up front; it also bounds a command's line.
const openBatch = 500

// recordBuffer bounds the records waiting for the parent to read them;
// past it the sockets' readers wait, as a slow client would.
const recordBuffer = 4096

// ClientOptions configure ServeClients.
type ClientOptions struct {
	// OpenFiles, if set, is asked to let the process hold n descriptors
	// before it opens sockets that would need them.
	OpenFiles func(n uint64) error
	Logger    *slog.Logger
}

// descriptorsSpare is what a process needs besides its sockets: the
// runtime, the pipes, the HTTP connections of the dialler.
const descriptorsSpare = 256

// ServeClients is the client process: it reads commands from in (JSON
// lines: open these sockets, send this frame on socket i, close them
// all), keeps the sockets and reads them, and writes records to out
// (record.go): every sim message each socket got, and each command's
// answer. It returns when in ends, which it does when the parent closes
// it or dies, having closed every socket.
//
// A program that sets Config.ClientCommand calls it from the mode that
// command runs in (infra/benchcloud -client-process).
func ServeClients(ctx context.Context, in io.Reader, out io.Writer, opt ClientOptions) error {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	w := newRecordWriter(out)
	defer w.stop()
	set := newSocketSet()
	defer set.close()
	dec := json.NewDecoder(bufio.NewReaderSize(in, 64<<10))
	for {
		var c command
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("cloudsim: client process: reading a command: %w", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch c.Op {
		case "open":
			if len(c.Tickets) > openBatch {
				w.put(record{Kind: recError, Text: fmt.Sprintf("%d sockets in one open, past %d", len(c.Tickets), openBatch)})
				continue
			}
			if opt.OpenFiles != nil {
				if err := opt.OpenFiles(uint64(c.First+len(c.Tickets)) + descriptorsSpare); err != nil {
					w.put(record{Kind: recError, Text: err.Error()})
					continue
				}
			}
			if err := set.open(ctx, c.URL, c.First, c.Tickets, w); err != nil {
				w.put(record{Kind: recError, Text: err.Error()})
				continue
			}
			w.put(record{Kind: recOpened, Count: len(c.Tickets)})
		case "send":
			at, err := set.send(ctx, c.Socket, []byte(c.Frame))
			if err != nil {
				w.put(record{Kind: recError, Text: err.Error()})
				continue
			}
			w.put(record{Kind: recSent, At: at.UnixNano()})
		case "close":
			// The readers are done once close returns, so no record of
			// these sockets follows its answer.
			set.close()
			w.put(record{Kind: recClosed})
		default:
			w.put(record{Kind: recError, Text: fmt.Sprintf("unknown command %q", c.Op)})
		}
	}
}

// recordWriter is the client process's single writer of records: the
// sockets' readers put them on a channel of recordBuffer, and it writes
// them out buffered, flushing whenever the channel runs dry.
type recordWriter struct {
	ch   chan []byte
	done chan struct{}
}

func newRecordWriter(out io.Writer) *recordWriter {
	w := &recordWriter{ch: make(chan []byte, recordBuffer), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		bw := bufio.NewWriterSize(out, 64<<10)
		var err error
		for b := range w.ch {
			if err != nil {
				continue // the parent is gone; drain until stop
			}
			if _, err = bw.Write(b); err == nil && len(w.ch) == 0 {
				err = bw.Flush()
			}
		}
		if err == nil {
			_ = bw.Flush()
		}
	}()
	return w
}

// maxText bounds a problem's or error's text, so that every record fits
// the parent's line buffer.
const maxText = 4 << 10

func (w *recordWriter) put(r record) {
	if len(r.Text) > maxText {
		r.Text = r.Text[:maxText]
	}
	w.ch <- appendRecord(make([]byte, 0, 48), r)
}

func (w *recordWriter) stop() {
	close(w.ch)
	<-w.done
}

func (w *recordWriter) delivered(i, k int, at time.Time) {
	w.put(record{Kind: recDelivered, Socket: i, Message: k, At: at.UnixNano()})
}

func (w *recordWriter) outOfOrder(i int) { w.put(record{Kind: recReordered, Socket: i}) }

func (w *recordWriter) problem(what string) { w.put(record{Kind: recProblem, Text: what}) }

// clientProcess keeps the sockets in a child process, so that this one
// holds only their server ends: a room of 10,000 in one process would be
// 20,000 descriptors, this machine's hard limit.
type clientProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	logger *slog.Logger
	// mu makes commands one at a time, so each answer is the last
	// command's.
	mu      sync.Mutex
	answers chan record // one at a time, by mu
	// tally is where the current room's records go.
	tally atomic.Pointer[tally]
	// dead closes when the process's output ends; err says why.
	dead chan struct{}
	err  error
	// broken is set, under mu, when a command was given up on: its
	// answer may yet come, and would be taken for the next one's.
	broken bool
}

var _ clients = (*clientProcess)(nil)

func (p *clientProcess) pid() int { return p.cmd.Process.Pid }

// startClientProcess runs argv, which must call ServeClients.
func startClientProcess(argv []string, logger *slog.Logger) (*clientProcess, error) {
	if len(argv) == 0 {
		return nil, errors.New("cloudsim: no client command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("cloudsim: client process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("cloudsim: client process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cloudsim: client process: %w", err)
	}
	p := &clientProcess{cmd: cmd, stdin: stdin, logger: logger, answers: make(chan record, 1), dead: make(chan struct{})}
	go p.read(stdout)
	return p, nil
}

// read dispatches the process's records: a socket's to the current
// tally, an answer to the command waiting for it. It reads to the end
// whatever comes, so that the process never waits to write.
func (p *clientProcess) read(stdout io.Reader) {
	defer close(p.dead)
	br := bufio.NewReaderSize(stdout, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// No record is this long: skip the rest of the line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = []byte("?") // counted below as not a record
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("cloudsim: the client process ended")
			} else {
				err = fmt.Errorf("cloudsim: reading the client process: %w", err)
			}
			p.err = err
			return
		}
		r, err := parseRecord(line)
		if err != nil {
			p.logger.Error("the client process wrote what is not a record", "error", err.Error())
			if t := p.tally.Load(); t != nil {
				t.problem("the client process wrote what is not a record")
			}
			continue
		}
		t := p.tally.Load()
		switch r.Kind {
		case recDelivered:
			switch {
			case t == nil:
			case r.Socket < 0 || r.Socket >= t.sockets:
				t.problem("a delivery to a socket this room does not have")
			default:
				t.delivered(r.Socket, r.Message, time.Unix(0, r.At))
			}
		case recReordered:
			if t != nil {
				t.outOfOrder(r.Socket)
			}
		case recProblem:
			if t != nil {
				t.problem(r.Text)
			}
		default:
			p.answers <- r
		}
	}
}

// do writes c and waits for its answer.
func (p *clientProcess) do(ctx context.Context, c command) (record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken {
		return record{}, errors.New("cloudsim: the client process is out of step: a command was given up on")
	}
	line, err := json.Marshal(c)
	if err != nil {
		return record{}, fmt.Errorf("cloudsim: client command: %w", err)
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return record{}, fmt.Errorf("cloudsim: writing to the client process: %w", err)
	}
	select {
	case r := <-p.answers:
		if r.Kind == recError {
			return r, fmt.Errorf("cloudsim: client process: %s: %s", c.Op, r.Text)
		}
		return r, nil
	case <-p.dead:
		return record{}, p.err
	case <-ctx.Done():
		p.broken = true
		return record{}, ctx.Err()
	}
}

func (p *clientProcess) open(ctx context.Context, url string, first int, tickets []string, t *tally) error {
	p.tally.Store(t)
	for len(tickets) > 0 {
		n := min(len(tickets), openBatch)
		r, err := p.do(ctx, command{Op: "open", URL: url, First: first, Tickets: tickets[:n]})
		if err != nil {
			return err
		}
		if r.Kind != recOpened || r.Count != n {
			return fmt.Errorf("cloudsim: client process answered open with %q", appendRecord(nil, r))
		}
		first, tickets = first+n, tickets[n:]
	}
	return nil
}

func (p *clientProcess) send(ctx context.Context, i int, frame []byte) (time.Time, error) {
	r, err := p.do(ctx, command{Op: "send", Socket: i, Frame: string(frame)})
	if err != nil {
		return time.Time{}, err
	}
	if r.Kind != recSent {
		return time.Time{}, fmt.Errorf("cloudsim: client process answered send with %q", appendRecord(nil, r))
	}
	return time.Unix(0, r.At), nil
}

func (p *clientProcess) close(ctx context.Context) error {
	r, err := p.do(ctx, command{Op: "close"})
	if err != nil {
		return err
	}
	if r.Kind != recClosed {
		return fmt.Errorf("cloudsim: client process answered close with %q", appendRecord(nil, r))
	}
	p.tally.Store(nil)
	return nil
}

// stopWait is how long the process has, once its stdin is closed, to
// close its sockets and end before it is killed.
const stopWait = 30 * time.Second

// stop closes the process's stdin, which ends it, and reaps it.
func (p *clientProcess) stop() error {
	_ = p.stdin.Close()
	exited := make(chan error, 1)
	go func() {
		<-p.dead // Wait must not come before the last read of stdout
		exited <- p.cmd.Wait()
	}()
	var err error
	select {
	case err = <-exited:
	case <-time.After(stopWait):
		p.logger.Warn("the client process did not end; killing it", "pid", p.cmd.Process.Pid)
		_ = p.cmd.Process.Kill()
		err = <-exited
	}
	if err != nil {
		return fmt.Errorf("cloudsim: client process: %w", err)
	}
	return nil
}
