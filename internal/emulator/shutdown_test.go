package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/boltstore"
)

// waitClose waits for the server to close the socket and returns the status.
func (s *socket) waitClose() websocket.StatusCode {
	s.t.Helper()
	select {
	case ce := <-s.closed:
		return ce.Code
	case <-time.After(10 * time.Second):
		s.t.Fatal("socket not closed within 10s")
	}
	return 0
}

// TestShutdownLosesNothing: Shutdown closes every socket with 1001 and runs
// each $disconnect before closing the store; an emulator started again on
// the same directory has everything that was acknowledged.
func TestShutdownLosesNothing(t *testing.T) {
	dir := t.TempDir()
	e := start(t, emulator.Options{Store: "bolt", DataDir: dir})
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	status, room := alice.do("POST", "/rooms", map[string]any{"name": "general", "members": []string{"bob"}})
	if status != http.StatusCreated {
		t.Fatalf("create room: %d %v", status, room)
	}
	id := room["room_id"].(string)
	a, b := alice.connect(), bob.connect()
	joinBoth(id, a, b)
	var acked []int64
	for i, s := range []*socket{a, b, a} {
		s.send(fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"m%d","text":"message %d"}`, id, i, i))
		m := s.next("receive_message")
		acked = append(acked, num(m["seq"]))
		other := a
		if s == a {
			other = b
		}
		other.next("receive_message")
	}
	conns := e.Gateway.ConnectionIDs()
	if len(conns) != 2 {
		t.Fatalf("connections %v, want 2", conns)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for name, s := range map[string]*socket{"alice": a, "bob": b} {
		if code := s.waitClose(); code != websocket.StatusGoingAway {
			t.Errorf("%s's socket closed with %d, want 1001", name, code)
		}
	}
	// The store is closed: it answers nothing more.
	if _, err := e.Store.Room(ctx, id); err == nil {
		t.Error("the store still answers after Shutdown")
	}
	// Nothing is served any more.
	if _, err := http.Get(e.URL + "/config.json"); err == nil {
		t.Error("still serving after Shutdown")
	}

	// The file, reopened: each $disconnect ran to the end.
	st, err := boltstore.Open(filepath.Join(dir, boltstore.DefaultFile))
	if err != nil {
		t.Fatalf("reopen the store: %v", err)
	}
	for _, c := range conns {
		if _, err := st.Connection(ctx, c); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("connection %s still recorded (%v)", c, err)
		}
	}
	if present, err := st.RoomConnections(ctx, id); err != nil || len(present) != 0 {
		t.Errorf("room connections after shutdown: %v %v", present, err)
	}
	page, err := st.ReadForward(ctx, id, 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	var seqs []int64
	for _, ev := range page.Events {
		seqs = append(seqs, ev.Seq)
		if ev.Type() == chat.TypeUserLeft {
			left = append(left, ev.Username)
		}
	}
	slices.Sort(left)
	if !slices.Equal(left, []string{"alice", "bob"}) {
		t.Errorf("user_left for %v, want alice and bob; events %v", left, page.Events)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Started again on the same directory: the room, its messages, the
	// sessions are all there.
	e2 := start(t, emulator.Options{Store: "bolt", DataDir: dir})
	alice.base, bob.base = e2.URL, e2.URL
	status, body := alice.do("GET", "/rooms/"+id+"/events?after_seq=0&limit=200", nil)
	if status != http.StatusOK {
		t.Fatalf("events after restart: %d %v", status, body)
	}
	var got []int64
	texts := map[string]bool{}
	for _, ev := range body["events"].([]any) {
		m := ev.(map[string]any)
		got = append(got, num(m["seq"]))
		if m["type"] == "message_sent" {
			texts[m["text"].(string)] = true
		}
	}
	if !slices.Equal(got, seqs) {
		t.Errorf("events after restart %v, before %v", got, seqs)
	}
	for _, s := range acked {
		if !slices.Contains(got, s) {
			t.Errorf("acknowledged message seq %d lost", s)
		}
	}
	if len(texts) != 3 {
		t.Errorf("messages after restart: %v", texts)
	}
	status, list := bob.do("GET", "/rooms", nil)
	if status != http.StatusOK || len(list["rooms"].([]any)) != 1 {
		t.Errorf("bob's rooms after restart: %d %v", status, list)
	}
	// And the chat goes on where it was.
	b2 := bob.connect()
	h := b2.join(id, seqs[len(seqs)-1])
	if len(h["events"].([]any)) != 0 || num(h["last_seq"]) != seqs[len(seqs)-1] {
		t.Errorf("resume after restart: %v", h)
	}
}

// TestShutdownRefusesLateSockets: a socket that arrives while the gateway
// shuts down is refused, so none outlives the store it needs.
func TestShutdownRefusesLateSockets(t *testing.T) {
	e := start(t, emulator.Options{Store: "bolt", DataDir: t.TempDir()})
	alice := signup(t, e, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Gateway.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ticket := alice.ticket()
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	c, resp, err := websocket.Dial(dctx, "ws"+e.URL[len("http"):]+"/ws?ticket="+ticket, nil)
	if err == nil {
		c.CloseNow()
		t.Fatal("a socket was accepted while the gateway shut down")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("handshake during shutdown: %v (%v), want 503", err, resp)
	}
	if ids := e.Gateway.ConnectionIDs(); len(ids) != 0 {
		t.Errorf("connections during shutdown: %v", ids)
	}
}
