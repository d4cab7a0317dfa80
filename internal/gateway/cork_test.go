package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestCorkedConnKeepsOrder: frames written by many goroutines, each in its
// own order, reach the peer whole and in the order each wrote them, and
// what is held when the socket closes is still sent.
func TestCorkedConnKeepsOrder(t *testing.T) {
	server, client := net.Pipe()
	cc := &corkedConn{Conn: server}
	const writers, each = 8, 200
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(client)
		got <- all
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := fmt.Fprintf(cc, "<%d:%04d>", w, i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	all := <-got
	next := make([]int, writers)
	frames := bytes.Split(bytes.Trim(all, "<>"), []byte("><"))
	if len(frames) != writers*each {
		t.Fatalf("%d frames arrived, want %d", len(frames), writers*each)
	}
	for _, f := range frames {
		var w, i int
		if _, err := fmt.Sscanf(string(f), "%d:%d", &w, &i); err != nil {
			t.Fatalf("a frame arrived torn: %q", f)
		}
		if i != next[w] {
			t.Fatalf("writer %d: frame %d arrived when %d was due", w, i, next[w])
		}
		next[w]++
	}
}

// TestCorkedConnCoalesces: writes made before the flusher runs leave in
// one write to the socket.
func TestCorkedConnCoalesces(t *testing.T) {
	rec := &countingConn{}
	cc := &corkedConn{Conn: rec}
	cc.mu.Lock() // the flusher cannot take what is held yet
	for range 10 {
		cc.held = append(cc.held, "frame"...)
	}
	cc.scheduled = true
	cc.mu.Unlock()
	if err := cc.flush(); err != nil {
		t.Fatal(err)
	}
	if rec.writes != 1 || rec.sent() != 50 {
		t.Fatalf("%d writes of %d bytes, want 1 of 50", rec.writes, rec.sent())
	}
}

// TestCorkedConnReportsFailure: once the socket fails, writes fail, so
// the push that tries it learns the connection is gone.
func TestCorkedConnReportsFailure(t *testing.T) {
	broken := errors.New("connection reset")
	cc := &corkedConn{Conn: &countingConn{err: broken}}
	if _, err := cc.Write([]byte("first")); err != nil {
		t.Fatalf("the first write failed at once: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := cc.Write([]byte("later"))
		if errors.Is(err, broken) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes still succeed after the socket failed: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCorkedConnBoundsWhatItHolds: past maxCorked a write waits for the
// socket instead of holding more.
func TestCorkedConnBoundsWhatItHolds(t *testing.T) {
	rec := &countingConn{}
	cc := &corkedConn{Conn: rec}
	cc.mu.Lock()
	cc.scheduled = true // no flusher: only the bound can send
	cc.mu.Unlock()
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for range maxCorked/len(chunk) + 1 {
		if _, err := cc.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if n := rec.sent(); n < maxCorked {
		t.Fatalf("%d bytes sent, want the held MiB sent once it filled", n)
	}
}

type countingConn struct {
	net.Conn
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	err    error
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.writes++
	return c.buf.Write(p)
}

func (c *countingConn) sent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Len()
}
