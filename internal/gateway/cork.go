package gateway

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// A busy room sends each connection many small frames in quick
// succession, and a write to a socket costs a system call each: in
// profiles of the emulator, a third of its time went to writing one frame
// per call. So the gateway corks its sockets: a frame written to one is
// held, and sent with whatever else is written to it before the flusher
// gets to run. Under load that coalesces the frames of several messages
// into one call; when idle, the flusher runs as soon as the writer yields,
// so nothing waits. Order is kept, and a held frame is still sent when the
// socket closes.

// maxCorked bounds the bytes held for one socket: past it a write waits
// for the socket, as it would without corking, so a client that stops
// reading cannot make the gateway hold its frames without limit.
const maxCorked = 1 << 20

// closeFlushTimeout bounds the last flush of a closing socket.
const closeFlushTimeout = 5 * time.Second

// corkingWriter hands the WebSocket library a corked connection when it
// takes the socket over.
type corkingWriter struct{ http.ResponseWriter }

// Hijack implements http.Hijacker.
func (w corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("gateway: flush before corking: %w", err)
	}
	cc := &corkedConn{Conn: conn}
	return cc, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(cc, 4096)), nil
}

// corkedConn holds writes until its flusher sends them together.
type corkedConn struct {
	net.Conn
	// send is held while bytes go to the socket, so flushes keep their
	// order.
	send sync.Mutex

	mu        sync.Mutex
	held      []byte
	spare     []byte
	scheduled bool
	err       error // the first failed write: every later one fails
}

// Write implements net.Conn: it holds p and makes sure a flush follows.
func (c *corkedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	c.held = append(c.held, p...)
	full := len(c.held) >= maxCorked
	if !full && !c.scheduled {
		c.scheduled = true
		go c.flush()
	}
	c.mu.Unlock()
	if full {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush sends what is held.
func (c *corkedConn) flush() error {
	c.send.Lock()
	defer c.send.Unlock()
	c.mu.Lock()
	out := c.held
	c.held, c.spare = c.spare[:0], nil
	c.scheduled = false
	err := c.err
	c.mu.Unlock()
	if err == nil && len(out) > 0 {
		_, err = c.Conn.Write(out)
	}
	c.mu.Lock()
	if err != nil && c.err == nil {
		c.err = err
	}
	if cap(out) <= 64<<10 {
		c.spare = out[:0] // reuse a small buffer; let a large one go
	}
	c.mu.Unlock()
	return err
}

// Close sends what is held, then closes the socket.
func (c *corkedConn) Close() error {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	_ = c.flush()
	return c.Conn.Close()
}
