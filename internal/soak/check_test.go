package soak

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/store"
)

func msg(seq int64, user, cmid string) EventRef {
	return EventRef{Seq: seq, Kind: "message_sent", Username: user, ClientMsgID: cmid}
}

func joined(seq int64, user string) EventRef {
	return EventRef{Seq: seq, Kind: "user_joined", Username: user}
}

func TestCheckStreams(t *testing.T) {
	stream := []EventRef{{Seq: 1, Kind: "room_created", Username: "ann"}, joined(2, "bob"), msg(3, "bob", "b1"), msg(4, "ann", "a1")}
	tests := map[string]struct {
		stream                       []EventRef
		acks                         []ack
		seen                         []EventRef
		lost, duplicated, mismatched int
		example                      string
	}{
		"all there": {
			stream: stream,
			acks:   []ack{{Room: "r", Username: "bob", ClientMsgID: "b1", Seq: 3}},
			seen:   []EventRef{joined(2, "bob"), msg(3, "bob", "b1"), {Seq: 4, Username: "ann", ClientMsgID: "a1"}},
		},
		"an acknowledged message missing is lost": {
			stream: stream,
			acks:   []ack{{Room: "r", Username: "bob", ClientMsgID: "b2", Seq: 5}},
			lost:   1, example: "the stream holds nothing there",
		},
		"an acknowledged message at another's seq is lost": {
			stream: stream,
			acks:   []ack{{Room: "r", Username: "bob", ClientMsgID: "b1", Seq: 4}},
			lost:   1,
		},
		"a gap in the stream is lost": {
			stream: []EventRef{stream[0], stream[1], stream[3]},
			lost:   1, example: "jumps from seq 2 to 4",
		},
		"a seq twice in the stream is duplicated": {
			stream:     []EventRef{stream[0], stream[1], stream[1], stream[2]},
			duplicated: 1, example: "holds seq 2 again",
		},
		"a client_msg_id stored twice is duplicated": {
			stream:     append(stream[:4:4], msg(5, "bob", "b1")),
			duplicated: 1, example: "stored twice",
		},
		"the same client_msg_id from two senders is two messages": {
			stream: append(stream[:4:4], msg(5, "ann", "b1")),
		},
		"a client that saw something else at a seq is mismatched": {
			stream:     stream,
			seen:       []EventRef{msg(3, "bob", "b9")},
			mismatched: 1, example: "a client saw seq 3 message_sent by bob client_msg_id b9",
		},
		"a client that saw a seq the stream lacks is mismatched": {
			stream:     stream,
			seen:       []EventRef{joined(9, "bob")},
			mismatched: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			l := newLedger()
			for _, e := range tt.seen {
				l.observe("r", "c1", e)
			}
			f := checkStreams(map[string][]EventRef{"r": tt.stream}, tt.acks, l)
			if f.Lost != tt.lost || f.Duplicated != tt.duplicated || f.Mismatched != tt.mismatched || f.Reordered != 0 {
				t.Errorf("lost %d, duplicated %d, mismatched %d, reordered %d; want %d, %d, %d, 0\n%s",
					f.Lost, f.Duplicated, f.Mismatched, f.Reordered, tt.lost, tt.duplicated, tt.mismatched, strings.Join(f.Examples(), "\n"))
			}
			if tt.example != "" && !strings.Contains(strings.Join(f.Examples(), "\n"), tt.example) {
				t.Errorf("examples %q lack %q", f.Examples(), tt.example)
			}
		})
	}
}

// fakeConnections is a store holding some connection items.
type fakeConnections struct {
	connections map[string]store.Connection
	presence    map[string][]store.Presence
	sessions    map[string][]string
}

func (f fakeConnections) Connection(_ context.Context, id string) (store.Connection, error) {
	c, ok := f.connections[id]
	if !ok {
		return c, store.ErrNotFound
	}
	return c, nil
}

func (f fakeConnections) RoomConnections(_ context.Context, room string) ([]store.Presence, error) {
	return f.presence[room], nil
}

func (f fakeConnections) SessionConnections(_ context.Context, hash string) ([]string, error) {
	return f.sessions[hash], nil
}

func TestCountLeftovers(t *testing.T) {
	tests := map[string]struct {
		store                               fakeConnections
		connections, presence, sessionLinks int
	}{
		"nothing left": {store: fakeConnections{}},
		"a connection item": {
			store:       fakeConnections{connections: map[string]store.Connection{"c2": {ID: "c2", Username: "ann", ConnectedAt: time.Unix(0, 0)}}},
			connections: 1,
		},
		"a presence item": {
			store:    fakeConnections{presence: map[string][]store.Presence{"r2": {{ConnectionID: "c1", Username: "ann"}}}},
			presence: 1,
		},
		"a session link": {
			store:        fakeConnections{sessions: map[string][]string{"h1": {"c1", "c2"}}},
			sessionLinks: 2,
		},
		"items of ids never asked about are not counted": {
			store: fakeConnections{connections: map[string]store.Connection{"c9": {ID: "c9"}}, presence: map[string][]store.Presence{"r9": {{ConnectionID: "c9"}}}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := countLeftovers(context.Background(), tt.store, []string{"c1", "c2"}, []string{"r1", "r2"}, []string{"h1"})
			if err != nil {
				t.Fatal(err)
			}
			if l.Connections != tt.connections || l.Presence != tt.presence || l.SessionLinks != tt.sessionLinks {
				t.Errorf("left %+v; want %d connections, %d presence, %d session links", l, tt.connections, tt.presence, tt.sessionLinks)
			}
			if l.total() > 0 && len(l.Examples) == 0 {
				t.Error("leftovers without an example")
			}
		})
	}
}

func TestJudge(t *testing.T) {
	good := Report{Acknowledged: 10, HeapStart: 10 << 20, HeapEnd: 20 << 20, HeapBound: 42 << 20}
	tests := map[string]struct {
		change func(r *Report)
		want   string
	}{
		"a clean run passes":      {change: func(*Report) {}},
		"lost":                    {change: func(r *Report) { r.Lost = 1 }, want: "1 lost"},
		"duplicated":              {change: func(r *Report) { r.Duplicated = 2 }, want: "2 duplicated"},
		"reordered":               {change: func(r *Report) { r.Reordered = 3 }, want: "3 out of order"},
		"mismatched":              {change: func(r *Report) { r.Mismatched = 1 }, want: "seen differently"},
		"unacknowledged":          {change: func(r *Report) { r.Unacknowledged = 1 }, want: "never acknowledged"},
		"a leftover presence":     {change: func(r *Report) { r.LeftoverPresence = 1 }, want: "1 presence"},
		"a leftover connection":   {change: func(r *Report) { r.LeftoverConnections = 1 }, want: "1 connections"},
		"someone still online":    {change: func(r *Report) { r.LeftoverOnline = 1 }, want: "still online"},
		"problems":                {change: func(r *Report) { r.Problems = 1 }, want: "problems"},
		"nothing acknowledged":    {change: func(r *Report) { r.Acknowledged = 0 }, want: "no message"},
		"the heap past its bound": {change: func(r *Report) { r.HeapEnd = 43 << 20 }, want: "past the bound"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := good
			tt.change(&r)
			r.judge()
			got := strings.Join(r.Failures, "; ")
			if tt.want == "" && r.Failed() || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("failures %q, want %q", got, tt.want)
			}
		})
	}
}
