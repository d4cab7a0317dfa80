package soak

import (
	"maps"
	"slices"
)

// ack is a message the server acknowledged: its receive_message came back
// to the connection that sent it.
type ack struct {
	Room, Username, ClientMsgID string
	Seq                         int64
}

// checkStreams compares each room's stream, read once everyone has gone,
// with the acknowledgements and with every sighting in the ledger:
//   - the stream is numbered 1, 2, 3 ... with no gap and no repeat;
//   - a sender's client_msg_id is stored once in a room;
//   - every acknowledged message is at its seq, with its sender and
//     client_msg_id;
//   - every seq a client saw is the stream's event at that seq.
func checkStreams(streams map[string][]EventRef, acks []ack, l *ledger) Findings {
	var f Findings
	bySeq := map[string]map[int64]EventRef{}
	for _, room := range slices.Sorted(maps.Keys(streams)) {
		stream := streams[room]
		seqs := map[int64]EventRef{}
		bySeq[room] = seqs
		stored := map[[2]string]int{}
		want := int64(1)
		for _, e := range stream {
			switch {
			case e.Seq > want:
				f.note(lost, int(e.Seq-want), "room %s: the stream jumps from seq %d to %d", room, want-1, e.Seq)
			case e.Seq < want:
				f.note(duplicated, 1, "room %s: the stream holds seq %d again after seq %d", room, e.Seq, want-1)
			}
			want = max(want, e.Seq+1)
			seqs[e.Seq] = e
			if e.Kind == "message_sent" {
				key := [2]string{e.Username, e.ClientMsgID}
				stored[key]++
				if stored[key] == 2 {
					f.note(duplicated, 1, "room %s: %s's client_msg_id %s stored twice (seq %d again)", room, e.Username, e.ClientMsgID, e.Seq)
				}
			}
		}
	}
	for _, a := range acks {
		got, ok := bySeq[a.Room][a.Seq]
		if !ok || got.Kind != "message_sent" || got.Username != a.Username || got.ClientMsgID != a.ClientMsgID {
			f.note(lost, 1, "room %s: %s's message %s was acknowledged at seq %d, the stream holds %s there", a.Room, a.Username, a.ClientMsgID, a.Seq, describe(got, ok))
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, room := range slices.Sorted(maps.Keys(l.rooms)) {
		for _, seq := range slices.Sorted(maps.Keys(l.rooms[room])) {
			seen := l.rooms[room][seq]
			got, ok := bySeq[room][seq]
			if !ok || !sameEvent(seen, got) {
				f.note(mismatched, 1, "room %s: a client saw seq %s, the stream holds %s there", room, seen, describe(got, ok))
			}
		}
	}
	return f
}

func describe(e EventRef, ok bool) string {
	if !ok {
		return "nothing"
	}
	return e.String()
}
