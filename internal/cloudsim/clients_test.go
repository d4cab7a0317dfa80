package cloudsim

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/chatclient"
)

// fakeGateway is the part of the WebSocket API the clients need: it
// refuses the ticket "refused", and answers a send_message by sending
// every socket a receive_message with the next seq, but the text "stale"
// with seq 0 (out of order everywhere) and "bad" with an error frame to
// the sender alone.
type fakeGateway struct {
	mu    sync.Mutex
	conns map[*websocket.Conn]bool
	seq   int64
	open  sync.WaitGroup
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("ticket") == "refused" {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	// Counted before the handshake answers, so that the test's Wait
	// comes after.
	g.open.Add(1)
	defer g.open.Done()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	g.mu.Lock()
	g.conns[c] = true
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
		_ = c.CloseNow()
	}()
	for {
		_, raw, err := c.Read(r.Context())
		if err != nil {
			return
		}
		var f struct {
			RoomID      string `json:"room_id"`
			ClientMsgID string `json:"client_msg_id"`
			Text        string `json:"text"`
		}
		_ = json.Unmarshal(raw, &f)
		g.mu.Lock()
		switch f.Text {
		case "bad":
			_ = c.Write(r.Context(), websocket.MessageText, []byte(`{"type":"error","code":"bad_request"}`))
		default:
			seq := int64(0)
			if f.Text != "stale" {
				g.seq++
				seq = g.seq
			}
			out, _ := json.Marshal(map[string]any{"type": "receive_message", "room_id": f.RoomID, "seq": seq, "client_msg_id": f.ClientMsgID, "text": f.Text})
			for other := range g.conns {
				_ = other.Write(r.Context(), websocket.MessageText, out)
			}
		}
		g.mu.Unlock()
	}
}

func (g *fakeGateway) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// TestClients runs both kinds of clients, in this process and in a child
// process (this test binary, which TestMain in cloudsim_test.go turns
// into ServeClients), against a fake gateway: they must open every
// socket in batches, send, report each delivery once, count frames out of
// order and error frames, and close every socket.
func TestClients(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for name, start := range map[string]func() (clients, error){
		"in process": func() (clients, error) { return newInProcess(), nil },
		"child process": func() (clients, error) {
			return startClientProcess([]string{exe, "-cloudsim.client-process"}, slog.New(slog.NewTextHandler(t.Output(), nil)))
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			gw := &fakeGateway{conns: map[*websocket.Conn]bool{}}
			srv := httptest.NewServer(gw)
			defer srv.Close()
			cl, err := start()
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := cl.stop(); err != nil {
					t.Error(err)
				}
			}()

			const messages, sockets = 3, 7
			tally := newTally(messages, sockets)
			if err := cl.open(ctx, srv.URL, 0, []string{"a", "b", "c", "d"}, tally); err != nil {
				t.Fatal(err)
			}
			if err := cl.open(ctx, srv.URL, 4, []string{"e", "f", "g"}, tally); err != nil {
				t.Fatal(err)
			}
			// The gateway counts a socket a moment after its handshake.
			for deadline := time.Now().Add(10 * time.Second); gw.count() != sockets; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d sockets open at the gateway, want %d", gw.count(), sockets)
				}
			}
			if _, err := cl.send(ctx, 0, chatclient.SendFrame("room", "other", "stale")); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.send(ctx, 0, chatclient.SendFrame("room", "other", "bad")); err != nil {
				t.Fatal(err)
			}
			for k := range messages {
				before := time.Now()
				at, err := cl.send(ctx, k%2, chatclient.SendFrame("room", messageID(k), "hello"))
				if err != nil {
					t.Fatal(err)
				}
				if at.Before(before) || time.Since(at) > 10*time.Second {
					t.Errorf("message %d sent at %v, between %v and now", k, at, before)
				}
				tally.sent(k, at)
			}
			tally.wait(ctx, 30*time.Second)
			if lost, dup := tally.lost(), tally.duplicated.Load(); lost != 0 || dup != 0 {
				t.Errorf("lost %d, repeated %d", lost, dup)
			}
			if n := tally.reordered.Load(); n != sockets {
				t.Errorf("%d frames out of order, want the stale one at each of %d sockets", n, sockets)
			}
			if got, want := tally.problems(), []string{"error frame bad_request ×1"}; !slices.Equal(got, want) {
				t.Errorf("problems %q, want %q", got, want)
			}
			if lat := tally.latencies(); len(lat) != messages || lat[0] <= 0 {
				t.Errorf("latencies %v, want %d above zero", lat, messages)
			}

			if err := cl.close(ctx); err != nil {
				t.Fatal(err)
			}
			gw.open.Wait() // every server end saw its socket go
			if _, err := cl.send(ctx, 0, []byte("{}")); err == nil {
				t.Error("sent on a closed socket")
			}
			// A refused ticket fails the open, and the clients go on.
			// (Alone: a socket dialled beside it could be given up on
			// after the gateway counted it, and be waited for in vain.)
			if err := cl.open(ctx, srv.URL, 0, []string{"refused"}, newTally(messages, 1)); err == nil {
				t.Error("opened a socket with a refused ticket")
			}
			if err := cl.close(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestClientProcessReadsPastGarbage: a line that is no record, or one
// too long to be, counts as a problem and the answers after it still
// come, so the child never blocks on a parent that stopped reading.
func TestClientProcessReadsPastGarbage(t *testing.T) {
	script := `echo bogus; head -c 100000 /dev/zero | tr '\0' x; echo; read cmd; echo c; cat >/dev/null`
	p, err := startClientProcess([]string{"sh", "-c", script}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tally := newTally(1, 1)
	p.tally.Store(tally)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := tally.problems(), []string{"the client process wrote what is not a record ×2"}; !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}
