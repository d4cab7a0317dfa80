package httpapi_test

import (
	"strings"
	"testing"
)

// TestStrictBodies: a body's fields are taken exactly as sent or refused,
// never rewritten. A field holding invalid UTF-8 or a lone surrogate,
// given twice, or under a key that differs from its name only in case
// gets that field's code (admin, which has none, invalid_json); invalid
// UTF-8 in a member the route does not take is invalid_json; the first
// field a route judges goes first. Nothing is stored for a refusal.
func TestStrictBodies(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol")
		roomID := e.createRoom(t, "alice", "general", "bob")
		// A password holding a real U+FFFD: a lone surrogate must not log in
		// as it, as it did when encoding/json rewrote one to the other.
		e.send(t, "auth", "signup.json", "", "", withBody(`{"username": "dave", "password": "pass \ufffd word"}`)).wantStatus(t, 201)
		e.secret("pass \ufffd word")

		type refusal struct {
			fn, file, roomID string
			token            bool // as alice
			body             string
			status           int
			code             string
		}
		signup := func(body string, code string) refusal {
			return refusal{"auth", "signup.json", "", false, body, 400, code}
		}
		login := func(body string, code string) refusal {
			return refusal{"auth", "login.json", "", false, body, 400, code}
		}
		create := func(body string, code string) refusal {
			return refusal{"rooms", "create-room.json", "", true, body, 400, code}
		}
		rename := func(body string, code string) refusal {
			return refusal{"rooms", "rename-room.json", roomID, true, body, 400, code}
		}
		add := func(body string, code string) refusal {
			return refusal{"rooms", "add-members.json", roomID, true, body, 400, code}
		}
		cases := map[string]refusal{
			"signup: username with an invalid byte":        signup(`{"username": "zed`+"\xff"+`", "password": "12345678"}`, "invalid_username"),
			"signup: password with an invalid byte":        signup(`{"username": "zed", "password": "1234`+"\xff"+`5678"}`, "invalid_password"),
			"signup: password with an encoded surrogate":   signup(`{"username": "zed", "password": "1234`+"\xed\xa0\x80"+`5678"}`, "invalid_password"),
			"signup: password with a lone high surrogate":  signup(`{"username": "zed", "password": "1234\ud8005678"}`, "invalid_password"),
			"signup: password with a lone low surrogate":   signup(`{"username": "zed", "password": "1234\udc005678"}`, "invalid_password"),
			"signup: password ending in a high surrogate":  signup(`{"username": "zed", "password": "12345678\ud83d"}`, "invalid_password"),
			"signup: username twice":                       signup(`{"username": "zed", "username": "zoe", "password": "12345678"}`, "invalid_username"),
			"signup: USERNAME":                             signup(`{"USERNAME": "zed", "password": "12345678"}`, "invalid_username"),
			"signup: Password beside password":             signup(`{"username": "zed", "password": "12345678", "Password": "87654321"}`, "invalid_password"),
			"signup: paſſword":                             signup(`{"username": "zed", "paſſword": "12345678"}`, "invalid_password"),
			"signup: both bad, username first":             signup(`{"password": "\ud800", "username": "\ud800"}`, "invalid_username"),
			"signup: another member with a lone surrogate": signup(`{"username": "zed", "password": "12345678", "note": "\ud800"}`, "invalid_json"),
			"signup: a key with an invalid byte":           signup(`{"username": "zed", "password": "12345678", "`+"\xff"+`": 1}`, "invalid_json"),
			"login: lone surrogate for a real U+FFFD":      login(`{"username": "dave", "password": "pass \ud800 word"}`, "invalid_password"),
			"login: invalid byte for a real U+FFFD":        login(`{"username": "dave", "password": "pass `+"\xff"+` word"}`, "invalid_password"),
			"login: USERNAME":                              login(`{"USERNAME": "alice", "password": "`+passwordOf("alice")+`"}`, "invalid_username"),
			"login: password twice":                        login(`{"username": "alice", "password": "wrong", "password": "`+passwordOf("alice")+`"}`, "invalid_password"),
			"create: name with an invalid byte":            create(`{"name": "caf`+"\xe9"+`", "members": []}`, "invalid_room_name"),
			"create: name with a lone surrogate":           create(`{"name": "room \udbff", "members": []}`, "invalid_room_name"),
			"create: NAME":                                 create(`{"NAME": "room", "members": []}`, "invalid_room_name"),
			"create: name twice":                           create(`{"name": "room", "name": "other", "members": []}`, "invalid_room_name"),
			"create: a member with a lone surrogate":       create(`{"name": "room", "members": ["bob", "\udc00"]}`, "invalid_username"),
			"create: Members":                              create(`{"name": "room", "Members": ["bob"]}`, "invalid_username"),
			"create: members twice":                        create(`{"name": "room", "members": [], "members": ["bob"]}`, "invalid_username"),
			"create: both bad, name first":                 create(`{"members": ["\ud800"], "name": "\ud800"}`, "invalid_room_name"),
			"rename: name with a lone surrogate":           rename(`{"name": "\ud800"}`, "invalid_room_name"),
			"rename: Name beside name":                     rename(`{"name": "a", "Name": "b"}`, "invalid_room_name"),
			"add: ADMIN":                                   add(`{"usernames": ["carol"], "ADMIN": true}`, "invalid_json"),
			"add: admin twice":                             add(`{"usernames": ["carol"], "admin": false, "admin": true}`, "invalid_json"),
			"add: Usernames":                               add(`{"Usernames": ["carol"]}`, "invalid_username"),
			"add: a name with an invalid byte":             add(`{"usernames": ["carol`+"\xff"+`"]}`, "invalid_username"),
			"add: both bad, usernames first":               add(`{"admin": 1, "Admin": 2, "usernames": ["\ud800"]}`, "invalid_username"),
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				token := ""
				if c.token {
					token = e.token(t, "alice")
				}
				e.unchanged(t, func() {
					e.send(t, c.fn, c.file, token, c.roomID, withBody(c.body)).wantError(t, c.status, c.code)
				})
			})
		}

		// Membership is still judged before the body.
		e.send(t, "rooms", "rename-room.json", e.token(t, "carol"), roomID, withBody(`{"name": "\ud800", "NAME": 1}`)).wantError(t, 404, "room_not_found")

		// A paired surrogate escape is the character it encodes, and the
		// same password sent raw logs in.
		e.send(t, "auth", "signup.json", "", "", withBody(`{"username": "erin", "password": "\ud83d\ude00 \uD83D\uDE00 1234"}`)).wantStatus(t, 201)
		e.secret("😀 😀 1234")
		r := e.send(t, "auth", "login.json", "", "", withBody(`{"username": "erin", "password": "😀 😀 1234"}`))
		r.wantStatus(t, 200)
		e.secret(tokenOf(t, r))
		r = e.as(t, "alice", "create-room.json", "", withBody(`{"name": "caf\u00e9 \ud83d\ude00 `+"\uFFFD"+`", "members": []}`))
		r.wantStatus(t, 201)
		if !strings.Contains(r.Body, `"name":"café 😀 `+"\uFFFD"+`"`) {
			t.Errorf("room created as %s, want the name café 😀 U+FFFD", r.Body)
		}
	})
}
