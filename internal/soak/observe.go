package soak

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// EventRef is what the checks keep of an event, whichever way it came: a
// live frame, a history frame, a page, or the stream read at the end.
type EventRef struct {
	Seq int64
	// Kind is the event's type in the stream (user_joined, message_sent,
	// ...), or "" when a live frame does not tell (room_updated).
	Kind        string
	Username    string
	ClientMsgID string
}

func (e EventRef) String() string {
	s := fmt.Sprintf("%d %s by %s", e.Seq, e.Kind, e.Username)
	if e.ClientMsgID != "" {
		s += " client_msg_id " + e.ClientMsgID
	}
	return s
}

// kindOfFrame maps each live frame type that carries a seq to the event
// type it announces.
var kindOfFrame = map[string]string{
	"join_room_announcement":  "user_joined",
	"receive_message":         "message_sent",
	"leave_room_announcement": "user_left",
	"room_updated":            "",
}

// maxExamples bounds the examples kept per finding kind: enough to start
// debugging from, not a log of a broken run.
const maxExamples = 10

// Findings are the failures found, counted, with the first few of each
// kind written out.
type Findings struct {
	Lost, Duplicated, Reordered, Mismatched int
	// examples holds, per kind, the first maxExamples written out.
	examples map[findingKind][]string
}

type findingKind int

const (
	lost findingKind = iota
	duplicated
	reordered
	mismatched
)

func (f *Findings) count(k findingKind) *int {
	return [...]*int{lost: &f.Lost, duplicated: &f.Duplicated, reordered: &f.Reordered, mismatched: &f.Mismatched}[k]
}

func (f *Findings) note(k findingKind, n int, format string, args ...any) {
	*f.count(k) += n
	f.example(k, fmt.Sprintf(format, args...))
}

func (f *Findings) example(k findingKind, e string) {
	if f.examples == nil {
		f.examples = map[findingKind][]string{}
	}
	if len(f.examples[k]) < maxExamples {
		f.examples[k] = append(f.examples[k], e)
	}
}

// Add folds other into f.
func (f *Findings) Add(other Findings) {
	for k := lost; k <= mismatched; k++ {
		*f.count(k) += *other.count(k)
		for _, e := range other.examples[k] {
			f.example(k, e)
		}
	}
}

// Examples lists the examples kept, kind by kind.
func (f *Findings) Examples() []string {
	var all []string
	for k := lost; k <= mismatched; k++ {
		all = append(all, f.examples[k]...)
	}
	return all
}

// ledger remembers, per room, the first sighting of each seq by any
// client, so that two clients (or a client and the stream read at the end)
// that disagree about what a seq is are caught.
type ledger struct {
	mu    sync.Mutex
	rooms map[string]map[int64]EventRef
	Findings
}

func newLedger() *ledger { return &ledger{rooms: map[string]map[int64]EventRef{}} }

func (l *ledger) observe(room, who string, e EventRef) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seqs := l.rooms[room]
	if seqs == nil {
		seqs = map[int64]EventRef{}
		l.rooms[room] = seqs
	}
	first, ok := seqs[e.Seq]
	if !ok {
		seqs[e.Seq] = e
		return
	}
	if first.Kind == "" {
		first.Kind = e.Kind
		seqs[e.Seq] = first
	}
	if !sameEvent(first, e) {
		l.note(mismatched, 1, "room %s: %s saw seq %s, another sighting was %s", room, who, e, first)
	}
}

// sameEvent compares what both sightings tell.
func sameEvent(a, b EventRef) bool {
	return a.Seq == b.Seq && a.Username == b.Username && a.ClientMsgID == b.ClientMsgID &&
		(a.Kind == "" || b.Kind == "" || a.Kind == b.Kind)
}

// observer is one client's view of its rooms across all the sockets it
// opens in turn: what it saw, and the contract's delivery rules checked
// frame by frame. It is not safe for concurrent use; the client that owns
// it holds a lock.
type observer struct {
	// name tells the client in examples; username is who it is, to know
	// its own messages.
	name, username string
	ledger         *ledger
	socket         int
	rooms          map[string]*roomView
	Findings
}

// roomView is what one client saw of one room.
type roomView struct {
	seen seqSet
	// start is the seq of the client's first user_joined in the room: it
	// must see every seq from there to max.
	start, max int64
	sock       *socketRoom
}

// socketRoom is what one socket saw of one room: the contract's rules on
// repeats and order hold per connection.
type socketRoom struct {
	live, history seqSet
	lastLive      int64
	recent        []int64
	// after and lastSeq frame the current join's history: events in
	// (after, lastSeq] may arrive both in history and live.
	after, lastSeq int64
	historyTop     int64
	// resent counts, per client_msg_id sent again on this socket, the
	// repeats it allows; own counts the live deliveries of the client's
	// own messages.
	resent, own map[string]int
}

const recentLive = 8

func newObserver(name, username string, l *ledger) *observer {
	return &observer{name: name, username: username, ledger: l, rooms: map[string]*roomView{}}
}

// newSocket starts a connection: the per-connection rules start afresh.
func (o *observer) newSocket() {
	o.socket++
	for _, rv := range o.rooms {
		rv.sock = nil
	}
}

func (o *observer) room(id string) *roomView {
	rv := o.rooms[id]
	if rv == nil {
		rv = &roomView{}
		o.rooms[id] = rv
	}
	if rv.sock == nil {
		rv.sock = &socketRoom{after: -1, lastSeq: -1}
	}
	return rv
}

func (o *observer) where(room string) string {
	return fmt.Sprintf("room %s, %s socket %d", room, o.name, o.socket)
}

// resumePoint is the after_seq to join with: the last seq seen, or none
// (-1) before the client's first history in the room.
func (o *observer) resumePoint(room string) int64 {
	if rv := o.rooms[room]; rv != nil && rv.start > 0 {
		return rv.max
	}
	return -1
}

// joinSent opens a join on the current socket.
func (o *observer) joinSent(room string, after int64) {
	sr := o.room(room).sock
	sr.after, sr.lastSeq, sr.historyTop = after, -1, after
}

// history takes the history frame of the current join.
func (o *observer) history(room string, events []EventRef, lastSeq int64) {
	rv := o.room(room)
	rv.sock.lastSeq = lastSeq
	if rv.start == 0 {
		rv.start = lastSeq + 1
	}
	o.historyEvents(room, rv, events)
}

// page takes a page read forward to complete the current join's history.
func (o *observer) page(room string, events []EventRef) {
	o.historyEvents(room, o.room(room), events)
}

func (o *observer) historyEvents(room string, rv *roomView, events []EventRef) {
	sr := rv.sock
	for _, e := range events {
		switch {
		case sr.after >= 0 && e.Seq <= sr.after:
			o.note(duplicated, 1, "%s: history repeats seq %d, at or before the after_seq %d it joined with", o.where(room), e.Seq, sr.after)
		case e.Seq > sr.lastSeq:
			o.note(reordered, 1, "%s: history holds seq %d, past its last_seq %d", o.where(room), e.Seq, sr.lastSeq)
		case e.Seq <= sr.historyTop:
			o.note(reordered, 1, "%s: history seq %d after seq %d", o.where(room), e.Seq, sr.historyTop)
		}
		sr.historyTop = max(sr.historyTop, e.Seq)
		sr.history.add(e.Seq)
		o.saw(room, rv, e)
	}
}

func (o *observer) saw(room string, rv *roomView, e EventRef) {
	rv.seen.add(e.Seq)
	rv.max = max(rv.max, e.Seq)
	o.ledger.observe(room, o.name, e)
}

// resent records that cmid was sent again on the current socket: its
// original may come back once more.
func (o *observer) resent(room, cmid string) {
	sr := o.room(room).sock
	if sr.resent == nil {
		sr.resent = map[string]int{}
	}
	sr.resent[cmid]++
}

// live takes a live frame carrying an event and checks it against the
// contract: within a room a connection receives live frames in seq order,
// and never one seq twice, except (a) the original of a client_msg_id this
// connection sent again, and (b) an event that raced the join, which comes
// both in history and live, in either order.
func (o *observer) live(room, frameType string, e EventRef) {
	rv := o.room(room)
	sr := rv.sock
	o.saw(room, rv, e)
	if frameType == "receive_message" && e.Username == o.username {
		if sr.own == nil {
			sr.own = map[string]int{}
		}
		sr.own[e.ClientMsgID]++
		if resent := sr.resent[e.ClientMsgID]; resent > 0 {
			// The repeat answers the resend whenever it is handled, so its
			// seq may lie anywhere below the others: only the count of
			// deliveries is checked.
			if sr.own[e.ClientMsgID] > 1+resent {
				o.note(duplicated, 1, "%s: seq %d (client_msg_id %s, sent %d times) delivered live %d times",
					o.where(room), e.Seq, e.ClientMsgID, 1+resent, sr.own[e.ClientMsgID])
			}
			sr.live.add(e.Seq)
			return
		}
	}
	if sr.live.add(e.Seq) {
		o.note(duplicated, 1, "%s: seq %d delivered live twice (%s); live seqs before it: %v", o.where(room), e.Seq, e, sr.recent)
		return
	}
	raced := sr.history.has(e.Seq) || sr.lastSeq >= 0 && e.Seq > sr.after && e.Seq <= sr.lastSeq
	if e.Seq < sr.lastLive && !raced {
		o.note(reordered, 1, "%s: live seqs as received: %v then %d", o.where(room), sr.recent, e.Seq)
	}
	sr.recent = append(sr.recent, e.Seq)
	if len(sr.recent) > recentLive {
		sr.recent = sr.recent[1:]
	}
	sr.lastLive = max(sr.lastLive, e.Seq)
}

// gaps counts, per room, the seqs from the client's first join to the
// last it saw that it never got: live, in history or in a page. describe
// names an event of the room's stream, for the examples.
func (o *observer) gaps(describe func(room string, seq int64) string) {
	for _, id := range slices.Sorted(maps.Keys(o.rooms)) {
		rv := o.rooms[id]
		if rv.start == 0 {
			continue
		}
		var missing []string
		n := 0
		for seq := rv.start; seq <= rv.max; seq++ {
			if rv.seen.has(seq) {
				continue
			}
			n++
			if len(missing) < 5 {
				missing = append(missing, describe(id, seq))
			}
		}
		if n > 0 {
			o.note(lost, n, "room %s, %s: %d seqs between %d and %d never received, the first: %s", id, o.name, n, rv.start, rv.max, strings.Join(missing, "; "))
		}
	}
}
