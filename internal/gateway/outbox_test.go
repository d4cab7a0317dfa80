package gateway_test

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/gateway"
)

// TestSlowReaderIsDropped: a client that stops reading fills its queue and
// is dropped, while every post returns and the other connection gets every
// frame. Were a post to wait on the stuck socket, the test would hang.
func TestSlowReaderIsDropped(t *testing.T) {
	inv := &fakeInvoker{}
	gw, srv := serve(t, inv, nil)
	fast := dial(t, srv, &inv.recorder, "")
	// A client that never reads what arrives.
	slow, _ := rawDial(t, srv.Listener.Addr().String(), &inv.recorder, "stalled")
	frame := bytes.Repeat([]byte("x"), 32<<10)

	ctx := context.Background()
	posted := 0
	for ; posted < 10000; posted++ {
		gone := gw.Post(ctx, []string{fast.id, slow}, frame)
		if len(gone) > 0 && !slices.Equal(gone, []string{slow}) {
			t.Fatalf("post %d: gone %v", posted, gone)
		}
		// The reading client keeps up: it has each frame before the next.
		if f := fast.next(); !bytes.Equal(f.data, frame) {
			t.Fatalf("post %d: the reading client got %d bytes", posted, len(f.data))
		}
		if len(gone) > 0 {
			break
		}
	}
	if posted == 10000 {
		t.Fatal("a client that reads nothing was never dropped")
	}
	for range 20 {
		if gone := gw.Post(ctx, []string{fast.id, slow}, frame); !slices.Equal(gone, []string{slow}) {
			t.Fatalf("after the drop: gone %v, want the slow one only", gone)
		}
		if f := fast.next(); !bytes.Equal(f.data, frame) {
			t.Fatalf("after the drop the reading client got %d bytes", len(f.data))
		}
	}
	inv.wait(t, "$disconnect of the slow reader", route("$disconnect", slow))
}

// TestSendsInFlightAreBounded: a connection's send_message frames are
// invoked side by side up to the bound, and then the gateway stops reading
// it until one ends; any other frame waits for those before it.
func TestSendsInFlightAreBounded(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	started := 0
	inv := &fakeInvoker{answer: func(fn string, _ map[string]any) ([]byte, error) {
		if fn == "SendMessageFunction" {
			mu.Lock()
			started++
			mu.Unlock()
			<-release
		}
		return []byte(`{"statusCode":200}`), nil
	}}
	_, srv := serve(t, inv, nil)
	c := dial(t, srv, &inv.recorder, "")
	const sends = gateway.MaxSendsInFlight + 4
	for range sends {
		c.send(websocket.MessageText, []byte(`{"action":"send_message"}`))
	}
	c.send(websocket.MessageText, []byte(`{"action":"leave_room"}`))
	count := func() int { mu.Lock(); defer mu.Unlock(); return started }
	deadline := time.Now().Add(10 * time.Second)
	for count() < gateway.MaxSendsInFlight && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a wrongly started one to show
	if n := count(); n != gateway.MaxSendsInFlight {
		t.Fatalf("%d sends started at once, want %d", n, gateway.MaxSendsInFlight)
	}
	if n := inv.count(route("leave_room", c.id)); n != 0 {
		t.Fatal("leave_room ran before the sends before it ended")
	}
	close(release)
	inv.wait(t, "leave_room", route("leave_room", c.id))
	if n := inv.count(route("send_message", c.id)); n != sends {
		t.Errorf("%d sends invoked before the leave, want %d", n, sends)
	}
}

// heldSendInvoker is fakeInvoker that holds send_message until released and
// records whether the invocation's context had ended by then.
type heldSendInvoker struct {
	fakeInvoker
	started, release chan struct{}
	ended            chan error
}

func (f *heldSendInvoker) Invoke(ctx context.Context, fn *gateway.Function, event []byte) ([]byte, error) {
	if fn.LogicalID == "SendMessageFunction" {
		f.started <- struct{}{}
		<-f.release
		f.ended <- ctx.Err()
	}
	return f.fakeInvoker.Invoke(ctx, fn, event)
}

// TestInvocationOutlivesItsSocket: as on API Gateway, a client that goes
// does not stop the invocation its frame started, which may have stored a
// message the others must still get; $disconnect runs after it.
func TestInvocationOutlivesItsSocket(t *testing.T) {
	inv := &heldSendInvoker{started: make(chan struct{}, 1), release: make(chan struct{}), ended: make(chan error, 1)}
	_, srv := serve(t, inv, nil)
	c := dial(t, srv, &inv.recorder, "")
	c.send(websocket.MessageText, []byte(`{"action":"send_message"}`))
	<-inv.started
	c.c.CloseNow()
	time.Sleep(100 * time.Millisecond) // room for the gateway to see the close
	if n := inv.count(route("$disconnect", c.id)); n != 0 {
		t.Fatal("$disconnect ran while the connection's send was still running")
	}
	close(inv.release)
	if err := <-inv.ended; err != nil {
		t.Fatalf("the send's context ended with its socket: %v", err)
	}
	inv.wait(t, "$disconnect", route("$disconnect", c.id))
}
