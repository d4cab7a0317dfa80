package faults_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/chatroom/chat/internal/testkit"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/app"
	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/faults"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/storetest"
	"github.com/chatroom/chat/internal/wsapi"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// each runs test against every store adapter, in parallel.
func each(t *testing.T, test func(t *testing.T, a storetest.Adapter)) {
	t.Parallel()
	for _, a := range storetest.Adapters() {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			test(t, a)
		})
	}
}

// env is one chat wired by app.NewLocal around a faulty store and a faulty
// pusher in front of a recorder.
type env struct {
	t      *testing.T
	store  *faults.Store
	pusher *faults.Pusher
	rec    *recorder
	app    *app.App
	// sessions are the users' sessions by name.
	sessions map[string]auth.Session
}

func newEnv(t *testing.T, s store.Store, seed uint64) *env {
	e := &env{t: t, store: faults.NewStore(s, seed), rec: newRecorder(), sessions: map[string]auth.Session{}}
	e.pusher = faults.NewPusher(e.rec, seed+1)
	e.pusher.Wait = 5 * time.Millisecond
	// 60ms a reading: events get distinct times, and a client sending one
	// message after another stays under the send rate limit.
	clk := testkit.NewClock(time.Now(), 60*time.Millisecond)
	cfg := auth.Config{Params: authtest.Params, SessionTTL: 10000 * time.Hour, MaxFailedLogins: 10, MaxFailedLoginsPerAddress: 30, MaxTicketsPerMinute: 60, Now: clk.Now}
	a, err := app.NewLocal(e.store, e.pusher, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e.app = a
	return e
}

// recorder is the push port in memory. Like the management API, it
// delivers nothing once the caller's context is done.
type recorder struct {
	mu     sync.Mutex
	frames map[string][][]byte
}

func newRecorder() *recorder { return &recorder{frames: map[string][][]byte{}} }

func (r *recorder) Post(ctx context.Context, ids []string, frame []byte) push.Result {
	var res push.Result
	if err := ctx.Err(); err != nil {
		res.Failed = map[string]error{}
		for _, id := range ids {
			res.Failed[id] = err
		}
		return res
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.frames[id] = append(r.frames[id], bytes.Clone(frame))
	}
	return res
}

func (r *recorder) Disconnect(context.Context, string) error { return nil }

func (r *recorder) take(id string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.frames[id]
	delete(r.frames, id)
	return out
}

// frame is a server frame as a client decodes it.
type frame struct {
	Type        string          `json:"type"`
	RoomID      string          `json:"room_id"`
	Seq         int64           `json:"seq"`
	Username    string          `json:"username"`
	ClientMsgID string          `json:"client_msg_id"`
	Events      json.RawMessage `json:"events"`
	HasMore     bool            `json:"has_more"`
	LastSeq     int64           `json:"last_seq"`
	Code        string          `json:"code"`
}

func (e *env) frames(connID string) []frame {
	e.t.Helper()
	var out []frame
	for _, raw := range e.rec.take(connID) {
		var f frame
		if err := json.Unmarshal(raw, &f); err != nil {
			e.t.Fatalf("frame %s: %v", raw, err)
		}
		out = append(out, f)
	}
	return out
}

func newConnectionID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func wsEvent(route, connID, body string) wsapi.Event {
	var ev wsapi.Event
	ev.RequestContext.RouteKey = route
	ev.RequestContext.EventType = "MESSAGE"
	ev.RequestContext.ConnectionID = connID
	ev.RequestContext.RequestID = "req-" + connID
	ev.Body = body
	return ev
}

// handle runs the route's handler with ctx; the handlers never return an
// error, which API Gateway would turn into a 500.
func (e *env) handle(ctx context.Context, ev wsapi.Event) wsapi.Response {
	e.t.Helper()
	h := map[string]func(context.Context, wsapi.Event) (wsapi.Response, error){
		"$connect":     e.app.Sockets.Connect,
		"join_room":    e.app.Sockets.JoinRoom,
		"send_message": e.app.Sockets.SendMessage,
	}[ev.RequestContext.RouteKey]
	resp, err := h(ctx, ev)
	if err != nil {
		e.t.Fatalf("%s returned an error: %v", ev.RequestContext.RouteKey, err)
	}
	return resp
}

func (e *env) user(name string) auth.Session {
	e.t.Helper()
	s, err := e.app.Auth.Signup(e.t.Context(), name, "correct horse battery")
	if err != nil {
		e.t.Fatal(err)
	}
	e.sessions[name] = s
	return s
}

// connect opens a socket, retrying a refused $connect as a browser would.
func (e *env) connect(s auth.Session) string {
	e.t.Helper()
	id, err := e.app.Auth.Authenticate(e.t.Context(), s.Token)
	if err != nil {
		e.t.Fatal(err)
	}
	for range 50 {
		// A ticket request can fail under the faults too: ask again.
		ticket, err := e.app.Auth.IssueTicket(e.t.Context(), id)
		if err != nil {
			continue
		}
		id := newConnectionID()
		ev := wsEvent("$connect", id, "")
		ev.RequestContext.EventType = "CONNECT"
		ev.QueryStringParameters = map[string]string{"ticket": ticket.Value}
		if e.handle(e.t.Context(), ev).StatusCode == 200 {
			return id
		}
	}
	e.t.Fatal("$connect refused 50 times")
	return ""
}

func sendBody(roomID, cmid string) string {
	return fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":%q,"text":"message %s"}`, roomID, cmid, cmid)
}

func joinBody(roomID string, after int64) string {
	if after < 0 {
		return fmt.Sprintf(`{"action":"join_room","room_id":%q}`, roomID)
	}
	return fmt.Sprintf(`{"action":"join_room","room_id":%q,"after_seq":%d}`, roomID, after)
}

// send sends one message from a connection and returns its frames.
func (e *env) send(ctx context.Context, connID, roomID, cmid string) []frame {
	e.t.Helper()
	e.handle(ctx, wsEvent("send_message", connID, sendBody(roomID, cmid)))
	return e.frames(connID)
}

// join joins a connection to a room (after < 0: without after_seq) and
// returns its history frame, or false when it got none.
func (e *env) join(connID, roomID string, after int64) (frame, bool) {
	e.t.Helper()
	e.handle(e.t.Context(), wsEvent("join_room", connID, joinBody(roomID, after)))
	for _, f := range e.frames(connID) {
		if f.Type == "history" {
			return f, true
		}
	}
	return frame{}, false
}

// mustJoin joins, retrying until the history frame comes.
func (e *env) mustJoin(connID, roomID string, after int64) frame {
	e.t.Helper()
	for range 50 {
		if f, ok := e.join(connID, roomID, after); ok {
			return f
		}
	}
	e.t.Fatalf("join_room of %s failed 50 times", connID)
	return frame{}
}

// resume joins with after_seq and pages with further joins until the
// history has no more, returning every event it carried.
func (e *env) resume(connID, roomID string, after int64) []chat.Event {
	e.t.Helper()
	var out []chat.Event
	for {
		f := e.mustJoin(connID, roomID, after)
		var evs []chat.Event
		if err := json.Unmarshal(f.Events, &evs); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, evs...)
		if !f.HasMore {
			return out
		}
		after = evs[len(evs)-1].Seq
	}
}

// stream reads a room's whole stream past the faults.
func (e *env) stream(roomID string) []chat.Event {
	e.t.Helper()
	var out []chat.Event
	for {
		page, err := e.store.Inner().ReadForward(e.t.Context(), roomID, int64(len(out)), store.MaxPageSize)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, page.Events...)
		if !page.HasMore {
			return out
		}
	}
}

// checkStream wants seqs 1, 2, 3... and each client_msg_id of a sender
// stored once; it returns the messages by sender and client_msg_id.
func (e *env) checkStream(roomID string) map[string]chat.Event {
	e.t.Helper()
	msgs := map[string]chat.Event{}
	for i, ev := range e.stream(roomID) {
		if ev.Seq != int64(i+1) {
			e.t.Fatalf("event %d has seq %d: the stream is not dense", i, ev.Seq)
		}
		m, isMsg := ev.Data.(chat.MessageSent)
		if !isMsg {
			continue
		}
		k := ev.Username + "/" + m.ClientMsgID
		if prev, dup := msgs[k]; dup {
			e.t.Errorf("%s stored twice: seqs %d and %d", k, prev.Seq, ev.Seq)
		}
		msgs[k] = ev
	}
	return msgs
}

func (e *env) connectionOpen(connID string) bool {
	_, err := e.store.Inner().Connection(e.t.Context(), connID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.t.Fatal(err)
	}
	return err == nil && !e.pusher.Gone(connID)
}
