package wsapi_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/wsapi"
)

func TestConnectRecordsTheConnection(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice := e.user("alice")
		id := newConnectionID()
		resp := e.call(e.event("connect/connect.json", "token", alice.Token, "connection_id", id))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		c, err := e.store.Connection(t.Context(), id)
		if err != nil {
			t.Fatalf("connection item: %v", err)
		}
		hash, _ := auth.TokenHash(alice.Token)
		if c.Username != "alice" || c.SessionHash != hash || c.ConnectedAt.IsZero() || !c.ExpiresAt.After(c.ConnectedAt) {
			t.Errorf("connection item = %+v", c)
		}
		conns, err := e.store.SessionConnections(t.Context(), hash)
		if err != nil || len(conns) != 1 || conns[0] != id {
			t.Errorf("session's connections = %q, %v; want [%s]", conns, err, id)
		}
		e.none(id) // a handshake is answered by its status alone
	})
}

func TestConnectRefusesBadTokens(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		unknown, _, _ := auth.NewToken()
		revoked := e.user("bob")
		id, err := e.app.Auth.Authenticate(ctx, revoked.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Auth.Logout(ctx, id); err != nil {
			t.Fatal(err)
		}
		expiring := e.user("carol")

		cases := map[string]func() wsapi.Event{
			"no token": func() wsapi.Event {
				return e.event("connect/connect_no_token.json", "connection_id", newConnectionID())
			},
			"empty token": func() wsapi.Event {
				return e.event("connect/connect.json", "token", "", "connection_id", newConnectionID())
			},
			"malformed token": func() wsapi.Event {
				return e.event("connect/connect.json", "token", "not-a-token", "connection_id", newConnectionID())
			},
			"unknown token": func() wsapi.Event {
				return e.event("connect/connect.json", "token", unknown, "connection_id", newConnectionID())
			},
			"revoked token": func() wsapi.Event {
				return e.event("connect/connect.json", "token", revoked.Token, "connection_id", newConnectionID())
			},
			"expired token": func() wsapi.Event {
				e.clock.Advance(sessionTTL)
				return e.event("connect/connect.json", "token", expiring.Token, "connection_id", newConnectionID())
			},
		}
		// The expired case moves the clock, so it runs last.
		for _, name := range []string{"no token", "empty token", "malformed token", "unknown token", "revoked token", "expired token"} {
			ev := cases[name]()
			resp := e.call(ev)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
			}
			connID := ev.RequestContext.ConnectionID
			if _, err := e.store.Connection(ctx, connID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: connection item: %v, want none", name, err)
			}
			e.none(connID)
		}
		for _, s := range []auth.Session{revoked, expiring} {
			hash, _ := auth.TokenHash(s.Token)
			if conns, err := e.store.SessionConnections(ctx, hash); err != nil || len(conns) != 0 {
				t.Errorf("%s's session has connections %q (%v), want none", s.Username, conns, err)
			}
		}
		if l := e.logs.Lines(t); len(l) != 0 {
			t.Errorf("refused handshakes logged %v; a bad token is not a failure", l)
		}

		// Just before expiry the token still works.
		dave := e.user("dave")
		e.clock.Advance(sessionTTL - 10*time.Millisecond)
		e.connect(dave)
	})
}

func TestDisconnectLeavesEveryRoom(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
		a1, a2, b, c := e.connect(alice), e.connect(alice), e.connect(bob), e.connect(carol)
		general := e.room("alice", "general", "bob")
		random := e.room("carol", "random", "alice")
		e.join(a1, general)
		e.join(a1, random)
		e.join(a2, general) // alice's second tab stays
		e.join(b, general)
		e.join(c, random)
		e.pusher.reset()

		e.do(a1, "disconnect/disconnect.json")

		for roomID, others := range map[string][]string{general: {a2, b}, random: {c}} {
			left := e.last(roomID)
			if left.Type() != "user_left" || left.Username != "alice" {
				t.Fatalf("room %s ends with %s by %s, want user_left by alice", roomID, left.Type(), left.Username)
			}
			for _, id := range others {
				f := e.one(id, "leave_room_announcement")
				if f.RoomID != roomID || f.Seq != left.Seq || f.Username != "alice" || f.At != at(left) {
					t.Errorf("%s got %+v, want the announcement of seq %d in %s", id, f, left.Seq, roomID)
				}
			}
		}
		e.none(a1) // the socket is closed; nothing is posted to it
		e.connectionGone(a1, general, random)
		hash, _ := auth.TokenHash(alice.Token)
		conns, err := e.store.SessionConnections(t.Context(), hash)
		if err != nil || len(conns) != 1 || conns[0] != a2 {
			t.Errorf("alice's session has connections %q (%v), want only the open %s", conns, err, a2)
		}

		// API Gateway may deliver $disconnect for a connection already
		// cleaned up (or never recorded): nothing happens.
		before := len(e.stream(general))
		e.do(a1, "disconnect/disconnect.json")
		e.do(newConnectionID(), "disconnect/disconnect.json")
		if n := len(e.stream(general)); n != before {
			t.Errorf("a second $disconnect appended %d events", n-before)
		}
		e.none(a2, b, c)
	})
}
