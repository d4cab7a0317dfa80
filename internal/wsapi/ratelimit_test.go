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
