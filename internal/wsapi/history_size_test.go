package wsapi_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestHistoryFitsOnePost: a history of long messages stays under API
// Gateway's 128 KiB limit on a posted message, and says more remain.
func TestHistoryFitsOnePost(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a, b := e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		long := strings.Repeat("é", 4000) // 8,000 bytes of JSON each
		for i := range 40 {
			e.frame(a, "send_message/send.json", fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"m%d","text":%q}`, roomID, i, long))
		}
		e.pusher.reset()
		for _, resume := range []bool{false, true} {
			body := fmt.Sprintf(`{"action":"join_room","room_id":%q}`, roomID)
			if resume {
				body = fmt.Sprintf(`{"action":"join_room","room_id":%q,"after_seq":0}`, roomID)
			}
			e.frame(b, "join_room/join.json", body)
			raws := e.pusher.take(b)
			if len(raws) == 0 {
				t.Fatal("no history frame")
			}
			h := raws[0]
			if len(h) > 128<<10 {
				t.Fatalf("resume=%v: history frame is %d bytes, over 128 KiB", resume, len(h))
			}
			if !strings.Contains(string(h), `"has_more":true`) {
				t.Fatalf("resume=%v: a cut history does not say has_more", resume)
			}
		}
	})
}
