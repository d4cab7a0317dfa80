package wsapi_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/wsapi"
)

func TestNewRefusesMissingDependencies(t *testing.T) {
	if _, err := wsapi.New(nil, nil, nil, nil, nil, nil); err == nil {
		t.Error("wsapi.New accepted nil dependencies")
	}
	if _, err := wsapi.NewNotifier(nil); err == nil {
		t.Error("wsapi.NewNotifier accepted nil dependencies")
	}
}

// TestGoneConnectionIsForgotten: a 410 during a broadcast takes that
// connection out of its rooms as $disconnect would (the others hear the
// leave) and removes its items; the others still get the frame.
func TestGoneConnectionIsForgotten(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
		a, b, c := e.connect(alice), e.connect(bob), e.connect(carol)
		roomID := e.room("alice", "general", "bob", "carol")
		other := e.room("carol", "other")
		for _, id := range []string{a, b, c} {
			e.join(id, roomID)
		}
		e.join(c, other)
		e.pusher.reset()
		// A minute on, carol's network went away without a close.
		e.clock.Advance(time.Minute)
		e.pusher.markGone(c)

		e.send(a, roomID, "c-1")

		stream := e.stream(roomID)
		left := stream[len(stream)-1]
		if left.Type() != chat.TypeUserLeft || left.Username != "carol" {
			t.Fatalf("last event %s by %s, want carol's user_left", left.Type(), left.Username)
		}
		sent := stream[len(stream)-2]
		for _, id := range []string{a, b} {
			got := e.frames(id)
			if len(got) != 2 || got[0].Type != "receive_message" || got[0].Seq != sent.Seq ||
				got[1].Type != "leave_room_announcement" || got[1].Seq != left.Seq {
				t.Errorf("%s got %s, want the message (seq %d) then carol's leave (seq %d)", id, describe(got), sent.Seq, left.Seq)
			}
		}
		if s := e.stream(other); s[len(s)-1].Type() != chat.TypeUserLeft {
			t.Errorf("carol's other room did not get her user_left")
		}
		e.connectionGone(c, roomID, other)
		if got := e.connections(roomID); !slices.Equal(got, slices.Sorted(slices.Values([]string{a, b}))) {
			t.Errorf("room's connections %q, want %s and %s", got, a, b)
		}

		// The next broadcast reaches only those left.
		e.send(b, roomID, "c-2")
		e.one(a, "receive_message")
		e.one(b, "receive_message")
		// Carol's leave queued behind the message that found her gone:
		// it must not have waited for that message's delivery to give up.
		if strings.Contains(e.logs.String(), "pushing out of turn") {
			t.Errorf("a leave waited out the delivery that found it:\n%s", e.logs.String())
		}
	})
}

// TestPushDuringConnectForgetsNothing: a socket that $connect recorded
// but API Gateway does not list yet (its handshake is still under way) is
// gone to a push; the push must not forget it, or its client would hold a
// socket the chat closes at its first frame. Past ConnectGrace a socket
// still gone is forgotten as before.
func TestPushDuringConnectForgetsNothing(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.userFrames = true
		alice, bob := e.user("alice"), e.user("bob")
		a := e.connect(alice)
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		b := e.connect(bob)
		e.pusher.reset()
		e.pusher.markGone(b) // listed by nothing yet: a post to it is 410

		e.send(a, roomID, "c-1")
		e.one(a, "receive_message")
		if _, err := e.store.Connection(t.Context(), b); err != nil {
			t.Fatalf("a push during bob's handshake forgot his socket: %v", err)
		}
		if !strings.Contains(e.logs.String(), "too young to forget") {
			t.Fatalf("the message's room list line never reached bob's socket, so the test proved nothing:\n%s", e.logs.String())
		}

		e.clock.Advance(wsapi.ConnectGrace)
		e.send(a, roomID, "c-2")
		e.one(a, "receive_message")
		e.connectionGone(b, roomID)
	})
}

func TestNotifierRename(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		alice, bob := e.user("alice"), e.user("bob")
		a, b, outsider := e.connect(alice), e.connect(bob), e.connect(alice)
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		e.join(b, roomID)
		e.pusher.reset()

		change, err := e.app.Rooms.Rename(ctx, "alice", roomID, "  news  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Notifier.RoomChanged(ctx, change); err != nil {
			t.Fatal(err)
		}

		renamed := e.last(roomID)
		want := []chat.Member{{Username: "alice", Role: chat.RoleOwner}, {Username: "bob", Role: chat.RoleMember}}
		for _, id := range []string{a, b} {
			f := e.one(id, "room_updated")
			if f.RoomID != roomID || f.Seq != renamed.Seq || f.Name != "news" || !slices.Equal(f.Members, want) {
				t.Errorf("%s got %+v, want seq %d, name news, members %v", id, f.raw, renamed.Seq, want)
			}
		}
		e.none(outsider) // alice's socket that has not joined the room

		// A change that appends nothing notifies nobody.
		if err := e.app.Notifier.RoomChanged(ctx, rooms.Change{Room: change.Room}); err != nil {
			t.Fatal(err)
		}
		e.none(a, b)
	})
}

func TestNotifierAddAndRemoveMember(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
		a, b1, b2, c := e.connect(alice), e.connect(bob), e.connect(bob), e.connect(carol)
		roomID := e.room("alice", "general", "bob")
		for _, id := range []string{a, b1, b2} {
			e.join(id, roomID)
		}
		e.pusher.reset()

		// Adding carol as admin: one room_updated with everyone.
		change, err := e.app.Rooms.AddMembers(ctx, "alice", roomID, []string{"carol"}, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Notifier.RoomChanged(ctx, change); err != nil {
			t.Fatal(err)
		}
		added := e.last(roomID)
		want := []chat.Member{{Username: "alice", Role: chat.RoleOwner}, {Username: "carol", Role: chat.RoleAdmin}, {Username: "bob", Role: chat.RoleMember}}
		for _, id := range []string{a, b1, b2} {
			if f := e.one(id, "room_updated"); f.Seq != added.Seq || !slices.Equal(f.Members, want) || f.Name != "general" {
				t.Errorf("%s got %+v after adding carol", id, f.raw)
			}
		}
		e.join(c, roomID)
		e.pusher.reset()

		// Removing bob: his sockets get removed_from_room and are out of
		// the room; the others get room_updated without him.
		change, err = e.app.Rooms.RemoveMember(ctx, "alice", roomID, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Notifier.RoomChanged(ctx, change); err != nil {
			t.Fatal(err)
		}
		removed := e.last(roomID)
		if removed.Type() != "member_removed" {
			t.Fatalf("stream ends with %s", removed.Type())
		}
		for _, id := range []string{b1, b2} {
			if f := e.one(id, "removed_from_room"); f.RoomID != roomID {
				t.Errorf("%s got %+v", id, f.raw)
			}
			if r := e.roomsOf(id); len(r) != 0 {
				t.Errorf("removed %s still in %q", id, r)
			}
		}
		want = []chat.Member{{Username: "alice", Role: chat.RoleOwner}, {Username: "carol", Role: chat.RoleAdmin}}
		for _, id := range []string{a, c} {
			if f := e.one(id, "room_updated"); f.RoomID != roomID || f.Seq != removed.Seq || f.Name != "general" || !slices.Equal(f.Members, want) {
				t.Errorf("%s got %+v, want room_updated seq %d without bob", id, f.raw, removed.Seq)
			}
		}
		if got := e.connections(roomID); !slices.Equal(got, slices.Sorted(slices.Values([]string{a, c}))) {
			t.Errorf("room's connections %q, want alice's and carol's", got)
		}

		// Bob's sockets are out: send, typing and leave are not_joined
		// (the sockets themselves stay open), and he cannot join again.
		n := len(e.stream(roomID))
		e.send(b1, roomID, "too-late")
		if f := e.one(b1, "error"); f.Code != "not_joined" || f.ClientMsgID != "too-late" {
			t.Errorf("send after removal: %+v, want not_joined", f.raw)
		}
		e.do(b2, "default/typing.json", "room_id", roomID)
		if f := e.one(b2, "error"); f.Code != "not_joined" {
			t.Errorf("typing after removal: %+v, want not_joined", f.raw)
		}
		e.do(b2, "leave_room/leave.json", "room_id", roomID)
		if f := e.one(b2, "error"); f.Code != "not_joined" {
			t.Errorf("leave after removal: %+v, want not_joined", f.raw)
		}
		e.join(b1, roomID)
		if f := e.one(b1, "error"); f.Code != "room_not_found" {
			t.Errorf("join after removal: %+v, want room_not_found", f.raw)
		}
		if len(e.stream(roomID)) != n {
			t.Error("the removed member's requests appended events")
		}
		e.none(a, c)
	})
}

func TestNotifierDelete(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		alice, bob := e.user("alice"), e.user("bob")
		a, b := e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		keep := e.room("bob", "kept", "alice")
		e.join(a, roomID)
		e.join(b, roomID)
		e.join(b, keep)
		e.pusher.reset()

		change, err := e.app.Rooms.Delete(ctx, "alice", roomID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Notifier.RoomChanged(ctx, change); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a, b} {
			if f := e.one(id, "room_deleted"); f.RoomID != roomID {
				t.Errorf("%s got %+v", id, f.raw)
			}
		}
		if got := e.connections(roomID); len(got) != 0 {
			t.Errorf("deleted room still has connections %q", got)
		}
		if got := e.roomsOf(b); !slices.Equal(got, []string{keep}) {
			t.Errorf("bob's socket is in %q, want only %s", got, keep)
		}

		e.send(a, roomID, "after-delete")
		if f := e.one(a, "error"); f.Code != "not_joined" {
			t.Errorf("send after delete: %+v, want not_joined", f.raw)
		}
		e.join(b, roomID)
		if f := e.one(b, "error"); f.Code != "room_not_found" {
			t.Errorf("join after delete: %+v, want room_not_found", f.raw)
		}
		// Closing the socket later announces nothing in the deleted room.
		e.do(a, "disconnect/disconnect.json")
		e.none(b)
		if last := e.last(roomID); last.Type() != "room_deleted" {
			t.Errorf("the deleted room's stream grew a %s", last.Type())
		}
	})
}

// TestNotifierSessionEnded: a logout closes exactly the sockets opened
// with that token; API Gateway then runs $disconnect for each.
func TestNotifierSessionEnded(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		alice, bob := e.user("alice"), e.user("bob")
		laptop, err := e.app.Auth.Login(ctx, "alice", "correct horse battery", "198.51.100.1")
		if err != nil {
			t.Fatal(err)
		}
		a1, a2, a3, b := e.connect(alice), e.connect(alice), e.connect(laptop), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		for _, id := range []string{a1, a3, b} {
			e.join(id, roomID)
		}
		e.pusher.reset()

		id, err := e.app.Auth.Authenticate(ctx, alice.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Auth.Logout(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := e.app.Notifier.SessionEnded(ctx, id); err != nil {
			t.Fatal(err)
		}
		got := slices.Sorted(slices.Values(e.pusher.disconnected))
		if want := slices.Sorted(slices.Values([]string{a1, a2})); !slices.Equal(got, want) {
			t.Fatalf("closed %q, want exactly the sockets of the token, %q", got, want)
		}

		// API Gateway runs $disconnect for each closed socket.
		for _, c := range got {
			e.do(c, "disconnect/disconnect.json")
		}
		left := e.last(roomID)
		if f := e.one(b, "leave_room_announcement"); f.Seq != left.Seq || f.Username != "alice" {
			t.Errorf("bob got %+v", f.raw)
		}
		if f := e.one(a3, "leave_room_announcement"); f.Seq != left.Seq {
			t.Errorf("alice's laptop got %+v", f.raw)
		}
		e.connectionGone(a1, roomID)
		e.connectionGone(a2)
		if _, err := e.store.Connection(ctx, a3); err != nil {
			t.Errorf("the laptop's socket: %v", err)
		}

		// A socket API Gateway no longer knows is forgotten at once.
		id3, err := e.app.Auth.Authenticate(ctx, laptop.Token)
		if err != nil {
			t.Fatal(err)
		}
		e.pusher.markGone(a3)
		if err := e.app.Notifier.SessionEnded(ctx, id3); err != nil {
			t.Fatal(err)
		}
		e.connectionGone(a3, roomID)
	})
}

// TestInternalErrors: a store failure is an internal error frame to the
// caller, with nothing of the failure in it, and one ERROR log line with
// the request id; $connect answers 500.
func TestInternalErrors(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a, b := e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		e.join(b, roomID)
		e.pusher.reset()
		before := len(e.stream(roomID))
		secret := errors.New("operation error DynamoDB: TransactWriteItems, arn:aws:dynamodb:us-east-1:123456789012:table/chat-prod throttled")

		check := func(name, requestID string) {
			t.Helper()
			lines := e.logs.Lines(t)
			if len(lines) != 1 {
				t.Fatalf("%s: %d log lines %v, want one", name, len(lines), lines)
			}
			l := lines[0]
			if l["level"] != "ERROR" || l["request_id"] != requestID || !strings.Contains(l["error"].(string), "throttled") {
				t.Errorf("%s: log line %v, want ERROR with request_id %s and the error", name, l, requestID)
			}
			e.logs.Reset()
		}

		// The append fails.
		e.store.failOn("Append", secret)
		ev := e.event("send_message/send.json", "connection_id", a, "room_id", roomID, "client_msg_id", "c-1")
		if resp := e.call(ev); resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
		f := e.one(a, "error")
		if f.Code != "internal" || f.Action != "send_message" || f.RoomID != roomID || f.ClientMsgID != "c-1" {
			t.Errorf("error frame %+v, want internal for send_message", f.raw)
		}
		if strings.Contains(f.Message, "DynamoDB") || strings.Contains(f.Message, "arn:") || strings.Contains(f.Message, "throttled") || f.Message == "" {
			t.Errorf("error message %q leaks the failure", f.Message)
		}
		e.none(b)
		check("send_message", ev.RequestContext.RequestID)

		// The same for a join.
		ev = e.event("join_room/join.json", "connection_id", b, "room_id", roomID)
		e.call(ev)
		if f := e.one(b, "error"); f.Code != "internal" || f.Action != "join_room" || f.Message != "something went wrong on our side; try again" {
			t.Errorf("join error frame %+v", f.raw)
		}
		check("join_room", ev.RequestContext.RequestID)
		e.store.failOn("Append", nil)
		if n := len(e.stream(roomID)); n != before {
			t.Errorf("failed requests appended %d events", n-before)
		}

		// Listing the socket's rooms fails: typing is internal too.
		e.store.failOn("ConnectionRooms", secret)
		ev = e.event("default/typing.json", "connection_id", a, "room_id", roomID)
		e.call(ev)
		if f := e.one(a, "error"); f.Code != "internal" || f.Action != "typing" {
			t.Errorf("typing error frame %+v", f.raw)
		}
		e.none(b)
		check("typing", ev.RequestContext.RequestID)
		e.store.failOn("ConnectionRooms", nil)

		// $connect cannot record the connection: 500, nothing recorded.
		e.store.failOn("PutConnection", secret)
		id := newConnectionID()
		ev = e.event("connect/connect.json", "ticket", e.ticket(alice), "connection_id", id)
		if resp := e.call(ev); resp.StatusCode != 500 || strings.Contains(resp.Body, "throttled") {
			t.Errorf("$connect: status %d body %q, want a bare 500", resp.StatusCode, resp.Body)
		}
		e.connectionGone(id)
		e.none(id)
		check("$connect", ev.RequestContext.RequestID)
	})
}
