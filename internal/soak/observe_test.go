package soak

import (
	"strings"
	"testing"
)

// step is one thing a client sees or does, for hand-made observations.
type step func(o *observer)

func join(room string, after int64) step {
	return func(o *observer) { o.joinSent(room, after) }
}

func history(room string, lastSeq int64, seqs ...int64) step {
	return func(o *observer) { o.history(room, refs(seqs), lastSeq) }
}

func page(room string, seqs ...int64) step {
	return func(o *observer) { o.page(room, refs(seqs)) }
}

func live(room string, seqs ...int64) step {
	return func(o *observer) {
		for _, s := range seqs {
			o.live(room, "join_room_announcement", EventRef{Seq: s, Kind: "user_joined", Username: "u"})
		}
	}
}

func message(room string, seq int64, cmid string) step {
	return func(o *observer) {
		o.live(room, "receive_message", EventRef{Seq: seq, Kind: "message_sent", Username: "u", ClientMsgID: cmid})
	}
}

func resend(room, cmid string) step { return func(o *observer) { o.resent(room, cmid) } }

func reconnect() step { return func(o *observer) { o.newSocket() } }

func refs(seqs []int64) []EventRef {
	out := make([]EventRef, len(seqs))
	for i, s := range seqs {
		out[i] = EventRef{Seq: s, Kind: "user_joined", Username: "u"}
	}
	return out
}

func TestObserverFindsWhatTheContractForbids(t *testing.T) {
	tests := map[string]struct {
		steps                       []step
		lost, duplicated, reordered int
		example                     string
	}{
		"in order, nothing missed": {
			steps: []step{join("r", -1), history("r", 3, 1, 2, 3), live("r", 4, 5, 6)},
		},
		"a seq never received is lost": {
			steps: []step{join("r", -1), history("r", 3, 1, 2, 3), live("r", 4, 6)},
			lost:  1, example: "never received",
		},
		"seqs before the first join are not owed": {
			steps: []step{join("r", -1), history("r", 10, 9, 10), live("r", 11)},
		},
		"a live seq twice is duplicated": {
			steps:      []step{join("r", -1), history("r", 3), live("r", 4, 5, 5, 6)},
			duplicated: 1, example: "delivered live twice",
		},
		"a live seq below the last is reordered": {
			steps:     []step{join("r", -1), history("r", 3), live("r", 4, 6, 5, 7)},
			reordered: 1, example: "[4 6] then 5",
		},
		"an event that raced the join comes in history and live, after the announcement": {
			steps: []step{join("r", -1), history("r", 5, 4, 5), live("r", 6, 5, 7)},
		},
		"an event that raced the join comes live before the history": {
			steps: []step{join("r", -1), live("r", 5), history("r", 5, 4, 5), live("r", 6, 7)},
		},
		"a raced event live after the announcement, before the page that holds it": {
			steps: []step{
				join("r", -1), history("r", 3), live("r", 4),
				reconnect(), join("r", 4), history("r", 300, 5, 6), live("r", 301, 250), page("r", 7, 250, 300), live("r", 302),
			},
			lost: 300 - 7 - 2, example: "never received",
		},
		"a resent client_msg_id comes back once more, at its old seq": {
			steps: []step{join("r", -1), history("r", 3), message("r", 4, "a"), live("r", 5, 6), resend("r", "a"), message("r", 4, "a"), live("r", 7)},
		},
		"a resent client_msg_id may not come back twice more": {
			steps:      []step{join("r", -1), history("r", 3), message("r", 4, "a"), resend("r", "a"), message("r", 4, "a"), message("r", 4, "a")},
			duplicated: 1, example: "sent 2 times",
		},
		"a repeat without a resend is duplicated": {
			steps:      []step{join("r", -1), history("r", 3), message("r", 4, "a"), live("r", 5), message("r", 4, "a")},
			duplicated: 1,
		},
		"history at or before after_seq is duplicated": {
			steps:      []step{join("r", -1), history("r", 3), live("r", 4, 5), reconnect(), join("r", 5), history("r", 6, 5, 6)},
			duplicated: 1, example: "at or before the after_seq 5",
		},
		"history past its last_seq is out of order": {
			steps:     []step{join("r", -1), history("r", 3, 2, 3, 4)},
			reordered: 1, example: "past its last_seq",
		},
		"history not ascending is out of order": {
			steps:     []step{join("r", -1), history("r", 3, 1, 3, 2)},
			reordered: 1, example: "history seq 2 after seq 3",
		},
		"a resume fills what the dropped socket missed": {
			steps: []step{join("r", -1), history("r", 3), live("r", 4, 5), reconnect(), join("r", 5), history("r", 8, 6, 7, 8), live("r", 9)},
		},
		"a resume that skips a seq loses it": {
			steps: []step{join("r", -1), history("r", 3), live("r", 4, 5), reconnect(), join("r", 5), history("r", 8, 6, 8), live("r", 9)},
			lost:  1,
		},
		"order is per connection: a new socket starts afresh": {
			steps: []step{join("r", -1), history("r", 3), live("r", 4, 5, 6), reconnect(), join("r", 6), history("r", 6), live("r", 7)},
		},
		"a leave and rejoin on one socket keeps its order": {
			steps:      []step{join("r", -1), history("r", 3), live("r", 4, 5), join("r", 5), history("r", 7, 6, 7), live("r", 8, 6)},
			duplicated: 0, reordered: 0,
		},
		"rooms are apart": {
			steps: []step{join("a", -1), history("a", 3), join("b", -1), history("b", 10), live("a", 4), live("b", 11), live("a", 5), live("b", 12)},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			o := newObserver("c001", "u", newLedger())
			o.newSocket()
			for _, s := range tt.steps {
				s(o)
			}
			o.gaps(func(_ string, seq int64) string { return "" })
			if o.Lost != tt.lost || o.Duplicated != tt.duplicated || o.Reordered != tt.reordered {
				t.Errorf("lost %d, duplicated %d, reordered %d; want %d, %d, %d\n%s",
					o.Lost, o.Duplicated, o.Reordered, tt.lost, tt.duplicated, tt.reordered, strings.Join(o.Examples(), "\n"))
			}
			if tt.example != "" && !strings.Contains(strings.Join(o.Examples(), "\n"), tt.example) {
				t.Errorf("examples %q lack %q", o.Examples(), tt.example)
			}
		})
	}
}

func TestLedgerCatchesClientsThatDisagree(t *testing.T) {
	l := newLedger()
	l.observe("r", "c1", EventRef{Seq: 4, Kind: "message_sent", Username: "ann", ClientMsgID: "a"})
	l.observe("r", "c2", EventRef{Seq: 4, Kind: "message_sent", Username: "ann", ClientMsgID: "a"})
	l.observe("r", "c3", EventRef{Seq: 4, Kind: "", Username: "ann", ClientMsgID: "a"})
	if l.Mismatched != 0 {
		t.Fatalf("agreeing sightings counted as mismatched: %v", l.Examples())
	}
	l.observe("r", "c4", EventRef{Seq: 4, Kind: "message_sent", Username: "bob", ClientMsgID: "b"})
	if l.Mismatched != 1 {
		t.Fatalf("mismatched %d, want 1", l.Mismatched)
	}
}

func TestSeqSet(t *testing.T) {
	var s seqSet
	for _, seq := range []int64{0, 1, 63, 64, 1000} {
		if s.add(seq) {
			t.Errorf("%d was in the empty set", seq)
		}
		if !s.add(seq) || !s.has(seq) {
			t.Errorf("%d not kept", seq)
		}
	}
	for _, seq := range []int64{-1, 2, 65, 999, 5000} {
		if s.has(seq) {
			t.Errorf("%d in the set", seq)
		}
	}
}
