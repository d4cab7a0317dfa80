package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
)

// Every frame for a connection, from the management API or the direct
// pusher, goes through its outbox: a post only queues the frame and returns,
// and one writer goroutine per connection writes the queue out. So a fan-out
// never waits on a slow socket, and a reader that cannot keep up is dropped
// once its queue is full instead of holding up the room or growing memory.
const (
	// maxQueuedFrames and maxQueuedBytes bound a connection's queue. Past
	// either, the reader is too slow: the connection is closed (1008) and
	// the post that found it full answers 410, as for any gone connection.
	// The byte bound leaves room for a full history frame (120 KiB) and a
	// burst of live frames behind it.
	maxQueuedFrames = 1024
	maxQueuedBytes  = 512 << 10
	// maxCorkBytes bounds what one coalesced write gathers before it goes
	// out; a larger batch leaves in several writes.
	maxCorkBytes = 64 << 10
)

// outbox is a connection's queue of frames to write.
type outbox struct {
	mu     sync.Mutex
	frames [][]byte
	bytes  int
	closed bool
	wake   chan struct{} // capacity 1: the writer has something to do
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

// queueResult says what became of a frame handed to an outbox.
type queueResult int

const (
	queued queueResult = iota
	queueClosed
	queueFull
)

// put queues a frame. frame is shared, never modified: the same encoded
// frame goes to every connection of a room.
func (o *outbox) put(frame []byte) queueResult {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return queueClosed
	}
	if len(o.frames) >= maxQueuedFrames || o.bytes+len(frame) > maxQueuedBytes {
		o.mu.Unlock()
		return queueFull
	}
	o.frames = append(o.frames, frame)
	o.bytes += len(frame)
	first := len(o.frames) == 1
	o.mu.Unlock()
	if first {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	return queued
}

// take moves every queued frame into batch (reused between calls).
func (o *outbox) take(batch [][]byte) [][]byte {
	o.mu.Lock()
	batch = append(batch, o.frames...)
	clear(o.frames)
	o.frames = o.frames[:0]
	if cap(o.frames) > 64 {
		o.frames = nil // a burst's backlog is not kept for good
	}
	o.bytes = 0
	o.mu.Unlock()
	return batch
}

// close refuses further frames and drops the queued ones.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.frames, o.bytes = nil, 0
	o.mu.Unlock()
}

// writeLoop writes the connection's queue until the connection ends. A
// frame queued while nothing is being written goes out at once, alone; the
// frames that queue up while a write is under way leave together in one
// system call (the socket is corked for them), which is where a busy room's
// fan-out saves most of its time.
func (g *Gateway) writeLoop(ctx context.Context, c *conn) {
	var batch [][]byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.out.wake:
		}
		for {
			batch = c.out.take(batch[:0])
			if len(batch) == 0 {
				break
			}
			err := c.writeFrames(batch)
			clear(batch)
			if err != nil {
				c.closeWith(websocket.StatusAbnormalClosure, "")
				return
			}
		}
	}
}

func (c *conn) writeFrames(batch [][]byte) error {
	if len(batch) > 1 {
		c.cork.cork()
	}
	var err error
	for _, f := range batch {
		// No deadline on the context: coder/websocket would arm a timer
		// for every frame. A stuck write ends when the connection is
		// closed (its queue filling up, the idle timeout, a DELETE).
		if err = c.ws.Write(context.Background(), websocket.MessageText, f); err != nil {
			break
		}
	}
	if len(batch) > 1 {
		if ferr := c.cork.uncork(); err == nil {
			err = ferr
		}
	}
	return err
}

// corkConn is the socket under a WebSocket connection. coder/websocket
// flushes every message with its own write; while corked, those writes are
// gathered and leave together at uncork. Control frames written meanwhile
// by the reading side (pongs, close) join the gathered bytes in order.
//
// It also watches the frames the client sends for the 32 KB frame quota,
// which coder/websocket, reading whole messages, cannot tell: the frame
// headers are parsed as the bytes go by (no copy, no allocation; payloads
// are skipped), and a frame over MaxFrameBytes sets frameTooBig, which the
// connection's reader acts on once it has read the message holding that
// frame: the one numbered tooBigAt, counting from 0.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    *[]byte
	frames frameScanner
	// frameTooBig is set once the client sent a frame over MaxFrameBytes,
	// in its message numbered tooBigAt (set first).
	frameTooBig atomic.Bool
	tooBigAt    atomic.Int64
}

func (c *corkConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.scan(p[:n])
	}
	return n, err
}

func (c *corkConn) scan(b []byte) {
	if c.frames.scan(b) && !c.frameTooBig.Load() {
		c.tooBigAt.Store(c.frames.tooBigAt)
		c.frameTooBig.Store(true)
	}
}

// tooBig reports whether the message numbered n (counting from 0), just
// read, or one before it held a frame over MaxFrameBytes.
func (c *corkConn) tooBig(n int64) bool {
	return c.frameTooBig.Load() && c.tooBigAt.Load() <= n
}

// frameScanner follows the WebSocket frame headers in a byte stream
// (RFC 6455, section 5.2). Only the reading goroutine uses it.
type frameScanner struct {
	hdr  [14]byte // the header being gathered: at most 2+8+4 bytes
	have int      // bytes of hdr gathered
	need int      // its full length, once the first two bytes are in
	skip uint64   // payload bytes left of the current frame
	// messages counts the data messages whose last frame has begun;
	// tooBigAt is the number of the first message with a frame too big.
	messages int64
	tooBigAt int64
	found    bool
}

// scan takes the next bytes of the stream and reports whether a frame
// header among them announced a payload over MaxFrameBytes.
func (s *frameScanner) scan(b []byte) (tooBig bool) {
	for len(b) > 0 {
		if s.skip > 0 {
			n := uint64(len(b))
			if n > s.skip {
				n = s.skip
			}
			b, s.skip = b[n:], s.skip-n
			continue
		}
		s.hdr[s.have] = b[0]
		s.have++
		b = b[1:]
		if s.have == 2 {
			s.need = 2
			switch s.hdr[1] & 0x7f {
			case 126:
				s.need += 2
			case 127:
				s.need += 8
			}
			if s.hdr[1]&0x80 != 0 {
				s.need += 4 // the masking key
			}
		}
		if s.have < 2 || s.have < s.need {
			continue
		}
		var size uint64
		switch l := s.hdr[1] & 0x7f; l {
		case 126:
			size = uint64(binary.BigEndian.Uint16(s.hdr[2:4]))
		case 127:
			size = binary.BigEndian.Uint64(s.hdr[2:10])
		default:
			size = uint64(l)
		}
		if size > MaxFrameBytes {
			if !s.found {
				s.found, s.tooBigAt = true, s.messages
			}
			tooBig = true
		}
		if op, fin := s.hdr[0]&0x0f, s.hdr[0]&0x80 != 0; fin && op < 8 {
			s.messages++ // control frames (8 and up) come between fragments
		}
		s.skip, s.have, s.need = size, 0, 0
	}
	return tooBig
}

var corkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = corkBuffers.Get().(*[]byte)
	}
	if len(*c.buf)+len(p) > maxCorkBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > maxCorkBytes {
			return c.Conn.Write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	err := c.flushLocked()
	if c.buf != nil {
		if cap(*c.buf) <= maxCorkBytes {
			corkBuffers.Put(c.buf)
		}
		c.buf = nil
	}
	return err
}

func (c *corkConn) flushLocked() error {
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	return err
}

// corkingWriter hands coder/websocket the hijacked socket wrapped in a
// corkConn, which the connection's writer corks.
type corkingWriter struct {
	http.ResponseWriter
	c *conn
}

func (w corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.c.cork = &corkConn{Conn: nc}
	// Bytes the server read ahead before the hijack reach coder/websocket
	// from brw, not through the corkConn: scan them here.
	ahead, _ := brw.Reader.Peek(brw.Reader.Buffered())
	w.c.cork.scan(ahead)
	return w.c.cork, brw, nil
}
