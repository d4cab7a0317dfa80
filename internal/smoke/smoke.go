// Package smoke checks a running chat end to end, as two people would use
// it: sign up, make a room, chat over the socket, read the history, and
// then take away what it made. It is what to run straight after a deploy
// (make smoke URL=...), and make test runs it against the emulator.
package smoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chatroom/chat/internal/chatclient"
)

// Config says where the chat is and how long each step may take.
type Config struct {
	// URL is the web client's address: the chat's two APIs are read from
	// its config.json, as the browser reads them.
	URL string
	// Prefix starts the run's usernames, so runs do not collide (3 to 32
	// characters of [a-z0-9_] in all, with the suffixes _a and _b).
	Prefix string
	HTTP   *http.Client
	// StepTimeout bounds each step.
	StepTimeout time.Duration
}

// Step is one check and how it went.
type Step struct {
	Name string
	Took time.Duration
	Err  error
}

// Report is a whole run: every step taken, the failed one last.
type Report struct {
	Steps []Step
	Took  time.Duration
}

// Err is the first failed step's error, nil for a pass.
func (r Report) Err() error {
	for _, s := range r.Steps {
		if s.Err != nil {
			return fmt.Errorf("%s: %w", s.Name, s.Err)
		}
	}
	return nil
}

// Line says pass or fail in one line.
func (r Report) Line() string {
	if err := r.Err(); err != nil {
		return fmt.Sprintf("smoke: FAIL after %d steps in %s: %v", len(r.Steps), r.Took.Round(time.Millisecond), err)
	}
	return fmt.Sprintf("smoke: pass, %d steps in %s", len(r.Steps), r.Took.Round(time.Millisecond))
}

// run holds a run's state between steps.
type run struct {
	cfg        Config
	ep         chatclient.Endpoints
	alice, bob *chatclient.Client
	aliceWS    *chatclient.Conn
	bobWS      *chatclient.Conn
	roomID     string
	sentSeq    int64
}

const text = "smoke test: hello from alice"

// Run takes the steps in order and stops at the first that fails; what
// it made is taken away whether or not the checks pass.
func Run(ctx context.Context, cfg Config) Report {
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = 15 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: cfg.StepTimeout}
	}
	r := &run{cfg: cfg}
	start := time.Now()
	var rep Report
	step := func(name string, fn func(ctx context.Context) error) bool {
		sctx, cancel := context.WithTimeout(ctx, cfg.StepTimeout)
		defer cancel()
		t := time.Now()
		err := fn(sctx)
		rep.Steps = append(rep.Steps, Step{Name: name, Took: time.Since(t), Err: err})
		return err == nil
	}
	_ = step("read config.json", r.endpoints) &&
		step("sign up two people", r.signUp) &&
		step("create a room with both", r.createRoom) &&
		step("open both sockets and join", r.join) &&
		step("send a message and receive it on both sockets", r.chat) &&
		step("read the history over HTTP", r.history)
	if r.roomID != "" {
		step("delete the room", r.deleteRoom)
	}
	if r.alice != nil {
		step("log out", r.logOut)
	}
	rep.Took = time.Since(start)
	return rep
}

func (r *run) endpoints(ctx context.Context) error {
	ep, err := chatclient.FetchEndpoints(ctx, r.cfg.HTTP, r.cfg.URL)
	r.ep = ep
	return err
}

func (r *run) signUp(ctx context.Context) error {
	const password = "smoke test password"
	var err error
	if r.alice, err = chatclient.SignUpAt(ctx, r.cfg.HTTP, r.ep, r.cfg.Prefix+"_a", password); err != nil {
		return err
	}
	r.bob, err = chatclient.SignUpAt(ctx, r.cfg.HTTP, r.ep, r.cfg.Prefix+"_b", password)
	return err
}

func (r *run) createRoom(ctx context.Context) error {
	room, err := r.alice.CreateRoom(ctx, "smoke test", []string{r.bob.Username})
	if err != nil {
		return err
	}
	r.roomID = room.RoomID
	return nil
}

func (r *run) join(ctx context.Context) error {
	var err error
	if r.aliceWS, err = r.alice.Dial(ctx); err != nil {
		return err
	}
	if r.bobWS, err = r.bob.Dial(ctx); err != nil {
		return err
	}
	for _, c := range []*chatclient.Conn{r.aliceWS, r.bobWS} {
		if err := c.Send(ctx, chatclient.JoinFrame(r.roomID, -1)); err != nil {
			return err
		}
		if _, err := next(ctx, c, "history", nil); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) chat(ctx context.Context) error {
	cmid := "smoke-" + r.cfg.Prefix
	if err := r.aliceWS.Send(ctx, chatclient.SendFrame(r.roomID, cmid, text)); err != nil {
		return err
	}
	for who, c := range map[string]*chatclient.Conn{"alice": r.aliceWS, "bob": r.bobWS} {
		f, err := next(ctx, c, "receive_message", func(f chatclient.Frame) bool { return f.ClientMsgID == cmid })
		if err != nil {
			return fmt.Errorf("%s's socket: %w", who, err)
		}
		if f.Text != text || f.Username != r.alice.Username || f.RoomID != r.roomID {
			return fmt.Errorf("%s's socket got %+v, not alice's message", who, f)
		}
		r.sentSeq = f.Seq
	}
	return nil
}

func (r *run) history(ctx context.Context) error {
	events, err := r.bob.EventsAfter(ctx, r.roomID, 0)
	if err != nil {
		return err
	}
	for _, e := range events {
		if e.Seq == r.sentSeq {
			if e.Type != "message_sent" || e.Text != text {
				return fmt.Errorf("event %d is %s %q, not the message", e.Seq, e.Type, e.Text)
			}
			return nil
		}
	}
	return fmt.Errorf("the history has no event %d (read %d events)", r.sentSeq, len(events))
}

func (r *run) deleteRoom(ctx context.Context) error {
	if err := r.alice.DeleteRoom(ctx, r.roomID); err != nil {
		return err
	}
	if r.bobWS == nil {
		return nil
	}
	_, err := next(ctx, r.bobWS, "room_deleted", nil)
	return err
}

// logOut ends both sessions, which closes their sockets; the accounts
// stay, as the API has no way to remove one.
func (r *run) logOut(ctx context.Context) error {
	var errs []error
	for _, c := range []*chatclient.Client{r.alice, r.bob} {
		if c != nil {
			errs = append(errs, c.LogOut(ctx))
		}
	}
	for _, c := range []*chatclient.Conn{r.aliceWS, r.bobWS} {
		if c != nil {
			c.CloseNow()
		}
	}
	return errors.Join(errs...)
}

// next reads frames until one of type typ that match accepts (nil: any),
// failing on an error frame.
func next(ctx context.Context, c *chatclient.Conn, typ string, match func(chatclient.Frame) bool) (chatclient.Frame, error) {
	for {
		raw, err := c.Read(ctx)
		if err != nil {
			return chatclient.Frame{}, fmt.Errorf("waiting for %s: %w", typ, err)
		}
		f, err := chatclient.ParseFrame(raw)
		if err != nil {
			return f, err
		}
		switch {
		case f.Type == "error":
			return f, fmt.Errorf("waiting for %s: error %s: %s", typ, f.Code, strings.TrimSpace(f.Message))
		case f.Type == typ && (match == nil || match(f)):
			return f, nil
		}
	}
}
