package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/store"
)

// TestDroppedDisconnectRecovers: API Gateway runs $disconnect on a
// best-effort basis. When it never comes, the connection's records stay
// until the next push to it: the management API answers 410, and the
// handlers forget the connection as $disconnect would have, its leave
// announced to the room and its presence gone. (What no push ever finds
// is bounded by the records' TTL.)
func TestDroppedDisconnectRecovers(t *testing.T) {
	for name, opts := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var drop atomic.Bool
			dropped := make(chan string, 1)
			o := opts(t)
			// Bob's socket goes a moment after it opened; a push leaves a
			// socket that young to its $disconnect for 30 s, which this
			// test would otherwise wait out.
			o.ConnectGrace = time.Millisecond
			o.DropDisconnect = func(id string) bool {
				if drop.CompareAndSwap(true, false) {
					dropped <- id
					return true
				}
				return false
			}
			e := start(t, o)
			alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
			_, room := alice.do("POST", "/rooms", map[string]any{"name": "r", "members": []string{"bob"}})
			id := room["room_id"].(string)
			a, b := alice.connect(), bob.connect()
			joinBoth(id, a, b)

			// Bob's socket closes and its $disconnect is lost.
			drop.Store(true)
			_ = b.c.Close(websocket.StatusNormalClosure, "")
			var bobID string
			select {
			case bobID = <-dropped:
			case <-time.After(10 * time.Second):
				t.Fatal("no close reached the gateway")
			}
			ctx := context.Background()
			if _, err := e.Store.Connection(ctx, bobID); err != nil {
				t.Fatalf("the dropped $disconnect left no connection behind (%v): the fault did nothing", err)
			}

			// The management API knows the connection is gone.
			req, _ := http.NewRequest("POST", e.URL+"/@connections/"+url.PathEscape(bobID), strings.NewReader("{}"))
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20261203/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusGone {
				t.Fatalf("post to the dropped connection: %d, want 410", resp.StatusCode)
			}

			// The next broadcast finds it gone: Bob's leave is announced.
			a.send(fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"a1","text":"anyone?"}`, id))
			a.next("receive_message")
			if ann := a.next("leave_room_announcement"); ann["username"] != "bob" {
				t.Fatalf("got %v, want bob's leave", ann)
			}
			// And the connection is forgotten: its record, its presence.
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err := e.Store.Connection(ctx, bobID)
				if errors.Is(err, store.ErrNotFound) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the gone connection is still stored: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			h := alice.connect().join(id)
			online, _ := h["online"].([]any)
			if slices.Contains(online, any("bob")) {
				t.Fatalf("bob still online: %v", online)
			}
			if !slices.Contains(online, any("alice")) {
				t.Fatalf("online %v, want alice", online)
			}
		})
	}
}
