package wsapi_test

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
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/app"
	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/storetest"
	"github.com/chatroom/chat/internal/wsapi"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// adapters are both stores, fresh for each test.
var adapters = storetest.Adapters()

// each runs test against every store adapter, in parallel.
func each(t *testing.T, test func(t *testing.T, e *env)) {
	t.Parallel()
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			test(t, newEnv(t, a.Open(t)))
		})
	}
}

// cheap keeps password hashing out of the tests' time.
var cheap = authtest.Params

const sessionTTL = time.Hour

// env is one chat wired the way a function wires it (app.NewLocal), with a
// fake clock, a recording pusher and a store that can be told to fail.
type env struct {
	t      *testing.T
	store  *faultyStore
	app    *app.App
	ws     *wsapi.Handlers
	pusher *recorder
	clock  *clock
	logs   *logBuffer
	// userFrames keeps room_summary and room_removed in what frames
	// returns.
	userFrames bool
}

func newEnv(t *testing.T, s store.Store, opts ...wsapi.Option) *env {
	e := &env{
		t:      t,
		store:  &faultyStore{Store: s},
		pusher: newRecorder(),
		// From the real time: the stores judge connections' expiry by it.
		clock: testkit.NewClock(time.Now().UTC().Truncate(time.Second), time.Millisecond),
		logs:  &logBuffer{},
	}
	cfg := auth.Config{Params: cheap, SessionTTL: sessionTTL, MaxFailedLogins: 10, MaxFailedLoginsPerAddress: 30, MaxTicketsPerMinute: 60, Now: e.clock.Now}
	a, err := app.NewLocal(e.store, e.pusher, cfg, slog.New(slog.NewJSONHandler(e.logs, nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	e.app, e.ws = a, a.Sockets
	return e
}

// faultyStore is the real store, but a named method can be made to fail
// with an internal error.
type faultyStore struct {
	store.Store
	mu    sync.Mutex
	fails map[string]error
}

func (f *faultyStore) failOn(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails == nil {
		f.fails = map[string]error{}
	}
	f.fails[method] = err
}

func (f *faultyStore) fault(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fails[method]
}

func (f *faultyStore) Append(ctx context.Context, req store.AppendRequest) (store.AppendResult, error) {
	if err := f.fault("Append"); err != nil {
		return store.AppendResult{}, err
	}
	return f.Store.Append(ctx, req)
}

func (f *faultyStore) PutConnection(ctx context.Context, c store.Connection, maxPerUser int) error {
	if err := f.fault("PutConnection"); err != nil {
		return err
	}
	return f.Store.PutConnection(ctx, c, maxPerUser)
}

func (f *faultyStore) ConnectionRooms(ctx context.Context, connectionID string) ([]string, error) {
	if err := f.fault("ConnectionRooms"); err != nil {
		return nil, err
	}
	return f.Store.ConnectionRooms(ctx, connectionID)
}

// recorder is the push port in memory: it records, per connection, the
// frames posted to it in order, and answers Gone for connections marked so.
type recorder struct {
	mu           sync.Mutex
	frames       map[string][][]byte
	gone         map[string]bool
	disconnected []string
}

var _ push.Pusher = (*recorder)(nil)

func newRecorder() *recorder {
	return &recorder{frames: map[string][][]byte{}, gone: map[string]bool{}}
}

func (r *recorder) Post(_ context.Context, ids []string, frame []byte) push.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res push.Result
	for _, id := range ids {
		if r.gone[id] {
			res.Gone = append(res.Gone, id)
			continue
		}
		r.frames[id] = append(r.frames[id], bytes.Clone(frame))
	}
	return res
}

func (r *recorder) Disconnect(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disconnected = append(r.disconnected, id)
	if r.gone[id] {
		return push.ErrGone
	}
	r.gone[id] = true // API Gateway closes it; posts to it are 410 from now on
	return nil
}

func (r *recorder) markGone(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gone[id] = true
}

// take returns the frames posted to a connection since the last take.
func (r *recorder) take(id string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.frames[id]
	delete(r.frames, id)
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.frames)
}

// newConnectionID makes an id the way API Gateway's look: 16 characters
// of base64, "=" at the end, "+" and "/" now and then.
func newConnectionID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// event loads functions/<function>/testdata/<file> and fills in its
// placeholders: "{{connection_id}}" and the like, from vars given as
// name, value pairs.
func (e *env) event(path string, vars ...string) wsapi.Event {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "functions", filepath.Dir(path), "testdata", filepath.Base(path)))
	if err != nil {
		e.t.Fatal(err)
	}
	text := string(raw)
	for i := 0; i+1 < len(vars); i += 2 {
		text = strings.ReplaceAll(text, "{{"+vars[i]+"}}", vars[i+1])
	}
	if i := strings.Index(text, "{{"); i >= 0 {
		e.t.Fatalf("%s: placeholder %s left unfilled", path, text[i:i+strings.Index(text[i:], "}}")+2])
	}
	var ev wsapi.Event
	if err := json.Unmarshal([]byte(text), &ev); err != nil {
		e.t.Fatalf("%s: %v", path, err)
	}
	return ev
}

// call invokes the handler of the event's route, as API Gateway would.
func (e *env) call(ev wsapi.Event) wsapi.Response {
	e.t.Helper()
	handlers := map[string]func(context.Context, wsapi.Event) (wsapi.Response, error){
		"$connect":       e.ws.Connect,
		"$disconnect":    e.ws.Disconnect,
		"join_room":      e.ws.JoinRoom,
		"send_message":   e.ws.Messages,
		"edit_message":   e.ws.Messages,
		"delete_message": e.ws.Messages,
		"leave_room":     e.ws.LeaveRoom,
		"$default":       e.ws.Default,
	}
	h, ok := handlers[ev.RequestContext.RouteKey]
	if !ok {
		e.t.Fatalf("no handler for route %q", ev.RequestContext.RouteKey)
	}
	resp, err := h(e.t.Context(), ev)
	if err != nil {
		e.t.Fatalf("%s returned an error, which API Gateway would turn into a 500: %v", ev.RequestContext.RouteKey, err)
	}
	return resp
}

// do sends the event in path from a connection and wants a 200.
func (e *env) do(connID, path string, vars ...string) {
	e.t.Helper()
	resp := e.call(e.event(path, append([]string{"connection_id", connID}, vars...)...))
	if resp.StatusCode != 200 {
		e.t.Fatalf("%s from %s: status %d, want 200", path, connID, resp.StatusCode)
	}
}

// frame sends a raw frame to a route from a connection.
func (e *env) frame(connID, path, body string) {
	e.t.Helper()
	ev := e.event(path, "connection_id", connID, "room_id", "unused", "client_msg_id", "unused", "message_id", "unused", "after_seq", "0")
	ev.Body = body
	if resp := e.call(ev); resp.StatusCode != 200 {
		e.t.Fatalf("%s from %s: status %d, want 200", body, connID, resp.StatusCode)
	}
}

// user signs someone up.
func (e *env) user(name string) auth.Session {
	e.t.Helper()
	s, err := e.app.Auth.Signup(e.t.Context(), name, "correct horse battery")
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// connect opens a socket with a ticket of the session.
func (e *env) connect(s auth.Session) string {
	e.t.Helper()
	id := newConnectionID()
	resp := e.call(e.event("connect/connect.json", "ticket", e.ticket(s), "connection_id", id))
	if resp.StatusCode != 200 {
		e.t.Fatalf("$connect with a valid ticket: status %d", resp.StatusCode)
	}
	return id
}

// ticket issues a socket ticket to the session.
func (e *env) ticket(s auth.Session) string {
	e.t.Helper()
	id, err := e.app.Auth.Authenticate(e.t.Context(), s.Token)
	if err != nil {
		e.t.Fatal(err)
	}
	tk, err := e.app.Auth.IssueTicket(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tk.Value
}

// room creates a room.
func (e *env) room(owner, name string, members ...string) string {
	e.t.Helper()
	r, err := e.app.Rooms.Create(e.t.Context(), owner, name, members)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.ID
}

func (e *env) join(connID, roomID string) {
	e.t.Helper()
	e.do(connID, "join_room/join.json", "room_id", roomID)
}

func (e *env) send(connID, roomID, clientMsgID string) {
	e.t.Helper()
	e.do(connID, "send_message/send.json", "room_id", roomID, "client_msg_id", clientMsgID)
}

// stream reads a room's whole stream.
func (e *env) stream(roomID string) []chat.Event {
	e.t.Helper()
	var out []chat.Event
	for {
		page, err := e.store.ReadForward(e.t.Context(), roomID, int64(len(out)), store.MaxPageSize)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, page.Events...)
		if !page.HasMore {
			return out
		}
	}
}

// connections lists the connections joined to a room, sorted.
func (e *env) connections(roomID string) []string {
	e.t.Helper()
	present, err := e.store.RoomConnections(e.t.Context(), roomID)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, p := range present {
		ids = append(ids, p.ConnectionID)
	}
	slices.Sort(ids)
	return ids
}

func (e *env) roomsOf(connID string) []string {
	e.t.Helper()
	rooms, err := e.store.ConnectionRooms(e.t.Context(), connID)
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Sort(rooms)
	return rooms
}

// connectionGone checks that nothing is left of a connection: neither its
// item nor its presence anywhere.
func (e *env) connectionGone(connID string, rooms ...string) {
	e.t.Helper()
	if _, err := e.store.Connection(e.t.Context(), connID); !errors.Is(err, store.ErrNotFound) {
		e.t.Errorf("connection %s: %v, want store.ErrNotFound", connID, err)
	}
	if r := e.roomsOf(connID); len(r) != 0 {
		e.t.Errorf("connection %s still in rooms %q", connID, r)
	}
	for _, roomID := range rooms {
		if slices.Contains(e.connections(roomID), connID) {
			e.t.Errorf("connection %s still present in room %s", connID, roomID)
		}
	}
}

// frame is a server frame as a client decodes it.
type frame struct {
	raw    map[string]json.RawMessage
	Type   string `json:"type"`
	RoomID string `json:"room_id"`
	Seq    int64  `json:"seq"`
	// join_room_announcement, leave_room_announcement, receive_message, typing
	Username    string   `json:"username"`
	At          string   `json:"at"`
	MessageID   string   `json:"message_id"`
	ClientMsgID string   `json:"client_msg_id"`
	Text        string   `json:"text"`
	Mentions    []string `json:"mentions"`
	// room_summary
	Room json.RawMessage `json:"room"`
	// history
	Events  json.RawMessage `json:"events"`
	HasMore bool            `json:"has_more"`
	LastSeq int64           `json:"last_seq"`
	Online  []string        `json:"online"`
	// room_updated
	Name    string        `json:"name"`
	Members []chat.Member `json:"members"`
	// error
	Code    string `json:"code"`
	Message string `json:"message"`
	Action  string `json:"action"`
}

// fields are the fields of each frame type in the contract's table; error
// frames may also carry those in optional.
var fields = map[string][]string{
	"join_room_announcement":  {"type", "room_id", "seq", "username", "at"},
	"receive_message":         {"type", "room_id", "seq", "message_id", "client_msg_id", "username", "text", "mentions", "at"},
	"message_edited":          {"type", "room_id", "seq", "username", "at", "message_id", "text", "mentions"},
	"message_deleted":         {"type", "room_id", "seq", "username", "at", "message_id"},
	"room_summary":            {"type", "room"},
	"room_removed":            {"type", "room_id"},
	"leave_room_announcement": {"type", "room_id", "seq", "username", "at"},
	"history":                 {"type", "room_id", "events", "has_more", "last_seq", "online"},
	"room_updated":            {"type", "room_id", "seq", "name", "members"},
	"removed_from_room":       {"type", "room_id"},
	"room_deleted":            {"type", "room_id"},
	"typing":                  {"type", "room_id", "username"},
	"error":                   {"type", "code", "message"},
}

var optional = map[string][]string{"error": {"action", "room_id", "client_msg_id"}}

// userFrameTypes are the frames that keep a room list current; they reach
// every socket of a person, joined to the room or not.
var userFrameTypes = []string{"room_summary", "room_removed"}

// frames decodes what a connection received since the last call, checking
// each frame's fields against the contract. User frames are checked and
// then left out unless the test asked for them (env.userFrames): the
// tests of room frames count those alone, and the user frames have tests
// of their own.
func (e *env) frames(connID string) []frame {
	e.t.Helper()
	var out []frame
	for _, raw := range e.pusher.take(connID) {
		var f frame
		if err := json.Unmarshal(raw, &f); err != nil {
			e.t.Fatalf("frame %s to %s: %v", raw, connID, err)
		}
		if err := json.Unmarshal(raw, &f.raw); err != nil {
			e.t.Fatalf("frame %s to %s is not an object: %v", raw, connID, err)
		}
		want, ok := fields[f.Type]
		if !ok {
			e.t.Errorf("frame %s to %s: unknown type %q", raw, connID, f.Type)
		}
		got := slices.Sorted(maps.Keys(f.raw))
		allowed := append(slices.Clone(want), optional[f.Type]...)
		for _, k := range want {
			if !slices.Contains(got, k) {
				e.t.Errorf("frame %s to %s lacks %q", raw, connID, k)
			}
		}
		for _, k := range got {
			if !slices.Contains(allowed, k) {
				e.t.Errorf("frame %s to %s has %q, not in the contract's %s frame", raw, connID, k, f.Type)
			}
		}
		if !e.userFrames && slices.Contains(userFrameTypes, f.Type) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// one wants exactly one frame of the type.
func (e *env) one(connID, typ string) frame {
	e.t.Helper()
	got := e.frames(connID)
	if len(got) != 1 || got[0].Type != typ {
		e.t.Fatalf("%s got %s, want one %s frame", connID, describe(got), typ)
	}
	return got[0]
}

// none wants no frame.
func (e *env) none(connIDs ...string) {
	e.t.Helper()
	for _, id := range connIDs {
		if got := e.frames(id); len(got) != 0 {
			e.t.Errorf("%s got %s, want nothing", id, describe(got))
		}
	}
}

func describe(fs []frame) string {
	var parts []string
	for _, f := range fs {
		b, _ := json.Marshal(f.raw)
		parts = append(parts, string(b))
	}
	return fmt.Sprintf("%d frames [%s]", len(fs), strings.Join(parts, ", "))
}

// historyEvents decodes a history frame's events.
func historyEvents(t *testing.T, f frame) []chat.Event {
	t.Helper()
	var evs []chat.Event
	if err := json.Unmarshal(f.Events, &evs); err != nil {
		t.Fatalf("history events %s: %v", f.Events, err)
	}
	return evs
}

// seqs lists the events' seqs.
func seqs(evs []chat.Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// eventsJSON is how the contract writes events, for comparing a history
// frame's events with the stored ones.
func eventsJSON(t *testing.T, evs []chat.Event) string {
	t.Helper()
	b, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// at is how the contract writes an event's time.
func at(ev chat.Event) string { return ev.At.UTC().Format(chat.TimeFormat) }

// last returns the last event of a room's stream.
func (e *env) last(roomID string) chat.Event {
	e.t.Helper()
	s := e.stream(roomID)
	if len(s) == 0 {
		e.t.Fatalf("room %s has no events", roomID)
	}
	return s[len(s)-1]
}

// bulk appends n messages from sender straight to the store, twenty to
// an append: a busy room without the cost of n requests.
func (e *env) bulk(roomID, sender string, n int) {
	e.t.Helper()
	ctx := e.t.Context()
	for done := 0; done < n; {
		r, err := e.store.Room(ctx, roomID)
		if err != nil {
			e.t.Fatal(err)
		}
		version := r.Version
		var evs []chat.Event
		for ; done < n && len(evs) < 20; done++ {
			ev, err := r.SendMessage(sender, fmt.Sprintf("bulk-message-%d", done), fmt.Sprintf("bulk-%d", done), fmt.Sprintf("message %d", done), e.clock.Now())
			if err != nil {
				e.t.Fatal(err)
			}
			if err := r.Apply(ev[0]); err != nil {
				e.t.Fatal(err)
			}
			evs = append(evs, ev...)
		}
		if _, err := e.store.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: version, Events: evs}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// logBuffer collects the JSON log lines.
type logBuffer = testkit.LogBuffer

// clock is the tests' hand-moved clock.
type clock = testkit.Clock
