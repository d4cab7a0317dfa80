package wsapi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/wsapi"
)

// TestSendRateLimit: a connection sends a burst of twice the rate per
// window, then hears rate_limited (nothing stored) until the next window;
// another connection of the same person has its own allowance.
func TestSendRateLimit(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice := e.user("alice")
		a, a2 := e.connect(alice), e.connect(alice)
		roomID := e.room("alice", "general")
		e.join(a, roomID)
		e.join(a2, roomID)
		// Start at the beginning of a window, so the burst stays in one.
		e.clock.Advance(2*time.Second - time.Duration(e.clock.Now().UnixNano()%int64(2*time.Second)))
		e.pusher.reset()
		tag := map[string]string{a: "a", a2: "b"}
		sendAs := func(conn string, i int) {
			e.frame(conn, "send_message/send.json", fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"m%s%d","text":"hi"}`, roomID, tag[conn], i))
		}
		before := len(e.stream(roomID))
		for i := range 2 * wsapi.SendRate {
			sendAs(a, i)
		}
		if got := len(e.stream(roomID)) - before; got != 2*wsapi.SendRate {
			t.Fatalf("the burst stored %d messages, want %d", got, 2*wsapi.SendRate)
		}
		e.pusher.reset()
		sendAs(a, 999)
		if f := e.one(a, "error"); f.Code != "rate_limited" {
			t.Fatalf("send past the burst: %v, want rate_limited", f)
		}
		if got := len(e.stream(roomID)) - before; got != 2*wsapi.SendRate {
			t.Fatal("a refused send was stored")
		}
		sendAs(a2, 0) // the other tab has its own allowance
		if f := e.frames(a2); len(f) != 1 || f[0].Type != "receive_message" {
			t.Fatalf("other connection got %s, want its message", describe(f))
		}
		e.pusher.reset()
		e.clock.Advance(2 * time.Second)
		sendAs(a, 1000)
		if f := e.frames(a); len(f) != 1 || f[0].Type != "receive_message" {
			t.Fatalf("next window got %s, want the message", describe(f))
		}
	})
}

// TestJoinAndLeaveRateLimit: joins and leaves together are limited per
// connection, so a member cannot flood a room's history with them; a
// refused one appends nothing and tells only the caller.
func TestJoinAndLeaveRateLimit(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		a, b := e.connect(e.user("alice")), e.connect(e.user("bob"))
		roomID := e.room("alice", "general", "bob")
		e.join(b, roomID)
		// Start at the beginning of a window, so the burst stays in one.
		e.clock.Advance(10*time.Second - time.Duration(e.clock.Now().UnixNano()%int64(10*time.Second)))
		before := len(e.stream(roomID))
		for i := range wsapi.MaxJoinsAndLeaves {
			if i%2 == 0 {
				e.join(a, roomID)
			} else {
				e.do(a, "leave_room/leave.json", "room_id", roomID)
			}
		}
		if got := len(e.stream(roomID)) - before; got != wsapi.MaxJoinsAndLeaves {
			t.Fatalf("%d joins and leaves stored %d events", wsapi.MaxJoinsAndLeaves, got)
		}
		e.pusher.reset()
		e.join(a, roomID)
		if f := e.one(a, "error"); f.Code != "rate_limited" || f.Action != "join_room" {
			t.Fatalf("join past the limit: %v, want rate_limited", f.raw)
		}
		e.none(b)
		if got := len(e.stream(roomID)) - before; got != wsapi.MaxJoinsAndLeaves {
			t.Fatal("a refused join was stored")
		}
		e.clock.Advance(10 * time.Second)
		e.join(a, roomID)
		if f := e.frames(a); len(f) != 2 || f[0].Type != "history" || f[1].Type != "join_room_announcement" {
			t.Fatalf("join in the next window got %s, want history and the announcement", describe(f))
		}
	})
}

// TestTypingPastTheRateIsDropped: typing frames past MaxTypingPerSecond
// reach nobody and answer nothing.
func TestTypingPastTheRateIsDropped(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		a, b := e.connect(e.user("alice")), e.connect(e.user("bob"))
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		e.join(b, roomID)
		e.clock.Advance(time.Second - time.Duration(e.clock.Now().UnixNano()%int64(time.Second)))
		e.pusher.reset()
		for range 3 * wsapi.MaxTypingPerSecond {
			e.do(a, "default/typing.json", "room_id", roomID)
		}
		if f := e.frames(b); len(f) != wsapi.MaxTypingPerSecond {
			t.Fatalf("bob got %s for %d typing frames, want %d", describe(f), 3*wsapi.MaxTypingPerSecond, wsapi.MaxTypingPerSecond)
		}
		e.none(a)
		e.pusher.reset()
		e.clock.Advance(time.Second)
		e.do(a, "default/typing.json", "room_id", roomID)
		if f := e.frames(b); len(f) != 1 || f[0].Type != "typing" {
			t.Fatalf("typing in the next second: bob got %s", describe(f))
		}
	})
}
