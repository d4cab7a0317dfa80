package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestLogoutRaceLeavesNoSocket races handshakes against the logout of
// their session, round after round: whatever the interleaving, once logout
// has answered no socket of the session may join, send or receive. A
// handshake the logout overtook is refused; one that got in first is
// closed; one whose socket opened just after the logout (its $connect had
// been recorded) is closed at its first frame and never hears the room.
func TestLogoutRaceLeavesNoSocket(t *testing.T) {
	const rounds, handshakes = 30, 8
	for _, name := range []string{"bbolt", "dynamodb"} {
		t.Run(name, func(t *testing.T) {
			e := start(t, stores[name](t))
			signup(t, e, "alice")
			bob := signup(t, e, "bob")
			_, room := bob.do("POST", "/rooms", map[string]any{"name": "r", "members": []string{"alice"}})
			roomID := room["room_id"].(string)
			b := bob.connect()
			b.join(roomID)
			b.next("join_room_announcement")
			wsBase := strings.Replace(e.URL, "http", "ws", 1) + "/ws?ticket="

			var refused, closed int
			for round := range rounds {
				session := login(t, e.URL, "alice")
				tickets := make([]string, handshakes)
				for i := range tickets {
					tickets[i] = (&user{t: t, base: e.URL, name: "alice", token: session}).ticket()
				}
				sockets := make([]*websocket.Conn, handshakes)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range tickets {
					wg.Go(func() {
						<-start
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						c, resp, err := websocket.Dial(ctx, wsBase+tickets[i], nil)
						switch {
						case err == nil:
							sockets[i] = c
						case resp == nil || resp.StatusCode != http.StatusUnauthorized:
							t.Errorf("round %d: handshake %d: %v, want a socket or 401", round, i, err)
						}
					})
				}
				close(start)
				time.Sleep(time.Duration(round%5) * time.Millisecond) // vary the interleaving
				logout(t, e.URL, session)
				wg.Wait()

				// Logout has answered: every socket that opened must be
				// closed or close at its first frame, and hear nothing.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				for _, c := range sockets {
					if c != nil {
						_ = c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"action":"join_room","room_id":%q}`, roomID))
					}
				}
				b.send(fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"r%d","text":"after logout"}`, roomID, round))
				b.next("receive_message")
				for i, c := range sockets {
					if c == nil {
						refused++
						continue
					}
					frames, err := readUntilClosed(ctx, c)
					if len(frames) > 0 {
						t.Fatalf("round %d: socket %d of an ended session received %q", round, i, frames)
					}
					if websocket.CloseStatus(err) == -1 {
						t.Fatalf("round %d: socket %d of an ended session still open: %v", round, i, err)
					}
					closed++
				}
				cancel()
			}
			t.Logf("%d handshakes racing logout: %d refused, %d opened and closed", rounds*handshakes, refused, closed)
			// The room never heard alice: every frame bob got was his own.
			b.quiet()
		})
	}
}

// readUntilClosed reads frames until the socket closes or ctx ends.
func readUntilClosed(ctx context.Context, c *websocket.Conn) ([]string, error) {
	var frames []string
	for {
		_, raw, err := c.Read(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				c.CloseNow()
			}
			return frames, err
		}
		frames = append(frames, string(raw))
	}
}

func login(t *testing.T, base, name string) string {
	t.Helper()
	resp, err := http.Post(base+"/api/auth/login", "application/json", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":"correct horse"}`, name)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %v", name, resp.StatusCode, err)
	}
	return body.Token
}

func logout(t *testing.T, base, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
}
