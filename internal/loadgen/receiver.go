package loadgen

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatroom/chat/internal/chatclient"
)

// receiver is one connection joined to the room: it reads every frame,
// checks the room's seqs arrive in order, once, and times each message
// from its send to here. A sender is also a receiver.
type receiver struct {
	conn     *chatclient.Conn
	username string
	roomID   string
	// joined receives the history frame's last_seq once, then closes.
	joined chan int64
	// acks, for a sender: the client_msg_ids of its own messages as they
	// come back, and errors answering its sends.
	acks   chan ack
	sender bool
	total  *atomic.Uint64 // deliveries of messages, all receivers
	last   *atomic.Int64  // when the latest delivery landed, Unix ns

	mu       sync.Mutex
	joinSeq  int64 // the seq of this connection's user_joined
	lastSeq  int64
	seen     bitset
	dups     int
	reorders int
	errors   map[string]int
	phases   [phaseCount]phaseStats
	readErr  error
	done     chan struct{}
}

type ack struct {
	clientMsgID string
	seq         int64
	code        string // error code when the send was refused
}

type phaseStats struct {
	deliveries uint64
	latency    Histogram
}

func newReceiver(conn *chatclient.Conn, username, roomID string, sender bool, total *atomic.Uint64, last *atomic.Int64) *receiver {
	r := &receiver{conn: conn, username: username, roomID: roomID, sender: sender, total: total, last: last,
		joined: make(chan int64, 1), done: make(chan struct{}), errors: map[string]int{}}
	if sender {
		// Never blocks the read loop: a sender has at most its window in
		// flight, and a few spare for stray answers.
		r.acks = make(chan ack, 4096)
	}
	return r
}

func (r *receiver) run(ctx context.Context) {
	defer close(r.done)
	for {
		raw, err := r.conn.Read(ctx)
		if err != nil {
			r.mu.Lock()
			r.readErr = err
			r.mu.Unlock()
			return
		}
		now := time.Now()
		f, err := parseLive(raw)
		if err != nil {
			r.count("unparsable")
			continue
		}
		switch string(f.typ) {
		case "history":
			var h struct {
				LastSeq int64 `json:"last_seq"`
			}
			if json.Unmarshal(raw, &h) != nil {
				r.count("unparsable")
				continue
			}
			r.mu.Lock()
			if r.joinSeq == 0 {
				r.joinSeq, r.lastSeq = h.LastSeq+1, h.LastSeq
				r.seen.base = h.LastSeq + 1
			}
			r.mu.Unlock()
		case "join_room_announcement", "leave_room_announcement":
			r.observe(f.seq)
			if len(r.joined) == 0 && string(f.typ) == "join_room_announcement" {
				r.mu.Lock()
				mine := f.seq == r.joinSeq
				r.mu.Unlock()
				if mine {
					r.joined <- f.seq
				}
			}
		case "receive_message":
			r.observe(f.seq)
			phase, ok := phaseOf(f.clientMsgID)
			if sentAt, okSent := sentAtOf(f.text); ok && okSent {
				r.mu.Lock()
				r.phases[phase].deliveries++
				r.phases[phase].latency.Record(now.Sub(time.Unix(0, sentAt)))
				r.mu.Unlock()
				r.total.Add(1)
				r.last.Store(now.UnixNano())
			}
			if r.sender {
				r.acks <- ack{clientMsgID: string(f.clientMsgID), seq: f.seq}
			}
		case "error":
			code, _ := stringField(raw, `"code":"`)
			r.count(string(code))
			if r.sender && f.clientMsgID != nil {
				r.acks <- ack{clientMsgID: string(f.clientMsgID), code: string(code)}
			}
		}
	}
}

// observe checks a live frame's seq against what this connection saw.
func (r *receiver) observe(seq int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.joinSeq == 0 || seq < r.joinSeq {
		return // before this connection's join: the history frame's business
	}
	switch {
	case r.seen.has(seq):
		r.dups++
		return
	case seq < r.lastSeq:
		r.reorders++
	}
	r.seen.add(seq)
	r.lastSeq = max(r.lastSeq, seq)
}

func (r *receiver) count(what string) {
	r.mu.Lock()
	r.errors[what]++
	r.mu.Unlock()
}

// bitset holds seqs from base up.
type bitset struct {
	base  int64
	words []uint64
}

func (b *bitset) add(seq int64) {
	i := seq - b.base
	if i < 0 {
		return
	}
	for int(i/64) >= len(b.words) {
		b.words = append(b.words, 0)
	}
	b.words[i/64] |= 1 << (i % 64)
}

func (b *bitset) has(seq int64) bool {
	i := seq - b.base
	if i < 0 || int(i/64) >= len(b.words) {
		return false
	}
	return b.words[i/64]&(1<<(i%64)) != 0
}
