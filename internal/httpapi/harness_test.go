package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/chatroom/chat/internal/testkit"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/httpapi"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// adapters are both stores, fresh for each test.
var adapters = storetest.Adapters()

// each runs fn once per adapter, in parallel, each with a fresh env.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	t.Parallel()
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, a.Open(t)))
		})
	}
}

// Test settings: cheap argon2id, a day-long session, three failed logins a
// minute.
const (
	sessionTTL      = 24 * time.Hour
	maxFailedLogins = 3
)

// t0 is where the fake clock starts: a round hour a week ahead of the real
// clock. Ahead on purpose: the stores judge a counter's expiry by the real
// clock while auth dates it by its own, so a fake clock behind real time
// would see every failed-login counter expire at once.
var t0 = time.Now().UTC().Truncate(time.Hour).Add(7 * 24 * time.Hour)

// wireTime is how the contract writes t.
func wireTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// logBuffer is where the handlers' JSON log goes.
type logBuffer struct {
	mu   sync.Mutex
	all  bytes.Buffer
	from int // start of the lines take has not returned yet
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.all.Write(p)
}

// take returns the lines written since the last take.
func (b *logBuffer) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.all.String()[b.from:]
	b.from = b.all.Len()
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.all.String()
}

// recorder is the Notifier: it records the calls, and fails them with
// err when set.
type recorder struct {
	mu    sync.Mutex
	calls []note
	err   error
}

type note struct {
	session *auth.Identity
	change  *rooms.Change
	created *chat.Room
	read    *store.RoomSummary
}

func (r *recorder) SessionEnded(_ context.Context, id auth.Identity) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, note{session: &id})
	return r.err
}

func (r *recorder) RoomChanged(_ context.Context, c rooms.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, note{change: &c})
	return r.err
}

func (r *recorder) RoomCreated(_ context.Context, room *chat.Room) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, note{created: room})
	return r.err
}

func (r *recorder) ReadMoved(_ context.Context, _ string, line store.RoomSummary) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, note{read: &line})
	return r.err
}

func (r *recorder) failWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *recorder) take() []note {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// connRefused is the kind of error a store gives when it cannot be reached.
var connRefused = &net.OpError{Op: "dial", Net: "tcp",
	Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 3, 7), Port: 8000},
	Err:  os.NewSyscallError("connect", syscall.ECONNREFUSED)}

// faultStore passes every call to the store, except the methods told to
// fail (with an error) or to panic.
type faultStore struct {
	store.Store
	mu     sync.Mutex
	fail   map[string]error
	panics map[string]any
}

func (f *faultStore) set(method string, err error, panicValue any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = map[string]error{}
	f.panics = map[string]any{}
	if err != nil {
		f.fail[method] = err
	}
	if panicValue != nil {
		f.panics[method] = panicValue
	}
}

func (f *faultStore) clear() { f.set("", nil, nil) }

func (f *faultStore) hit(method string) error {
	f.mu.Lock()
	p, panics := f.panics[method]
	err := f.fail[method]
	f.mu.Unlock()
	if panics {
		panic(p)
	}
	return err
}

func (f *faultStore) Append(ctx context.Context, req store.AppendRequest) (store.AppendResult, error) {
	if err := f.hit("Append"); err != nil {
		return store.AppendResult{}, err
	}
	return f.Store.Append(ctx, req)
}

func (f *faultStore) Room(ctx context.Context, roomID string) (*chat.Room, error) {
	if err := f.hit("Room"); err != nil {
		return nil, err
	}
	return f.Store.Room(ctx, roomID)
}

func (f *faultStore) RoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error) {
	if err := f.hit("RoomAs"); err != nil {
		return nil, err
	}
	return f.Store.RoomAs(ctx, roomID, usernames...)
}

func (f *faultStore) ReadForward(ctx context.Context, roomID string, afterSeq int64, limit int) (store.Page, error) {
	if err := f.hit("ReadForward"); err != nil {
		return store.Page{}, err
	}
	return f.Store.ReadForward(ctx, roomID, afterSeq, limit)
}

func (f *faultStore) ReadBackward(ctx context.Context, roomID string, beforeSeq int64, limit int) (store.Page, error) {
	if err := f.hit("ReadBackward"); err != nil {
		return store.Page{}, err
	}
	return f.Store.ReadBackward(ctx, roomID, beforeSeq, limit)
}

func (f *faultStore) RoomsOf(ctx context.Context, username string) ([]store.RoomSummary, error) {
	if err := f.hit("RoomsOf"); err != nil {
		return nil, err
	}
	return f.Store.RoomsOf(ctx, username)
}

func (f *faultStore) ExistingUsers(ctx context.Context, usernames []string) (map[string]bool, error) {
	if err := f.hit("ExistingUsers"); err != nil {
		return nil, err
	}
	return f.Store.ExistingUsers(ctx, usernames)
}

func (f *faultStore) CreateUser(ctx context.Context, u store.User) error {
	if err := f.hit("CreateUser"); err != nil {
		return err
	}
	return f.Store.CreateUser(ctx, u)
}

func (f *faultStore) User(ctx context.Context, username string) (store.User, error) {
	if err := f.hit("User"); err != nil {
		return store.User{}, err
	}
	return f.Store.User(ctx, username)
}

func (f *faultStore) CreateSession(ctx context.Context, s store.Session) error {
	if err := f.hit("CreateSession"); err != nil {
		return err
	}
	return f.Store.CreateSession(ctx, s)
}

func (f *faultStore) Session(ctx context.Context, tokenHash string) (store.Session, error) {
	if err := f.hit("Session"); err != nil {
		return store.Session{}, err
	}
	return f.Store.Session(ctx, tokenHash)
}

func (f *faultStore) DeleteSession(ctx context.Context, tokenHash string) error {
	if err := f.hit("DeleteSession"); err != nil {
		return err
	}
	return f.Store.DeleteSession(ctx, tokenHash)
}

func (f *faultStore) IncrementCounter(ctx context.Context, name string, expiresAt time.Time) (int64, error) {
	if err := f.hit("IncrementCounter"); err != nil {
		return 0, err
	}
	return f.Store.IncrementCounter(ctx, name, expiresAt)
}

func (f *faultStore) Counter(ctx context.Context, name string) (int64, error) {
	if err := f.hit("Counter"); err != nil {
		return 0, err
	}
	return f.Store.Counter(ctx, name)
}

// env is one store behind both handlers, with a fake clock, a recording
// notifier and a captured log.
type env struct {
	raw   store.Store // the adapter, for looking behind the handlers' back
	st    *faultStore
	clock *clock
	notes *recorder
	logs  *logBuffer
	auth  *httpapi.Handler
	rooms *httpapi.Handler

	mu        sync.Mutex
	tokens    map[string]string // username -> latest token
	secrets   []string          // every token and password seen, never to be logged
	roomIDs   []string          // every room created, for snapshots
	usernames []string          // every username signed up, for snapshots
}

func newEnv(t *testing.T, s store.Store) *env {
	t.Helper()
	e := &env{
		raw:    s,
		st:     &faultStore{Store: s},
		clock:  testkit.NewClock(t0, 0),
		notes:  &recorder{},
		logs:   &logBuffer{},
		tokens: map[string]string{},
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := auth.Config{
		Params:                    authtest.Params,
		SessionTTL:                sessionTTL,
		MaxFailedLogins:           maxFailedLogins,
		MaxFailedLoginsPerAddress: 100,
		MaxTicketsPerMinute:       60,
		Now:                       e.clock.Now,
	}
	a, err := auth.NewService(e.st, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var idMu sync.Mutex
	newID := func() string {
		idMu.Lock()
		defer idMu.Unlock()
		n++
		return fmt.Sprintf("01JD8Q0000000000000000%04d", n)
	}
	rs, err := rooms.NewService(e.st, logger, e.clock.Now, newID)
	if err != nil {
		t.Fatal(err)
	}
	if e.auth, err = httpapi.NewAuthAPI(a, e.notes, logger); err != nil {
		t.Fatal(err)
	}
	if e.rooms, err = httpapi.NewRoomsAPI(a, rs, e.notes, logger); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.checkLogHasNoSecrets(t) })
	return e
}

// checkLogHasNoSecrets fails the test if any token or password ever made
// it into the log.
func (e *env) checkLogHasNoSecrets(t *testing.T) {
	t.Helper()
	log := e.logs.String()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if strings.Contains(log, s) {
			t.Errorf("the log holds the secret %q:\n%s", s, log)
		}
	}
}

func (e *env) secret(s ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, s...)
}

// token returns username's current token.
func (e *env) token(t *testing.T, username string) string {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	tok, ok := e.tokens[username]
	if !ok {
		t.Fatalf("%s has not signed up", username)
	}
	return tok
}

func passwordOf(username string) string { return "pw of " + username + " is secret" }

// --- events ---

// eventT is the event both functions take.
type eventT = events.APIGatewayV2HTTPRequest

// mod changes an event loaded from a file.
type mod func(ev *eventT)

// withBody replaces the body, plain.
func withBody(body string) mod {
	return func(ev *events.APIGatewayV2HTTPRequest) {
		ev.Body, ev.IsBase64Encoded = body, false
		setHeader(ev, "content-length", strconv.Itoa(len(body)))
	}
}

// withBase64Body replaces the body, base64-encoded as API Gateway sends
// binary bodies.
func withBase64Body(body string) mod {
	return func(ev *events.APIGatewayV2HTTPRequest) {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(body)), true
		setHeader(ev, "content-length", strconv.Itoa(len(body)))
	}
}

// withJSON replaces the body with v encoded.
func withJSON(v any) mod {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return withBody(string(raw))
}

// withHeader sets a header; an empty value removes it.
func withHeader(name, value string) mod {
	return func(ev *events.APIGatewayV2HTTPRequest) { setHeader(ev, name, value) }
}

func setHeader(ev *events.APIGatewayV2HTTPRequest, name, value string) {
	name = strings.ToLower(name)
	if ev.Headers == nil {
		ev.Headers = map[string]string{}
	}
	if value == "" {
		delete(ev.Headers, name)
		return
	}
	ev.Headers[name] = value
}

// withQuery replaces the query string, as API Gateway parses it (repeated
// names joined with commas).
func withQuery(raw string) mod {
	return func(ev *events.APIGatewayV2HTTPRequest) {
		ev.RawQueryString = raw
		ev.QueryStringParameters = nil
		values, err := url.ParseQuery(raw)
		if err != nil {
			panic(err)
		}
		for k, vs := range values {
			if ev.QueryStringParameters == nil {
				ev.QueryStringParameters = map[string]string{}
			}
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
}

// withParam sets a path parameter and the paths that carry it.
func withParam(name, value string) mod {
	return func(ev *events.APIGatewayV2HTTPRequest) {
		ev.PathParameters[name] = value
		_, pattern, _ := strings.Cut(ev.RouteKey, " ")
		path := pattern
		for k, v := range ev.PathParameters {
			path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
		}
		ev.RawPath, ev.RequestContext.HTTP.Path = path, path
	}
}

// testdataDir is where a function's events live.
func testdataDir(fn string) string { return filepath.Join("..", "..", "functions", fn, "testdata") }

var placeholder = regexp.MustCompile(`\{\{[a-z_]+\}\}`)

// load reads a function's event file, fills the placeholders and applies
// the mods.
func load(t *testing.T, fn, file, token, roomID string, mods ...mod) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testdataDir(fn), file))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("{{token}}", token, "{{room_id}}", roomID).Replace(string(raw))
	if left := placeholder.FindString(s); left != "" {
		t.Fatalf("%s/%s: placeholder %s left unfilled", fn, file, left)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal([]byte(s), &ev); err != nil {
		t.Fatalf("%s/%s: %v", fn, file, err)
	}
	for _, m := range mods {
		m(&ev)
	}
	return ev
}

// response is an answer, with the event that asked for it.
type response struct {
	events.APIGatewayV2HTTPResponse
	req events.APIGatewayV2HTTPRequest
}

// send loads an event and hands it to the function's handler.
func (e *env) send(t *testing.T, fn, file, token, roomID string, mods ...mod) response {
	t.Helper()
	ev := load(t, fn, file, token, roomID, mods...)
	return e.handle(t, fn, ev)
}

func (e *env) handle(t *testing.T, fn string, ev events.APIGatewayV2HTTPRequest) response {
	t.Helper()
	h := map[string]*httpapi.Handler{"auth": e.auth, "rooms": e.rooms}[fn]
	resp, err := h.Handle(t.Context(), ev)
	if err != nil {
		t.Fatalf("%s %s: Handle returned an error: %v", ev.RouteKey, ev.RawPath, err)
	}
	return response{APIGatewayV2HTTPResponse: resp, req: ev}
}

// as sends a rooms event on behalf of username.
func (e *env) as(t *testing.T, username, file, roomID string, mods ...mod) response {
	t.Helper()
	return e.send(t, "rooms", file, e.token(t, username), roomID, mods...)
}

// --- common steps ---

// signup creates the accounts through POST /auth/signup and remembers their
// tokens.
func (e *env) signup(t *testing.T, usernames ...string) {
	t.Helper()
	for _, u := range usernames {
		r := e.send(t, "auth", "signup.json", "", "", withJSON(map[string]string{"username": u, "password": passwordOf(u)}))
		r.wantStatus(t, 201)
		var s struct{ Token string }
		r.decode(t, &s)
		e.mu.Lock()
		e.tokens[u] = s.Token
		e.secrets = append(e.secrets, s.Token, passwordOf(u))
		e.usernames = append(e.usernames, u)
		e.mu.Unlock()
	}
}

// createRoom makes a room through POST /rooms and returns its id.
func (e *env) createRoom(t *testing.T, owner, name string, members ...string) string {
	t.Helper()
	if members == nil {
		members = []string{}
	}
	r := e.as(t, owner, "create-room.json", "", withJSON(map[string]any{"name": name, "members": members}))
	r.wantStatus(t, 201)
	var room struct {
		RoomID string `json:"room_id"`
	}
	r.decode(t, &room)
	e.mu.Lock()
	e.roomIDs = append(e.roomIDs, room.RoomID)
	e.mu.Unlock()
	e.notes.take()
	return room.RoomID
}

// snapshot is everything the store holds about the rooms and people the
// env knows, as stored (deleted rooms and all).
func (e *env) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	e.mu.Lock()
	ids := slices.Clone(e.roomIDs)
	names := slices.Clone(e.usernames)
	e.mu.Unlock()
	var b strings.Builder
	for _, id := range ids {
		r, err := e.raw.Room(ctx, id)
		if err != nil {
			t.Fatalf("snapshot: room %s: %v", id, err)
		}
		page, err := e.raw.ReadForward(ctx, id, 0, store.MaxPageSize)
		if err != nil {
			t.Fatalf("snapshot: events of %s: %v", id, err)
		}
		rj, _ := json.Marshal(r)
		ej, _ := json.Marshal(page)
		fmt.Fprintf(&b, "room %s: %s\nevents: %s\n", id, rj, ej)
	}
	for _, u := range names {
		list, err := e.raw.RoomsOf(ctx, u)
		if err != nil {
			t.Fatalf("snapshot: rooms of %s: %v", u, err)
		}
		lj, _ := json.Marshal(list)
		fmt.Fprintf(&b, "rooms of %s: %s\n", u, lj)
	}
	exist, err := e.raw.ExistingUsers(ctx, append(names, "zed", "nobody", "ghost"))
	if err != nil {
		t.Fatalf("snapshot: users: %v", err)
	}
	ej, _ := json.Marshal(exist)
	fmt.Fprintf(&b, "users: %s\n", ej)
	return b.String()
}

// unchanged runs fn and fails if the store changed meanwhile or anyone was
// notified.
func (e *env) unchanged(t *testing.T, fn func()) {
	t.Helper()
	before := e.snapshot(t)
	e.notes.take()
	fn()
	if after := e.snapshot(t); after != before {
		t.Errorf("the store changed on a refused request:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if n := e.notes.take(); len(n) != 0 {
		t.Errorf("a refused request notified: %s", describeNotes(n))
	}
}

// --- assertions ---

func (r response) String() string {
	return fmt.Sprintf("%s %s?%s -> %d %s", r.req.RequestContext.HTTP.Method, r.req.RawPath, r.req.RawQueryString, r.StatusCode, r.Body)
}

func (r response) wantStatus(t *testing.T, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: status %d, want %d", r, r.StatusCode, status)
	}
	if status == 204 {
		if r.Body != "" {
			t.Fatalf("%s: a 204 with a body", r)
		}
		if ct, ok := r.Headers["Content-Type"]; ok {
			t.Fatalf("%s: a 204 with Content-Type %q", r, ct)
		}
		return
	}
	if ct := r.Headers["Content-Type"]; ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, want application/json", r, ct)
	}
	if !json.Valid([]byte(r.Body)) {
		t.Fatalf("%s: the body is not JSON", r)
	}
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("%s: %v", r, err)
	}
}

// wantError checks an error answer: the status, and a body of exactly
// {"error": {"code", "message"}} plus "usernames" when the error names
// people.
func (r response) wantError(t *testing.T, status int, code string, usernames ...string) {
	t.Helper()
	r.wantStatus(t, status)
	var body map[string]map[string]any
	r.decode(t, &body)
	d, ok := body["error"]
	if !ok || len(body) != 1 {
		t.Fatalf("%s: want a body of {\"error\": ...} only", r)
	}
	want := map[string]bool{"code": true, "message": true}
	if usernames != nil {
		want["usernames"] = true
	}
	for k := range d {
		if !want[k] {
			t.Errorf("%s: unexpected field error.%s", r, k)
		}
	}
	if d["code"] != code {
		t.Fatalf("%s: code %v, want %s", r, d["code"], code)
	}
	if m, _ := d["message"].(string); m == "" {
		t.Errorf("%s: no message", r)
	}
	if usernames != nil {
		var got []string
		for _, u := range d["usernames"].([]any) {
			got = append(got, u.(string))
		}
		if !slices.Equal(got, usernames) {
			t.Errorf("%s: usernames %q, want %q", r, got, usernames)
		}
	}
}

// wantJSON checks the body against want exactly: the same keys and values,
// except that a string "~re" in want matches any string matching re.
func (r response) wantJSON(t *testing.T, status int, want string) {
	t.Helper()
	r.wantStatus(t, status)
	var got, exp any
	r.decode(t, &got)
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if msg := matchJSON("$", got, exp); msg != "" {
		t.Fatalf("%s:\n%s", r, msg)
	}
}

func matchJSON(at string, got, want any) string {
	switch w := want.(type) {
	case string:
		if strings.HasPrefix(w, "~") {
			g, ok := got.(string)
			if !ok || !regexp.MustCompile(w[1:]).MatchString(g) {
				return fmt.Sprintf("%s: %#v does not match %s", at, got, w[1:])
			}
			return ""
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: %#v, want an object", at, got)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Sprintf("%s: unexpected key %q", at, k)
			}
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s: missing key %q", at, k)
			}
			if msg := matchJSON(at+"."+k, gv, wv); msg != "" {
				return msg
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: %#v, want %d elements", at, got, len(w))
		}
		for i := range w {
			if msg := matchJSON(fmt.Sprintf("%s[%d]", at, i), g[i], w[i]); msg != "" {
				return msg
			}
		}
		return ""
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%s: %#v, want %#v", at, got, want)
	}
	return ""
}

// describeNotes writes notifier calls compactly: "ended(alice)" and
// "changed(<room> 3:member_added 4:member_added)".
func describeNotes(notes []note) string {
	var parts []string
	for _, n := range notes {
		if n.session != nil {
			parts = append(parts, "ended("+n.session.Username+")")
			continue
		}
		if n.created != nil {
			parts = append(parts, "created("+n.created.ID+")")
			continue
		}
		if n.read != nil {
			parts = append(parts, fmt.Sprintf("read(%s %d)", n.read.RoomID, n.read.ReadSeq))
			continue
		}
		s := "changed(" + n.change.Room.ID
		for _, ev := range n.change.Events {
			s += fmt.Sprintf(" %d:%s", ev.Seq, ev.Type())
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, " ")
}

// wantChanged checks that exactly one RoomChanged was made, for roomID with
// events of the given types, that they are the ones stored and that the
// change's room is the room after them.
func (e *env) wantChanged(t *testing.T, roomID string, types ...chat.EventType) {
	t.Helper()
	notes := e.notes.take()
	if len(notes) != 1 || notes[0].change == nil {
		t.Fatalf("notified %q, want one RoomChanged", describeNotes(notes))
	}
	c := notes[0].change
	var got []chat.EventType
	for _, ev := range c.Events {
		got = append(got, ev.Type())
	}
	if c.Room.ID != roomID || !slices.Equal(got, types) {
		t.Fatalf("notified %q, want a change of %s with %v", describeNotes(notes), roomID, types)
	}
	first := c.Events[0].Seq
	page, err := e.raw.ReadForward(context.Background(), roomID, first-1, len(c.Events))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := json.Marshal(page.Events)
	pushed, _ := json.Marshal(c.Events)
	if string(stored) != string(pushed) {
		t.Errorf("notified events %s, stored %s", pushed, stored)
	}
	if last := c.Events[len(c.Events)-1].Seq; c.Room.Version != last {
		t.Errorf("notified room at version %d, last event %d", c.Room.Version, last)
	}
}

// wantLogLine checks that lines is exactly one JSON log line at level, with
// the request id, whose text holds each of contains.
func wantLogLine(t *testing.T, lines []string, level, requestID string, contains ...string) map[string]any {
	t.Helper()
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("the log line is not JSON: %v\n%s", err, lines[0])
	}
	if rec["level"] != level || rec["request_id"] != requestID {
		t.Fatalf("log line %s: want level %s and request_id %s", lines[0], level, requestID)
	}
	for _, c := range contains {
		if !strings.Contains(lines[0], c) {
			t.Errorf("log line %s: want it to hold %q", lines[0], c)
		}
	}
	return rec
}

func (e *env) wantNoNotes(t *testing.T) {
	t.Helper()
	if n := e.notes.take(); len(n) != 0 {
		t.Fatalf("notified %s, want nothing", describeNotes(n))
	}
}

// clock is the tests' hand-moved clock.
type clock = testkit.Clock
