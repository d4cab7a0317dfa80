package httpapi_test

// FuzzHTTPRequest sends arbitrary HTTP API events (route, path parameters,
// query, body, base64 flag, Authorization header) to the two HTTP handlers
// of a chat wired like the functions (app.NewLocal over bbolt, cheap
// argon2id, a no-op pusher). Whatever the request, the answer is never a
// 500, has a status of the contract, and, when it is not 2xx, the
// contract's error body with a code of the contract's table for that
// status. It also holds the contract's order: 401 before anything on an
// authenticated route, 404 room_not_found for a room the caller is not in,
// 413 for bodies over 64 KiB, and GET .../events answering 200 only to a
// valid query.
//
// The seed corpus is under testdata/fuzz/FuzzHTTPRequest. In its inputs
// "@ROOM@" stands for a room alice owns and bob is in, "@ROOM2@" for bob's
// room that alice is not in, "@TOKEN@" and "@BOBTOKEN@" for their live
// tokens. The path input holds the path parameters, room_id and username
// separated by a newline; on the catch-all ("$default") route keys it is
// the raw path instead.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatroom/chat/internal/app"
	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/httpapi"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/store/boltstore"
	"github.com/chatroom/chat/internal/testkit"
)

type fzNopPusher struct{}

func (fzNopPusher) Post(context.Context, []string, []byte) push.Result { return push.Result{} }
func (fzNopPusher) Disconnect(context.Context, string) error           { return nil }

// fzCodes is the contract's table: the codes each status may carry.
var fzCodes = map[int][]string{
	400: {"invalid_json", "invalid_username", "invalid_password", "invalid_room_name", "too_many_members", "invalid_query", "too_many_blocks"},
	401: {"unauthenticated", "invalid_credentials"},
	403: {"forbidden"},
	404: {"room_not_found", "user_not_found", "route_not_found"},
	409: {"username_taken", "already_member"},
	413: {"body_too_large"},
	429: {"rate_limited"},
}

type fzRoute struct {
	key     string // the event's route key
	fn      string // "auth" or "rooms"
	handler *httpapi.Handler
	method  string // "" on $default: the input says
	pattern string
}

// name is how an input names the route: its key, or "$default auth" and
// "$default rooms" for the catch-all event of each handler.
func (r fzRoute) name() string {
	if r.key == "$default" {
		return r.key + " " + r.fn
	}
	return r.key
}

// route picks the route an input names; any other string still picks one.
func (e *fzHTTPEnv) route(name string) fzRoute {
	for _, r := range e.routes {
		if r.name() == name {
			return r
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return e.routes[int(h.Sum32()%uint32(len(e.routes)))]
}

type fzHTTPEnv struct {
	app    *app.App
	routes []fzRoute
	// shift moves the app's clock forward: an hour each time the room
	// must be made again, so that the fixtures are not held to the limit
	// of new rooms an hour, which the inputs' own creations count toward.
	shift    atomic.Int64
	room     string
	room2    string
	aliceTok string
	bobTok   string
}

const (
	fzAlicePassword = "alice-password"
	fzBobPassword   = "bob-password"
)

func fzHTTPSetup(f *testing.F) *fzHTTPEnv {
	st, err := boltstore.Open(filepath.Join(testkit.ScratchDir(f), "chat.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	e := &fzHTTPEnv{}
	cfg := auth.Config{
		Params:     authtest.Params,
		SessionTTL: 24 * time.Hour, MaxFailedLogins: 1 << 40, MaxFailedLoginsPerAddress: 1 << 40, MaxTicketsPerMinute: 1 << 40,
		Now: func() time.Time { return time.Now().Add(time.Duration(e.shift.Load())) },
	}
	a, err := app.NewLocal(st, fzNopPusher{}, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	e.app = a
	authAPI, err := a.AuthAPI()
	if err != nil {
		f.Fatal(err)
	}
	roomsAPI, err := a.RoomsAPI()
	if err != nil {
		f.Fatal(err)
	}
	for fn, h := range map[string]*httpapi.Handler{"auth": authAPI, "rooms": roomsAPI} {
		for _, k := range h.RouteKeys() {
			m, p, _ := strings.Cut(k, " ")
			e.routes = append(e.routes, fzRoute{key: k, fn: fn, handler: h, method: m, pattern: p})
		}
		e.routes = append(e.routes, fzRoute{key: "$default", fn: fn, handler: h})
	}
	slices.SortFunc(e.routes, func(a, b fzRoute) int { return strings.Compare(a.name(), b.name()) })
	ctx := context.Background()
	for _, u := range [][2]string{{"alice", fzAlicePassword}, {"bob", fzBobPassword}, {"carol", "carol-password"}} {
		if _, err := a.Auth.Signup(ctx, u[0], u[1]); err != nil {
			f.Fatal(err)
		}
	}
	r2, err := a.Rooms.Create(ctx, "bob", "Bob's", nil)
	if err != nil {
		f.Fatal(err)
	}
	e.room2 = r2.ID
	e.repair(f)
	return e
}

// repair undoes what an input may have done to the fixtures: a logout
// (log in again) or a deleted room (create another).
func (e *fzHTTPEnv) repair(tb testing.TB) {
	ctx := context.Background()
	// The room first: remaking it moves the clock on, which may end the
	// sessions checked next.
	if e.room == "" || e.app.Rooms.CheckMember(ctx, "alice", e.room) != nil || e.app.Rooms.CheckMember(ctx, "bob", e.room) != nil {
		e.shift.Add(int64(time.Hour))
		r, err := e.app.Rooms.Create(ctx, "alice", "General", []string{"bob"})
		if err != nil {
			tb.Fatalf("create the room again: %v", err)
		}
		e.room = r.ID
	}
	for _, u := range []struct {
		name, password string
		token          *string
	}{{"alice", fzAlicePassword, &e.aliceTok}, {"bob", fzBobPassword, &e.bobTok}} {
		if _, err := e.app.Auth.Authenticate(ctx, *u.token); err == nil {
			continue
		}
		s, err := e.app.Auth.Login(ctx, u.name, u.password, "198.51.100.1")
		if err != nil {
			tb.Fatalf("log %s in again: %v", u.name, err)
		}
		*u.token = s.Token
	}
}

func fzParseQuery(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	q := map[string]string{}
	for _, kv := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		if old, ok := q[k]; ok {
			v = old + "," + v // API Gateway joins repeated parameters with commas
		}
		q[k] = v
	}
	return q
}

// fzValidPage is the contract's rule for the events query, written out
// independently of parsePage.
func fzValidPage(q map[string]string) bool {
	cursor := func(name string) (bool, bool) {
		raw, ok := q[name]
		if !ok {
			return false, true
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		return true, err == nil && n >= 0
	}
	hasB, okB := cursor("before_seq")
	hasA, okA := cursor("after_seq")
	if !okB || !okA || hasA && hasB {
		return false
	}
	if raw, ok := q["limit"]; ok {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 || n > 200 {
			return false
		}
	}
	return true
}

// fzValidRoomLimit is the contract's rule for GET /rooms's limit.
func fzValidRoomLimit(q map[string]string) bool {
	raw, ok := q["limit"]
	if !ok {
		return true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	return err == nil && n >= 1 && n <= 200
}

func FuzzHTTPRequest(f *testing.F) {
	e := fzHTTPSetup(f)
	for _, rt := range e.routes {
		f.Add(rt.name(), "GET", "@ROOM@\nbob", "", "", false, "Bearer @TOKEN@")
	}
	f.Add("$default rooms", "GET", "/rooms/@ROOM@/events", "limit=5", "", false, "Bearer @TOKEN@")
	f.Fuzz(func(t *testing.T, route, method, path, query, body string, b64 bool, authz string) {
		ctx := context.Background()
		defer e.repair(t)
		rt := e.route(route)
		rep := strings.NewReplacer("@ROOM@", e.room, "@ROOM2@", e.room2, "@TOKEN@", e.aliceTok, "@BOBTOKEN@", e.bobTok)
		path, query, body, authz = rep.Replace(path), rep.Replace(query), rep.Replace(body), rep.Replace(authz)

		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: rt.key, RawQueryString: query, Body: body, IsBase64Encoded: b64,
			QueryStringParameters: fzParseQuery(query),
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RequestID: "fuzz", RouteKey: rt.key, Stage: "$default",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method},
			},
		}
		if authz != "" {
			ev.Headers = map[string]string{"authorization": authz}
		}
		var roomID string
		if rt.key == "$default" {
			ev.RawPath = path
		} else {
			ev.RequestContext.HTTP.Method = rt.method
			roomID, username, _ := strings.Cut(path, "\n")
			ev.PathParameters = map[string]string{}
			raw := rt.pattern
			if strings.Contains(rt.pattern, "{room_id}") {
				ev.PathParameters["room_id"] = roomID
				raw = strings.Replace(raw, "{room_id}", roomID, 1)
			}
			if strings.Contains(rt.pattern, "{username}") {
				ev.PathParameters["username"] = username
				raw = strings.Replace(raw, "{username}", username, 1)
			}
			if strings.Contains(rt.pattern, "{proxy+}") {
				ev.PathParameters["proxy"] = path
				raw = "/" + path
			}
			ev.RawPath = raw
		}
		if rt.key != "$default" {
			roomID = ev.PathParameters["room_id"]
		}
		// What the answer must be, judged before the request runs (it may
		// log out or delete the room).
		caller, authErr := e.app.Auth.AuthenticateHeader(ctx, authz)
		member := authErr == nil && roomID != "" && e.app.Rooms.CheckMember(ctx, caller.Username, roomID) == nil
		// The body's size; unknown (-1) for a body flagged base64 that is
		// not, which may be refused as too large or as not JSON.
		bodyLen := len(body)
		if b64 {
			if raw, err := base64.StdEncoding.DecodeString(body); err == nil {
				bodyLen = len(raw)
			} else {
				bodyLen = -1
			}
		}

		resp, err := rt.handler.Handle(ctx, ev)
		if err != nil {
			t.Fatalf("Handle returned an error: %v", err)
		}
		status := resp.StatusCode
		if status == 500 {
			t.Fatalf("%s %q: 500 %s", rt.key, ev.RawPath, resp.Body)
		}
		if resp.Body == "" {
			if status != 204 {
				t.Fatalf("%s %q: %d with no body", rt.key, ev.RawPath, status)
			}
		} else if ct := resp.Headers["Content-Type"]; ct != "application/json" {
			t.Fatalf("%s %q: %d with Content-Type %q", rt.key, ev.RawPath, status, ct)
		}
		var code string
		switch {
		case status == 200 || status == 201:
			var v map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
				t.Fatalf("%s %q: %d with a body that is not a JSON object: %v", rt.key, ev.RawPath, status, err)
			}
			if bodyLen > httpapi.MaxBodyBytes {
				t.Fatalf("%s %q: %d to a body of %d bytes", rt.key, ev.RawPath, status, bodyLen)
			}
		case status == 204:
			if resp.Body != "" {
				t.Fatalf("%s %q: 204 with body %q", rt.key, ev.RawPath, resp.Body)
			}
		default:
			codes, ok := fzCodes[status]
			if !ok {
				t.Fatalf("%s %q: status %d is not in the contract", rt.key, ev.RawPath, status)
			}
			var eb struct {
				Error struct {
					Code      string   `json:"code"`
					Message   string   `json:"message"`
					Usernames []string `json:"usernames"`
				} `json:"error"`
			}
			dec := json.NewDecoder(strings.NewReader(resp.Body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&eb); err != nil || dec.More() {
				t.Fatalf("%s %q: %d with body %s, not the contract's error shape: %v", rt.key, ev.RawPath, status, resp.Body, err)
			}
			code = eb.Error.Code
			if !slices.Contains(codes, code) || eb.Error.Message == "" {
				t.Fatalf("%s %q: %d with code %q, message %q; want one of %q", rt.key, ev.RawPath, status, code, eb.Error.Message, codes)
			}
		}

		// The contract's order, where it can be told from outside.
		anonymous := rt.key == "POST /auth/signup" || rt.key == "POST /auth/login" || strings.Contains(rt.key, "{proxy+}")
		switch {
		case rt.key == "$default":
			// The route is found from method and path, or not at all.
			if code == "unauthenticated" && authErr == nil {
				t.Fatalf("%s %s %q: unauthenticated with a live token", rt.key, method, ev.RawPath)
			}
		case strings.Contains(rt.key, "{proxy+}"):
			// The body is read (and may be too large) before the
			// catch-all answers.
			if (status != 404 || code != "route_not_found") && (status != 413 || bodyLen >= 0 && bodyLen <= httpapi.MaxBodyBytes) {
				t.Fatalf("%s: %d %q, want 404 route_not_found", rt.key, status, code)
			}
		case !anonymous && authErr != nil:
			if status != 401 || code != "unauthenticated" {
				t.Fatalf("%s with Authorization %q: %d %q, want 401 unauthenticated", rt.key, authz, status, code)
			}
		case !anonymous && code == "unauthenticated":
			t.Fatalf("%s: unauthenticated with a live token", rt.key)
		case bodyLen > httpapi.MaxBodyBytes && status != 413:
			t.Fatalf("%s: %d to a body of %d bytes, want 413", rt.key, status, bodyLen)
		case bodyLen < 0 && status == 413:
		case strings.Contains(rt.key, "{room_id}") && !member && status != 413:
			if status != 404 || code != "room_not_found" {
				t.Fatalf("%s for room %q, which %s is not in: %d %q, want 404 room_not_found", rt.key, roomID, caller.Username, status, code)
			}
		case rt.key == "GET /rooms/{room_id}/events" && member && status != 413:
			valid := fzValidPage(ev.QueryStringParameters)
			if valid && status != 200 || !valid && (status != 400 || code != "invalid_query") {
				t.Fatalf("GET events?%s: %d %q, want valid=%v", query, status, code, valid)
			}
		case rt.key == "GET /rooms" && status != 413:
			// A cursor's validity is the server's to judge; the limit's is
			// the contract's.
			_, hasCursor := ev.QueryStringParameters["cursor"]
			validLimit := fzValidRoomLimit(ev.QueryStringParameters)
			if status != 200 && (status != 400 || code != "invalid_query") || status == 200 && !validLimit || status == 400 && validLimit && !hasCursor {
				t.Fatalf("GET /rooms?%s: %d %q, want 200 or invalid_query (limit valid: %v, cursor: %v)", query, status, code, validLimit, hasCursor)
			}
		}
	})
}
