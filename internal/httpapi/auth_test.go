package httpapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/httpapi"
	"github.com/chatroom/chat/internal/store"
)

// sessionJSON is the session body the contract fixes, for username, with a
// token of 256 bits in unpadded base64url, expiring a session TTL after now.
func sessionJSON(username string, now time.Time) string {
	return `{"username": "` + username + `", "token": "~^[A-Za-z0-9_-]{43}$", "expires_at": "` + wireTime(now.Add(sessionTTL)) + `"}`
}

func tokenOf(t *testing.T, r response) string {
	t.Helper()
	var s struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	r.decode(t, &s)
	if _, err := time.Parse(time.RFC3339, s.ExpiresAt); err != nil {
		t.Fatalf("%s: expires_at is not RFC 3339: %v", r, err)
	}
	if !strings.HasSuffix(s.ExpiresAt, "Z") {
		t.Fatalf("%s: expires_at is not UTC", r)
	}
	return s.Token
}

func (e *env) me(t *testing.T, token string) response {
	t.Helper()
	return e.send(t, "auth", "me.json", token, "")
}

func TestSignup(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		// The file as it stands.
		r := e.send(t, "auth", "signup.json", "", "")
		r.wantJSON(t, 201, sessionJSON("alice", t0))
		tok := tokenOf(t, r)
		e.secret(tok, "correct horse battery staple")
		e.me(t, tok).wantJSON(t, 200, `{"username": "alice"}`)
		e.mu.Lock()
		e.usernames = append(e.usernames, "alice")
		e.mu.Unlock()

		ok := []struct {
			name, body, username string
		}{
			{"upper case is folded", `{"username": "Bob_1", "password": "12345678"}`, "bob_1"},
			{"shortest username and password", `{"username": "abc", "password": "12345678"}`, "abc"},
			{"longest username", `{"username": "` + strings.Repeat("x", 32) + `", "password": "12345678"}`, strings.Repeat("x", 32)},
			{"password counted in code points", `{"username": "carol", "password": "` + strings.Repeat("é", 8) + `"}`, "carol"},
			{"longest password", `{"username": "dave", "password": "` + strings.Repeat("ü", 128) + `"}`, "dave"},
			{"unknown fields ignored", `{"username": "erin", "password": "12345678", "remember": true}`, "erin"},
			{"body of exactly 64 KiB", padTo(`{"username": "frank", "password": "12345678"}`, httpapi.MaxBodyBytes), "frank"},
		}
		for _, c := range ok {
			t.Run(c.name, func(t *testing.T) {
				r := e.send(t, "auth", "signup.json", "", "", withBody(c.body))
				r.wantJSON(t, 201, sessionJSON(c.username, t0))
				e.me(t, tokenOf(t, r)).wantJSON(t, 200, `{"username": "`+c.username+`"}`)
				e.wantNoNotes(t)
			})
		}

		refused := []struct {
			name   string
			mods   []mod
			file   string
			status int
			code   string
		}{
			{"bad JSON (file)", nil, "signup-invalid-json.json", 400, "invalid_json"},
			{"empty body", []mod{withBody("")}, "", 400, "invalid_json"},
			{"an array", []mod{withBody(`[{"username": "zed", "password": "12345678"}]`)}, "", 400, "invalid_json"},
			{"null", []mod{withBody(`null`)}, "", 400, "invalid_json"},
			{"a string", []mod{withBody(`"zed"`)}, "", 400, "invalid_json"},
			{"two objects", []mod{withBody(`{"username": "zed", "password": "12345678"} {}`)}, "", 400, "invalid_json"},
			{"a stray closing brace", []mod{withBody(`{"username": "zed", "password": "12345678"}}`)}, "", 400, "invalid_json"},
			{"a stray closing bracket", []mod{withBody(`{"username": "zed", "password": "12345678"}]`)}, "", 400, "invalid_json"},
			{"wrong type", []mod{withBody(`{"username": 5, "password": "12345678"}`)}, "", 400, "invalid_json"},
			{"bad base64", []mod{withBody(`{"username"`), func(ev *eventT) { ev.IsBase64Encoded = true }}, "", 400, "invalid_json"},
			{"username missing", []mod{withBody(`{"password": "12345678"}`)}, "", 400, "invalid_username"},
			{"username too short", []mod{withBody(`{"username": "ze", "password": "12345678"}`)}, "", 400, "invalid_username"},
			{"username too long", []mod{withBody(`{"username": "` + strings.Repeat("z", 33) + `", "password": "12345678"}`)}, "", 400, "invalid_username"},
			{"username with a bad character", []mod{withBody(`{"username": "zed!", "password": "12345678"}`)}, "", 400, "invalid_username"},
			{"username with a space", []mod{withBody(`{"username": "zed ", "password": "12345678"}`)}, "", 400, "invalid_username"},
			{"username not ASCII", []mod{withBody(`{"username": "zéd", "password": "12345678"}`)}, "", 400, "invalid_username"},
			{"Kelvin sign", []mod{withBody(`{"username": "\u212aate", "password": "12345678"}`)}, "", 400, "invalid_username"},
			{"bad username and password: username first", []mod{withBody(`{"username": "z", "password": "1"}`)}, "", 400, "invalid_username"},
			{"password missing", []mod{withBody(`{"username": "zed"}`)}, "", 400, "invalid_password"},
			{"password too short", []mod{withBody(`{"username": "zed", "password": "1234567"}`)}, "", 400, "invalid_password"},
			{"password too short in code points", []mod{withBody(`{"username": "zed", "password": "` + strings.Repeat("é", 7) + `"}`)}, "", 400, "invalid_password"},
			{"password too long", []mod{withBody(`{"username": "zed", "password": "` + strings.Repeat("p", 129) + `"}`)}, "", 400, "invalid_password"},
			{"taken", []mod{withBody(`{"username": "alice", "password": "another password"}`)}, "", 409, "username_taken"},
			{"taken in other case", []mod{withBody(`{"username": "ALICE", "password": "another password"}`)}, "", 409, "username_taken"},
			{"taken, bad password: 400 first", []mod{withBody(`{"username": "alice", "password": "short"}`)}, "", 400, "invalid_password"},
			{"over 64 KiB", []mod{withBody(padTo(`{"username": "zed", "password": "12345678"}`, httpapi.MaxBodyBytes+1))}, "", 413, "body_too_large"},
			{"over 64 KiB in base64", []mod{withBase64Body(padTo(`{"username": "zed", "password": "12345678"}`, httpapi.MaxBodyBytes+1))}, "", 413, "body_too_large"},
			{"taken, over 64 KiB", []mod{withBody(padTo(`{"username": "alice", "password": "12345678"}`, httpapi.MaxBodyBytes+1))}, "", 413, "body_too_large"},
		}
		for _, c := range refused {
			t.Run(c.name, func(t *testing.T) {
				file := c.file
				if file == "" {
					file = "signup.json"
				}
				e.unchanged(t, func() {
					e.send(t, "auth", file, "", "", c.mods...).wantError(t, c.status, c.code)
				})
				if _, err := e.raw.User(context.Background(), "zed"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("zed exists after a refused signup (%v)", err)
				}
			})
		}
	})
}

// padTo pads a JSON object with spaces to n bytes.
func padTo(body string, n int) string { return body + strings.Repeat(" ", n-len(body)) }

func TestLogin(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.send(t, "auth", "signup.json", "", "").wantStatus(t, 201)
		e.secret("correct horse battery staple")
		e.clock.Advance(time.Hour)

		for _, c := range []struct {
			name string
			file string
			mods []mod
		}{
			{"the file", "login.json", nil},
			{"base64 body (file)", "login-base64.json", nil},
			{"upper case username", "login.json", []mod{withBody(`{"username": "ALICE", "password": "correct horse battery staple"}`)}},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.send(t, "auth", c.file, "", "", c.mods...)
				r.wantJSON(t, 200, sessionJSON("alice", e.clock.Now()))
				tok := tokenOf(t, r)
				e.secret(tok)
				e.me(t, tok).wantJSON(t, 200, `{"username": "alice"}`)
				e.wantNoNotes(t)
			})
		}

		// A wrong password, an unknown user and a name no account can have
		// get the same answer, byte for byte.
		var bodies []string
		for _, c := range []struct {
			name string
			file string
			mods []mod
		}{
			{"wrong password (file)", "login-wrong-password.json", nil},
			{"unknown user", "login.json", []mod{withBody(`{"username": "zed", "password": "correct horse battery staple"}`)}},
			{"impossible username", "login.json", []mod{withBody(`{"username": "no way!", "password": "correct horse battery staple"}`)}},
			{"empty password", "login.json", []mod{withBody(`{"username": "alice", "password": ""}`)}},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.send(t, "auth", c.file, "", "", c.mods...)
				r.wantError(t, 401, "invalid_credentials")
				bodies = append(bodies, r.Body)
				e.wantNoNotes(t)
			})
		}
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Errorf("invalid_credentials bodies differ: %s and %s", bodies[0], b)
			}
		}
		e.secret("Tr0ub4dor&3")

		for _, c := range []struct {
			name   string
			mods   []mod
			status int
			code   string
		}{
			{"bad JSON", []mod{withBody(`{"username": "alice", "password": }`)}, 400, "invalid_json"},
			{"stray brace", []mod{withBody(`{"username": "alice", "password": "correct horse battery staple"}}`)}, 400, "invalid_json"},
			{"over 64 KiB", []mod{withBody(padTo(`{"username": "alice", "password": "correct horse battery staple"}`, httpapi.MaxBodyBytes+1))}, 413, "body_too_large"},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.send(t, "auth", "login.json", "", "", c.mods...).wantError(t, c.status, c.code)
			})
		}
	})
}

func TestLoginRateLimited(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob")
		login := func(username, password string) response {
			return e.send(t, "auth", "login.json", "", "", withJSON(map[string]string{"username": username, "password": password}))
		}
		e.secret("wrong password")
		for range maxFailedLogins {
			login("alice", "wrong password").wantError(t, 401, "invalid_credentials")
			login("zed", "wrong password").wantError(t, 401, "invalid_credentials")
		}
		// The limit is per username and holds even for the right password.
		login("alice", passwordOf("alice")).wantError(t, 429, "rate_limited")
		login("ALICE", passwordOf("alice")).wantError(t, 429, "rate_limited")
		login("zed", "wrong password").wantError(t, 429, "rate_limited")
		r := login("bob", passwordOf("bob"))
		r.wantStatus(t, 200)
		e.secret(tokenOf(t, r))
		// Sessions already open are not affected.
		e.me(t, e.token(t, "alice")).wantStatus(t, 200)

		// The limit slides over the last minute: once the failures are
		// a whole minute behind (two minutes on, wherever in its minute
		// the clock started), the count starts again.
		e.clock.Advance(2 * time.Minute)
		r = login("alice", passwordOf("alice"))
		r.wantJSON(t, 200, sessionJSON("alice", e.clock.Now()))
		e.secret(tokenOf(t, r))
		e.wantNoNotes(t)
	})
}

func TestMe(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice")
		e.me(t, e.token(t, "alice")).wantJSON(t, 200, `{"username": "alice"}`)
		e.send(t, "auth", "me-no-token.json", "", "").wantError(t, 401, "unauthenticated")
		// The scheme is case-insensitive, as RFC 9110 has it.
		e.send(t, "auth", "me.json", "", "", withHeader("authorization", "bearer "+e.token(t, "alice"))).wantJSON(t, 200, `{"username": "alice"}`)
		e.wantNoNotes(t)
	})
}

func TestLogout(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice")
		first := e.token(t, "alice")
		r := e.send(t, "auth", "login.json", "", "", withJSON(map[string]string{"username": "alice", "password": passwordOf("alice")}))
		second := tokenOf(t, r)
		e.secret(second)

		e.send(t, "auth", "logout.json", second, "").wantStatus(t, 204)
		notes := e.notes.take()
		if len(notes) != 1 || notes[0].session == nil || *notes[0].session != (auth.Identity{Username: "alice", TokenHash: mustHash(t, second)}) {
			t.Fatalf("notified %s, want SessionEnded for alice's second session", describeNotes(notes))
		}

		// The token stops working at once, on both functions; the other
		// session goes on.
		e.me(t, second).wantError(t, 401, "unauthenticated")
		e.send(t, "rooms", "list-rooms.json", second, "").wantError(t, 401, "unauthenticated")
		e.send(t, "auth", "logout.json", second, "").wantError(t, 401, "unauthenticated")
		e.wantNoNotes(t)
		e.me(t, first).wantJSON(t, 200, `{"username": "alice"}`)
		if _, err := e.raw.Session(context.Background(), mustHash(t, second)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the session is still stored (%v)", err)
		}

		// A failed notification does not undo the logout; it is logged.
		e.logs.take()
		e.notes.failWith(errors.New("management API unreachable"))
		r = e.send(t, "auth", "logout.json", first, "")
		r.wantStatus(t, 204)
		e.me(t, first).wantError(t, 401, "unauthenticated")
		wantLogLine(t, e.logs.take(), "WARN", r.req.RequestContext.RequestID, "management API unreachable")
	})
}

func mustHash(t *testing.T, token string) string {
	t.Helper()
	h, err := auth.TokenHash(token)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestUnauthenticated sends every authenticated route of both functions
// with every kind of bad credentials.
func TestUnauthenticated(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		// eve's session is opened first and so expires first.
		e.signup(t, "eve")
		e.clock.Advance(sessionTTL / 2)
		e.signup(t, "alice", "bob")
		roomID := e.createRoom(t, "alice", "general", "bob", "eve")
		e.clock.Advance(sessionTTL/2 - time.Second)
		e.me(t, e.token(t, "eve")).wantStatus(t, 200)
		e.clock.Advance(time.Second) // now exactly eve's expires_at

		r := e.send(t, "auth", "login.json", "", "", withJSON(map[string]string{"username": "alice", "password": passwordOf("alice")}))
		revoked := tokenOf(t, r)
		e.secret(revoked)
		e.send(t, "auth", "logout.json", revoked, "").wantStatus(t, 204)
		e.notes.take()

		unknown, _, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		alice := e.token(t, "alice")
		forms := []struct {
			name   string
			header string
		}{
			{"missing", ""},
			{"scheme only", "Bearer"},
			{"empty token", "Bearer "},
			{"malformed token", "Bearer not-a-token"},
			{"token too long", "Bearer " + alice + "A"},
			{"token not base64url", "Bearer " + strings.Repeat("*", len(alice))},
			{"no scheme", alice},
			{"Basic scheme", "Basic " + alice},
			{"token as a query-style value", "token=" + alice},
			{"unknown token", "Bearer " + unknown},
			{"expired token", "Bearer " + e.token(t, "eve")},
			{"revoked token", "Bearer " + revoked},
		}
		files := map[string][]string{
			"auth":  {"logout.json", "me.json"},
			"rooms": {"create-room.json", "list-rooms.json", "get-room.json", "rename-room.json", "add-members.json", "add-admins.json", "remove-member.json", "delete-room.json", "list-events.json", "list-events-before.json", "list-events-after.json"},
		}
		var body string
		e.unchanged(t, func() {
			for fn, list := range files {
				for _, file := range list {
					for _, f := range forms {
						t.Run(fn+"/"+file+"/"+f.name, func(t *testing.T) {
							r := e.send(t, fn, file, "", roomID, withHeader("authorization", f.header))
							r.wantError(t, 401, "unauthenticated")
							if body == "" {
								body = r.Body
							} else if r.Body != body {
								t.Errorf("unauthenticated bodies differ: %s and %s", body, r.Body)
							}
						})
					}
				}
			}
		})
		// The room is intact and alice's session still works.
		e.as(t, "alice", "get-room.json", roomID).wantStatus(t, 200)
	})
}
