package gateway

// Fuzz targets for the emulator's routing: matchPath (HTTP API route
// patterns), Routes.MatchHTTP over the template's routes, and selectRoute
// (the WebSocket route selection expression $request.body.action). The
// seed corpora are under testdata/fuzz/.

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// fzHTTPRoutes are the template's HTTP routes, read from template.yaml and
// the Makefile, or the contract's when those cannot be read.
func fzHTTPRoutes(tb testing.TB) *Routes {
	r, _ := LoadRoutes(filepath.Join("..", "..", "template.yaml"), filepath.Join("..", "..", "Makefile"), Resolve{})
	if r != nil && len(r.HTTP) > 0 && len(r.WebSocket) > 0 {
		return r
	}
	tb.Log("template.yaml not readable; using the contract's routes")
	r = &Routes{WebSocket: map[string]string{
		"$connect": "C", "$disconnect": "D", "$default": "X", "join_room": "J", "send_message": "S", "leave_room": "L",
	}}
	for _, k := range []string{
		"POST /auth/signup", "POST /auth/login", "POST /auth/logout", "GET /me", "POST /rooms", "GET /rooms",
		"GET /rooms/{room_id}", "PATCH /rooms/{room_id}", "DELETE /rooms/{room_id}", "POST /rooms/{room_id}/members",
		"DELETE /rooms/{room_id}/members/{username}", "GET /rooms/{room_id}/events",
		"GET /{proxy+}", "POST /{proxy+}", "PUT /{proxy+}", "PATCH /{proxy+}", "DELETE /{proxy+}",
	} {
		m, p, _ := strings.Cut(k, " ")
		r.HTTP = append(r.HTTP, HTTPRoute{Method: m, Path: p, Function: "F"})
	}
	return r
}

// fzSegments describes a pattern: its segments, the names of its {param}
// and {proxy+} segments, and whether the pattern is one API Gateway
// accepts (distinct names, a greedy segment only at the end).
func fzSegments(pattern string) (segs []string, greedy int, wellFormed bool) {
	segs = strings.Split(strings.Trim(pattern, "/"), "/")
	greedy = -1
	seen := map[string]bool{}
	wellFormed = true
	for i, s := range segs {
		var name string
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			name = s[1 : len(s)-2]
			if greedy < 0 {
				greedy = i
			}
			if i != len(segs)-1 {
				wellFormed = false
			}
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name = s[1 : len(s)-1]
		default:
			continue
		}
		if name == "" || seen[name] || strings.ContainsAny(name, "{}") {
			wellFormed = false
		}
		seen[name] = true
	}
	return segs, greedy, wellFormed
}

func FuzzMatchPath(f *testing.F) {
	for _, r := range fzHTTPRoutes(f).HTTP {
		f.Add(r.Path, r.Path)
	}
	for _, s := range [][2]string{
		{"/rooms/{room_id}", "/rooms/abc"}, {"/rooms/{room_id}", "/rooms/a/b"}, {"/rooms/{room_id}", "/rooms/"},
		{"/rooms/{room_id}", "/rooms//"}, {"/rooms/{room_id}", "//rooms//abc//"}, {"/rooms/{room_id}", "/rooms/%2F"},
		{"/rooms/{room_id}/members/{username}", "/rooms/r/members/bob"}, {"/rooms/{room_id}/members/{username}", "/rooms/r/members/"},
		{"/{proxy+}", "/"}, {"/{proxy+}", "/a/b/c"}, {"/{proxy+}", "//a//b//"}, {"/api/{proxy+}", "/api"},
		{"/{a+}/{b}", "/x/y"}, {"/{a}/{a}", "/x/y"}, {"/{a}/{a+}", "/x/y/z"}, {"{}", "x"}, {"{+}", "x/y"},
		{"/{", "/{"}, {"/}", "/}"}, {"/{x}", "/\x00"}, {"/{x}", "/\xff\xfe"}, {"/rooms/{room_id}", "/rooms/\u2215"},
		{"", ""}, {"/", "/"}, {"/" + strings.Repeat("{p}/", 1000), "/" + strings.Repeat("x/", 1000)},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		params, ok := matchPath(pattern, path)
		if !ok {
			return
		}
		segs, greedy, wellFormed := fzSegments(pattern)
		xs := strings.Split(strings.Trim(path, "/"), "/")
		for i, s := range segs {
			if greedy >= 0 && i > greedy {
				break
			}
			switch {
			case i == greedy:
				name := s[1 : len(s)-2]
				if v, ok := params[name]; !ok || v == "" {
					t.Fatalf("matchPath(%q, %q): greedy %q = %q, %v", pattern, path, name, v, ok)
				}
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
				name := s[1 : len(s)-1]
				v, ok := params[name]
				if !ok || v == "" {
					t.Fatalf("matchPath(%q, %q): param %q = %q, %v", pattern, path, name, v, ok)
				}
				if wellFormed && strings.Contains(v, "/") {
					t.Fatalf("matchPath(%q, %q): param %q = %q holds a slash", pattern, path, name, v)
				}
			default:
				if i >= len(xs) || xs[i] != s {
					t.Fatalf("matchPath(%q, %q) matched literal %q against %q", pattern, path, s, xs)
				}
			}
		}
		if !wellFormed {
			return
		}
		// Putting the parameters back into the pattern gives the path.
		var b []string
		for _, s := range segs {
			switch {
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
				b = append(b, params[s[1:len(s)-2]])
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
				b = append(b, params[s[1:len(s)-1]])
			default:
				b = append(b, s)
			}
		}
		if got, want := strings.Join(b, "/"), strings.Trim(path, "/"); got != want {
			t.Fatalf("matchPath(%q, %q) = %q, which rebuilds %q", pattern, path, params, got)
		}
	})
}

func FuzzMatchHTTP(f *testing.F) {
	routes := fzHTTPRoutes(f)
	for _, r := range routes.HTTP {
		f.Add(r.Method, strings.NewReplacer("{room_id}", "01JROOM", "{username}", "bob", "{proxy+}", "x/y").Replace(r.Path))
	}
	for _, s := range [][2]string{
		{"GET", "/rooms"}, {"GET", "/rooms/"}, {"GET", "/rooms//events"}, {"GET", "/rooms/a/b/events"}, {"get", "/me"},
		{"OPTIONS", "/me"}, {"HEAD", "/rooms"}, {"DELETE", "/rooms/r/members/"}, {"DELETE", "/rooms/r/members/a/b"},
		{"GET", ""}, {"GET", "/"}, {"POST", "/auth/signup/"}, {"POST", "//auth//signup"}, {"GET", "/\x00"}, {"GET", "/\xff"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		route, params, ok := routes.MatchHTTP(method, path)
		if !ok {
			for _, r := range routes.HTTP {
				if _, ok := matchPath(r.Path, path); ok && (r.Method == method || r.Method == "ANY") {
					t.Fatalf("MatchHTTP(%s %q) found nothing, but %s matches", method, path, r.Key())
				}
			}
			return
		}
		if route.Method != method && route.Method != "ANY" {
			t.Fatalf("MatchHTTP(%s %q) = %s", method, path, route.Key())
		}
		segs, _, _ := fzSegments(route.Path)
		for _, s := range segs {
			if strings.HasPrefix(s, "{") && !strings.HasSuffix(s, "+}") && strings.Contains(params[s[1:len(s)-1]], "/") {
				t.Fatalf("MatchHTTP(%s %q) = %s with %q", method, path, route.Key(), params)
			}
		}
		// The most specific route wins, as in API Gateway.
		for _, r := range routes.HTTP {
			if _, ok := matchPath(r.Path, path); ok && (r.Method == method || r.Method == "ANY") && specificity(r) > specificity(route) {
				t.Fatalf("MatchHTTP(%s %q) = %s, but %s is more specific", method, path, route.Key(), r.Key())
			}
		}
	})
}

func FuzzSelectRoute(f *testing.F) {
	routes := fzHTTPRoutes(f).WebSocket
	for _, s := range []string{
		`{"action":"join_room","room_id":"r"}`, `{"action":"send_message"}`, `{"action":"leave_room"}`, `{"action":"typing"}`,
		`{"action":"$connect"}`, `{"action":"$disconnect"}`, `{"action":"$default"}`, `{"ACTION":"join_room"}`, `{"Action":"join_room"}`,
		`{"action":"join_room","action":"leave_room"}`, `{"action":"leave_room","action":5}`, `{"action":["join_room"]}`,
		`{"action":null}`, `{"action":"join_room"} trailing`, `{"action":"join_room"}}`, `[{"action":"join_room"}]`,
		`{"action":"join\u005froom"}`, `{"action":"join_room\u0000"}`, "{\"action\":\"join_room\xff\"}", `"join_room"`,
		`null`, ``, "\x00", strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		`{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `,"action":"join_room"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		got := selectRoute(msg, routes)
		// What the selection expression names: the "action" member, spelt
		// exactly, of a JSON object, when it is a string.
		var action string
		var obj map[string]json.RawMessage
		named := json.Unmarshal(msg, &obj) == nil && json.Unmarshal(obj["action"], &action) == nil
		_, isRoute := routes[action]
		want := "$default"
		if named && isRoute && !strings.HasPrefix(action, "$") {
			want = action
		}
		if got != want {
			t.Fatalf("selectRoute(%q) = %q, want %q", msg, got, want)
		}
		if _, ok := routes[got]; !ok && got != "$default" {
			t.Fatalf("selectRoute(%q) = %q, which is no route", msg, got)
		}
	})
}
