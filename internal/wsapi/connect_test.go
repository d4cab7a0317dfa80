package wsapi_test

import (
	"errors"
	"net/http"
	"slices"
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
		resp := e.call(e.event("connect/connect.json", "ticket", e.ticket(alice), "connection_id", id))
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

func TestConnectRefusesBadTickets(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		unknown, _, _ := auth.NewToken()
		used := e.ticket(e.user("erin"))
		e.connect(e.user("erin2")) // another's handshake, to be sure used is refused for being used
		if resp := e.call(e.event("connect/connect.json", "ticket", used, "connection_id", newConnectionID())); resp.StatusCode != http.StatusOK {
			t.Fatalf("first use of a ticket: status %d", resp.StatusCode)
		}
		revoked := e.user("bob")
		revokedTicket := e.ticket(revoked)
		id, err := e.app.Auth.Authenticate(ctx, revoked.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Auth.Logout(ctx, id); err != nil {
			t.Fatal(err)
		}
		frank := e.user("frank")
		expiring := e.ticket(e.user("carol"))

		cases := map[string]func() wsapi.Event{
			"no ticket": func() wsapi.Event {
				return e.event("connect/connect_no_ticket.json", "connection_id", newConnectionID())
			},
			"empty ticket": func() wsapi.Event {
				return e.event("connect/connect.json", "ticket", "", "connection_id", newConnectionID())
			},
			"malformed ticket": func() wsapi.Event {
				return e.event("connect/connect.json", "ticket", "not-a-ticket", "connection_id", newConnectionID())
			},
			"unknown ticket": func() wsapi.Event {
				return e.event("connect/connect.json", "ticket", unknown, "connection_id", newConnectionID())
			},
			"used ticket": func() wsapi.Event {
				return e.event("connect/connect.json", "ticket", used, "connection_id", newConnectionID())
			},
			"ticket of an ended session": func() wsapi.Event {
				return e.event("connect/connect.json", "ticket", revokedTicket, "connection_id", newConnectionID())
			},
			"session token as a ticket": func() wsapi.Event {
				return e.event("connect/connect.json", "ticket", frank.Token, "connection_id", newConnectionID())
			},
			"session token, the old way": func() wsapi.Event {
				ev := e.event("connect/connect_no_ticket.json", "connection_id", newConnectionID())
				ev.QueryStringParameters = map[string]string{"token": frank.Token}
				return ev
			},
			"expired ticket": func() wsapi.Event {
				e.clock.Advance(auth.TicketTTL)
				return e.event("connect/connect.json", "ticket", expiring, "connection_id", newConnectionID())
			},
		}
		// The expired case moves the clock, so it runs last.
		for _, name := range []string{"no ticket", "empty ticket", "malformed ticket", "unknown ticket", "used ticket", "ticket of an ended session", "session token as a ticket", "session token, the old way", "expired ticket"} {
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
		hash, _ := auth.TokenHash(revoked.Token)
		if conns, err := e.store.SessionConnections(ctx, hash); err != nil || len(conns) != 0 {
			t.Errorf("the ended session has connections %q (%v), want none", conns, err)
		}
		if l := e.logs.Lines(t); len(l) != 0 {
			t.Errorf("refused handshakes logged %v; a bad ticket is not a failure", l)
		}

		// Just before expiry a ticket still works.
		dave, err := e.app.Auth.Authenticate(ctx, e.user("dave").Token)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := e.app.Auth.IssueTicket(ctx, dave)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(fresh.ExpiresAt.Sub(e.clock.Now()) - 10*time.Millisecond)
		if resp := e.call(e.event("connect/connect.json", "ticket", fresh.Value, "connection_id", newConnectionID())); resp.StatusCode != http.StatusOK {
			t.Errorf("a ticket just before its expiry: status %d, want 200", resp.StatusCode)
		}
	})
}

// TestConnectionsPerUserAreBounded: one person holds at most
// MaxConnectionsPerUser sockets, whatever their sessions.
func TestConnectionsPerUserAreBounded(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice := e.user("alice")
		laptop, err := e.app.Auth.Login(t.Context(), "alice", "correct horse battery", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		var conns []string
		for i := range wsapi.MaxConnectionsPerUser {
			s := alice
			if i%2 == 1 {
				s = laptop
			}
			conns = append(conns, e.connect(s))
		}
		id := newConnectionID()
		if resp := e.call(e.event("connect/connect.json", "ticket", e.ticket(laptop), "connection_id", id)); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("socket %d: status %d, want 429", wsapi.MaxConnectionsPerUser+1, resp.StatusCode)
		}
		if _, err := e.store.Connection(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused socket was recorded: %v", err)
		}
		e.connect(e.user("bob")) // others are not affected
		e.do(conns[0], "disconnect/disconnect.json")
		e.connect(alice)
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

// TestLateJoinIsSweptAtDisconnect: a join_room still running when a push
// found its socket gone (and removed the connection) puts the connection
// in the room after the cleanup. Its $disconnect, which API Gateway runs
// after the socket's invocations, takes it out again though the
// connection item is gone, and so does the next push that finds it gone.
func TestLateJoinIsSweptAtDisconnect(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice := e.user("alice")
		a, late := e.connect(alice), e.connect(alice)
		roomID := e.room("alice", "general")
		e.join(a, roomID)
		if err := e.store.DeleteConnection(t.Context(), late); err != nil {
			t.Fatal(err)
		}
		// The join that was still running lands now.
		r, err := e.store.Room(t.Context(), roomID)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := r.Join("alice", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Append(t.Context(), store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Messages: r.Messages, Events: evs,
			Join: &store.Presence{ConnectionID: late, Username: "alice", ExpiresAt: time.Now().Add(time.Hour)}}); err != nil {
			t.Fatal(err)
		}
		if got := e.connections(roomID); !slices.Contains(got, late) {
			t.Fatalf("the late join is not in the room (%v): the test sets nothing up", got)
		}
		e.do(late, "disconnect/disconnect.json")
		if got := e.connections(roomID); slices.Contains(got, late) {
			t.Fatalf("after $disconnect the room still lists the late joiner: %v", got)
		}
	})
}
