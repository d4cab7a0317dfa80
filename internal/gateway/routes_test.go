package gateway_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/gateway"
)

// localResolve is what the emulator gives the template's references.
var localResolve = gateway.Resolve{
	"ChatTable": "chat-test", "WebSocketApi": "wsapi", "StageName": "local",
	"AWS::Region": "eu-west-3", "AWS::AccountId": "000000000000", "AWS::Partition": "aws", "AWS::StackName": "chat",
}

// realRoutes reads the project's own template.yaml and Makefile.
func realRoutes(t testing.TB) *gateway.Routes {
	t.Helper()
	r, err := gateway.LoadRoutes("../../template.yaml", "../../Makefile", localResolve)
	if err != nil {
		t.Fatalf("LoadRoutes(template.yaml): %v", err)
	}
	return r
}

// functionDirs are the functions of the stack and their packages under
// functions/, as app.Functions names them.
var functionDirs = map[string]string{
	"AuthFunction":        "auth",
	"RoomsFunction":       "rooms",
	"ConnectFunction":     "connect",
	"DisconnectFunction":  "disconnect",
	"JoinRoomFunction":    "join_room",
	"SendMessageFunction": "send_message",
	"LeaveRoomFunction":   "leave_room",
	"DefaultFunction":     "default",
	"FanoutFunction":      "fanout",
}

func handlersFor(dirs ...string) map[string]any {
	h := map[string]any{}
	for _, d := range dirs {
		h[d] = func() {}
	}
	return h
}

func TestRealTemplateHTTPRoutes(t *testing.T) {
	r := realRoutes(t)
	// Every HTTP route of the wire contract, and the function that serves it.
	want := map[string]string{
		"POST /auth/signup":                          "AuthFunction",
		"POST /auth/login":                           "AuthFunction",
		"POST /auth/logout":                          "AuthFunction",
		"POST /auth/ticket":                          "AuthFunction",
		"GET /me":                                    "AuthFunction",
		"POST /rooms":                                "RoomsFunction",
		"GET /rooms":                                 "RoomsFunction",
		"GET /rooms/{room_id}":                       "RoomsFunction",
		"PATCH /rooms/{room_id}":                     "RoomsFunction",
		"DELETE /rooms/{room_id}":                    "RoomsFunction",
		"POST /rooms/{room_id}/members":              "RoomsFunction",
		"DELETE /rooms/{room_id}/members/{username}": "RoomsFunction",
		"GET /rooms/{room_id}/events":                "RoomsFunction",
		"POST /me/blocks":                            "RoomsFunction",
		"DELETE /me/blocks/{username}":               "RoomsFunction",
		"GET /me/blocks":                             "RoomsFunction",
		"POST /rooms/{room_id}/read":                 "RoomsFunction",
		"POST /dms":                                  "RoomsFunction",
	}
	got := map[string]string{}
	for _, h := range r.HTTP {
		if prev, dup := got[h.Key()]; dup {
			t.Errorf("route %s declared twice (%s and %s)", h.Key(), prev, h.Function)
		}
		got[h.Key()] = h.Function
	}
	for key, fn := range want {
		if got[key] != fn {
			t.Errorf("route %s -> %q, want %s", key, got[key], fn)
		}
	}
	// Whatever else the template declares is the catch-all of the rooms
	// function (route_not_found for unknown paths).
	for key, fn := range got {
		if _, ok := want[key]; ok {
			continue
		}
		if !strings.HasSuffix(key, " /{proxy+}") || fn != "RoomsFunction" {
			t.Errorf("unexpected route %s -> %s", key, fn)
		}
	}

	cases := []struct {
		method, path string
		key          string // "" for no route
		params       map[string]string
	}{
		{"POST", "/auth/signup", "POST /auth/signup", nil},
		{"POST", "/auth/login", "POST /auth/login", nil},
		{"POST", "/auth/logout", "POST /auth/logout", nil},
		{"GET", "/me", "GET /me", nil},
		{"GET", "/rooms", "GET /rooms", nil},
		{"POST", "/rooms", "POST /rooms", nil},
		{"GET", "/rooms/r1", "GET /rooms/{room_id}", map[string]string{"room_id": "r1"}},
		{"PATCH", "/rooms/r1", "PATCH /rooms/{room_id}", map[string]string{"room_id": "r1"}},
		{"DELETE", "/rooms/r1", "DELETE /rooms/{room_id}", map[string]string{"room_id": "r1"}},
		{"POST", "/rooms/r1/members", "POST /rooms/{room_id}/members", map[string]string{"room_id": "r1"}},
		{"DELETE", "/rooms/r1/members/bob", "DELETE /rooms/{room_id}/members/{username}", map[string]string{"room_id": "r1", "username": "bob"}},
		{"GET", "/rooms/x/events", "GET /rooms/{room_id}/events", map[string]string{"room_id": "x"}},
		{"POST", "/me/blocks", "POST /me/blocks", nil},
		{"GET", "/me/blocks", "GET /me/blocks", nil},
		{"DELETE", "/me/blocks/bob", "DELETE /me/blocks/{username}", map[string]string{"username": "bob"}},
		{"DELETE", "/me/blocks", "DELETE /{proxy+}", map[string]string{"proxy": "me/blocks"}},
		// The catch-all loses to every specific route, and takes the rest.
		{"GET", "/nope/deep/path", "GET /{proxy+}", map[string]string{"proxy": "nope/deep/path"}},
		{"GET", "/rooms/x/events/more", "GET /{proxy+}", map[string]string{"proxy": "rooms/x/events/more"}},
		{"GET", "/auth/signup", "GET /{proxy+}", map[string]string{"proxy": "auth/signup"}},
		{"POST", "/me", "POST /{proxy+}", map[string]string{"proxy": "me"}},
		{"PUT", "/rooms", "PUT /{proxy+}", map[string]string{"proxy": "rooms"}},
		{"PATCH", "/rooms", "PATCH /{proxy+}", map[string]string{"proxy": "rooms"}},
		{"DELETE", "/rooms/r1/members", "DELETE /{proxy+}", map[string]string{"proxy": "rooms/r1/members"}},
		// OPTIONS stays with CORS; {proxy+} needs at least one segment.
		{"OPTIONS", "/rooms", "", nil},
		{"GET", "/", "", nil},
	}
	for _, c := range cases {
		route, params, ok := r.MatchHTTP(c.method, c.path)
		if c.key == "" {
			if ok {
				t.Errorf("%s %s matched %s, want no route", c.method, c.path, route.Key())
			}
			continue
		}
		if !ok || route.Key() != c.key {
			t.Errorf("%s %s -> %q (matched %v), want %s", c.method, c.path, route.Key(), ok, c.key)
			continue
		}
		if c.params == nil {
			c.params = map[string]string{}
		}
		if !maps.Equal(params, c.params) {
			t.Errorf("%s %s: params %v, want %v", c.method, c.path, params, c.params)
		}
		if route.Function != "AuthFunction" && route.Function != "RoomsFunction" {
			t.Errorf("%s %s -> function %s", c.method, c.path, route.Function)
		}
	}
}

func TestRealTemplateWebSocketRoutesAndFunctions(t *testing.T) {
	r := realRoutes(t)
	wantWS := map[string]string{
		"$connect":     "ConnectFunction",
		"$disconnect":  "DisconnectFunction",
		"$default":     "DefaultFunction",
		"join_room":    "JoinRoomFunction",
		"send_message": "SendMessageFunction",
		"leave_room":   "LeaveRoomFunction",
		// Message edits and deletions share the send function.
		"edit_message":   "SendMessageFunction",
		"delete_message": "SendMessageFunction",
	}
	if !maps.Equal(r.WebSocket, wantWS) {
		t.Errorf("WebSocket routes = %v, want %v", r.WebSocket, wantWS)
	}
	if got := slices.Sorted(maps.Keys(r.Functions)); !slices.Equal(got, slices.Sorted(maps.Keys(functionDirs))) {
		t.Fatalf("functions = %v, want %v", got, slices.Sorted(maps.Keys(functionDirs)))
	}
	for id, dir := range functionDirs {
		f := r.Functions[id]
		if f.LogicalID != id || f.Dir != dir {
			t.Errorf("function %s = {%s %s}, want dir %s", id, f.LogicalID, f.Dir, dir)
		}
		// The Globals environment, resolved for a local run.
		if f.Env["TABLE_NAME"] != "chat-test" {
			t.Errorf("%s: TABLE_NAME = %q", id, f.Env["TABLE_NAME"])
		}
		if want := "https://wsapi.execute-api.eu-west-3.amazonaws.com/local"; f.Env["WS_MANAGEMENT_ENDPOINT"] != want {
			t.Errorf("%s: WS_MANAGEMENT_ENDPOINT = %q, want %q", id, f.Env["WS_MANAGEMENT_ENDPOINT"], want)
		}
	}
	// The fan-out function has no route: the functions that push invoke
	// it, naming it in FANOUT_FUNCTION, which resolves to its logical id,
	// its name under the local Lambda Invoke API.
	if got, want := r.Functions["FanoutFunction"].InvokedBy, []string{"DefaultFunction", "DisconnectFunction", "JoinRoomFunction", "LeaveRoomFunction", "RoomsFunction", "SendMessageFunction"}; !slices.Equal(got, want) {
		t.Errorf("FanoutFunction is invoked by %v, want %v", got, want)
	}
	if got := r.Functions["SendMessageFunction"].Env["FANOUT_FUNCTION"]; got != "FanoutFunction" {
		t.Errorf("SendMessageFunction: FANOUT_FUNCTION = %q, want FanoutFunction", got)
	}
	// The handlers app.Functions serves agree with the template.
	if err := r.Check(handlersFor(slices.Collect(maps.Values(functionDirs))...)); err != nil {
		t.Errorf("Check with every handler: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	resolve := gateway.Resolve{"Table": "t", "WsApi": "api", "StageName": "local", "AWS::Region": "us-east-1", "AWS::Partition": "aws"}
	okHandlers := []string{"api", "connect", "default"}
	cases := []struct {
		name     string
		template string
		handlers []string // for Check, when LoadRoutes succeeds
		loadErr  []string // LoadRoutes fails naming these
		checkErr []string // Check fails naming these
	}{
		{name: "accepted", template: "ok.yaml", handlers: okHandlers},
		{name: "route without integration", template: "no_integration.yaml",
			loadErr: []string{"DefaultRoute", "$default", "MissingIntegration"}},
		{name: "integration invoking no function", template: "no_function.yaml",
			loadErr: []string{"DefaultRoute", "DefaultIntegration", "GhostFunction"}},
		{name: "function without Makefile target", template: "no_target.yaml",
			loadErr: []string{"UnbuiltFunction", "build-UnbuiltFunction"}},
		{name: "function without route", template: "no_route.yaml", handlers: append(okHandlers, "lonely"),
			checkErr: []string{"function LonelyFunction has no route"}},
		{name: "function invoked by another, without a route", template: "invoked.yaml", handlers: append(okHandlers, "lonely")},
		{name: "handler without function", template: "ok.yaml", handlers: append(okHandlers, "stray"),
			checkErr: []string{"handler functions/stray"}},
		{name: "function without handler", template: "ok.yaml", handlers: []string{"api", "connect"},
			checkErr: []string{"function DefaultFunction (functions/default) has no handler"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := gateway.LoadRoutes("testdata/"+c.template, "testdata/Makefile", resolve)
			if c.loadErr != nil {
				if err == nil {
					t.Fatal("LoadRoutes accepted the template")
				}
				for _, s := range c.loadErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("LoadRoutes error %q does not name %s", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadRoutes: %v", err)
			}
			err = r.Check(handlersFor(c.handlers...))
			if c.checkErr == nil {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check accepted the handlers")
			}
			for _, s := range c.checkErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Check error %q does not name %s", err, s)
				}
			}
		})
	}
}

// TestSmallTemplate checks what ok.yaml declares comes out as routes: the
// method upper-cased, the function's own variables over the globals.
func TestSmallTemplate(t *testing.T) {
	r, err := gateway.LoadRoutes("testdata/ok.yaml", "testdata/Makefile", gateway.Resolve{
		"Table": "t", "WsApi": "api", "StageName": "dev", "AWS::Region": "us-east-1", "AWS::Partition": "aws",
	})
	if err != nil {
		t.Fatal(err)
	}
	route, params, ok := r.MatchHTTP("GET", "/things/42")
	if !ok || route.Key() != "GET /things/{id}" || route.Function != "ApiFunction" || params["id"] != "42" {
		t.Fatalf("GET /things/42 -> %v %v %v", route, params, ok)
	}
	want := map[string]string{"TABLE_NAME": "t", "WS_MANAGEMENT_ENDPOINT": "https://api.execute-api.us-east-1.amazonaws.com/dev", "EXTRA": "plain"}
	if env := r.Functions["ApiFunction"].Env; !maps.Equal(env, want) {
		t.Errorf("env = %v, want %v", env, want)
	}
	if !maps.Equal(r.WebSocket, map[string]string{"$connect": "ConnectFunction", "$default": "DefaultFunction"}) {
		t.Errorf("WebSocket = %v", r.WebSocket)
	}
	// A reference with no local value is refused, naming it.
	_, err = gateway.LoadRoutes("testdata/ok.yaml", "testdata/Makefile", gateway.Resolve{"Table": "t"})
	if err == nil || !strings.Contains(err.Error(), "WsApi") {
		t.Errorf("unresolved !Sub: %v", err)
	}
}
