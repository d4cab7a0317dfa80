package wsapi_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chatroom/chat/internal/rooms"
)

func TestJoinRoom(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a, b := e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		e.join(b, roomID)
		e.pusher.reset()

		e.join(a, roomID)

		stream := e.stream(roomID)
		joined := stream[len(stream)-1]
		if joined.Type() != "user_joined" || joined.Username != "alice" || joined.Seq != 3 {
			t.Fatalf("stream ends with %s by %s at seq %d, want user_joined by alice at 3", joined.Type(), joined.Username, joined.Seq)
		}
		if got := e.connections(roomID); !slices.Equal(got, slices.Sorted(slices.Values([]string{a, b}))) {
			t.Errorf("room's connections %q, want %s and %s", got, a, b)
		}
		if got := e.roomsOf(a); !slices.Equal(got, []string{roomID}) {
			t.Errorf("%s is in rooms %q, want [%s]", a, got, roomID)
		}

		// The joiner: history first, then its own announcement.
		got := e.frames(a)
		if len(got) != 2 || got[0].Type != "history" || got[1].Type != "join_room_announcement" {
			t.Fatalf("joiner got %s, want history then join_room_announcement", describe(got))
		}
		h := got[0]
		if h.RoomID != roomID || h.HasMore || h.LastSeq != joined.Seq-1 || !slices.Equal(h.Online, []string{"alice", "bob"}) {
			t.Errorf("history = room %s, has_more %v, last_seq %d, online %q; want %s, false, %d, [alice bob]", h.RoomID, h.HasMore, h.LastSeq, h.Online, roomID, joined.Seq-1)
		}
		if g, w := compact(t, h.Events), eventsJSON(t, stream[:len(stream)-1]); g != w {
			t.Errorf("history events\n%s\nwant the stream before the join\n%s", g, w)
		}
		for _, f := range []frame{got[1], e.one(b, "join_room_announcement")} {
			if f.RoomID != roomID || f.Seq != joined.Seq || f.Username != "alice" || f.At != at(joined) {
				t.Errorf("announcement %+v, want room %s, seq %d, alice, %s", f.raw, roomID, joined.Seq, at(joined))
			}
		}

		// Joining again on the same connection behaves the same.
		e.join(a, roomID)
		again := e.last(roomID)
		got = e.frames(a)
		if len(got) != 2 || got[0].Type != "history" || got[1].Type != "join_room_announcement" || got[1].Seq != again.Seq {
			t.Fatalf("second join got %s", describe(got))
		}
		if hs := seqs(historyEvents(t, got[0])); !slices.Equal(hs, seqRange(1, again.Seq-1)) || got[0].LastSeq != again.Seq-1 {
			t.Errorf("second join's history has seqs %v, last_seq %d; want 1..%d", hs, got[0].LastSeq, again.Seq-1)
		}
		if f := e.one(b, "join_room_announcement"); f.Seq != again.Seq {
			t.Errorf("bob got seq %d, want %d", f.Seq, again.Seq)
		}
		if got := e.roomsOf(a); !slices.Equal(got, []string{roomID}) {
			t.Errorf("%s is in rooms %q after joining twice", a, got)
		}
	})
}

func TestJoinRoomRefusals(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		alice, mallory := e.user("alice"), e.user("mallory")
		a, m := e.connect(alice), e.connect(mallory)
		private := e.room("alice", "private")
		deleted := e.room("alice", "old", "mallory")
		change, err := e.app.Rooms.Delete(ctx, "alice", deleted)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.app.Notifier.RoomChanged(ctx, change); err != nil {
			t.Fatal(err)
		}
		before := map[string]int{private: len(e.stream(private)), deleted: len(e.stream(deleted))}

		// A room that does not exist, one the caller is not in and a
		// deleted one all get the same answer.
		var messages []string
		for name, c := range map[string]struct{ conn, roomID string }{
			"no such room": {m, "01JD3Z8Q5W7M2X4K9V6T1R0PNA"},
			"not a member": {m, private},
			"deleted":      {a, deleted},
		} {
			e.join(c.conn, c.roomID)
			f := e.one(c.conn, "error")
			if f.Code != "room_not_found" || f.Action != "join_room" || f.RoomID != c.roomID || f.ClientMsgID != "" {
				t.Errorf("%s: error %+v, want room_not_found for join_room in %s", name, f.raw, c.roomID)
			}
			messages = append(messages, f.Message)
			if r := e.roomsOf(c.conn); len(r) != 0 {
				t.Errorf("%s: %s is now in %q", name, c.conn, r)
			}
		}
		for _, msg := range messages {
			if msg != messages[0] {
				t.Errorf("room_not_found messages differ: %q", messages)
			}
		}
		for roomID, n := range before {
			if got := len(e.stream(roomID)); got != n {
				t.Errorf("refused joins appended %d events to %s", got-n, roomID)
			}
			if c := e.connections(roomID); len(c) != 0 {
				t.Errorf("room %s has connections %q", roomID, c)
			}
		}

		// Malformed requests are invalid_message, before any lookup.
		for name, body := range map[string]string{
			"no room_id":           `{"action":"join_room"}`,
			"empty room_id":        `{"action":"join_room","room_id":""}`,
			"null room_id":         `{"action":"join_room","room_id":null}`,
			"numeric room_id":      `{"action":"join_room","room_id":42}`,
			"after_seq as string":  `{"action":"join_room","room_id":"` + private + `","after_seq":"3"}`,
			"negative after_seq":   `{"action":"join_room","room_id":"` + private + `","after_seq":-1}`,
			"fractional after_seq": `{"action":"join_room","room_id":"` + private + `","after_seq":2.5}`,
			"boolean after_seq":    `{"action":"join_room","room_id":"` + private + `","after_seq":true}`,
		} {
			e.frame(a, "join_room/join.json", body)
			f := e.one(a, "error")
			if f.Code != "invalid_message" || f.Action != "join_room" || f.Message == "" {
				t.Errorf("%s: error %+v, want invalid_message for join_room", name, f.raw)
			}
		}
		if got := len(e.stream(private)); got != before[private] {
			t.Errorf("malformed joins appended %d events", got-before[private])
		}
		e.none(a, m)
	})
}

// TestJoinHistory checks the history a join brings: the newest page
// without after_seq, the missed events with it.
func TestJoinHistory(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a, b := e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		e.join(b, roomID)
		e.pusher.reset()

		// Alice leaves; the last seq she saw is her own leave.
		e.do(a, "leave_room/leave.json", "room_id", roomID)
		lastSeen := e.one(a, "leave_room_announcement").Seq
		e.frames(b)
		// Bob writes three messages she misses.
		for i := range 3 {
			e.send(b, roomID, fmt.Sprintf("m-%d", i))
		}
		e.pusher.reset()

		// She comes back on a new socket and resumes.
		a2 := e.connect(alice)
		e.do(a2, "join_room/join_resume.json", "room_id", roomID, "after_seq", fmt.Sprint(lastSeen))
		stream := e.stream(roomID)
		joined := stream[len(stream)-1]
		got := e.frames(a2)
		if len(got) != 2 || got[0].Type != "history" || got[1].Type != "join_room_announcement" || got[1].Seq != joined.Seq {
			t.Fatalf("resuming joiner got %s", describe(got))
		}
		h := got[0]
		missed := stream[lastSeen : len(stream)-1]
		if len(missed) != 3 {
			t.Fatalf("test setup: %d missed events, want 3", len(missed))
		}
		if g, w := compact(t, h.Events), eventsJSON(t, missed); g != w {
			t.Errorf("resume history\n%s\nwant exactly the missed events\n%s", g, w)
		}
		if h.HasMore || h.LastSeq != joined.Seq-1 || !slices.Equal(h.Online, []string{"alice", "bob"}) {
			t.Errorf("resume history: has_more %v, last_seq %d, online %q; want false, %d, [alice bob]", h.HasMore, h.LastSeq, h.Online, joined.Seq-1)
		}
		if f := e.one(b, "join_room_announcement"); f.Seq != joined.Seq || f.Username != "alice" {
			t.Errorf("bob got %+v", f.raw)
		}

		// Nothing missed: an empty history.
		e.do(a2, "join_room/join_resume.json", "room_id", roomID, "after_seq", fmt.Sprint(joined.Seq))
		if h := e.frames(a2)[0]; string(h.Events) != "[]" || h.HasMore || h.LastSeq != joined.Seq {
			t.Errorf("resume with nothing missed: events %s, has_more %v, last_seq %d", h.Events, h.HasMore, h.LastSeq)
		}
		e.pusher.reset()

		// 120 more messages: more than a history frame holds.
		e.bulk(roomID, "bob", 120)
		head := e.last(roomID).Seq

		// Without after_seq: the newest 100, ending just before the join,
		// and has_more since older ones exist.
		a3 := e.connect(alice)
		e.join(a3, roomID)
		h = e.frames(a3)[0]
		k := head + 1
		if s := seqs(historyEvents(t, h)); !slices.Equal(s, seqRange(k-rooms.HistoryLimit, k-1)) || !h.HasMore || h.LastSeq != k-1 {
			t.Errorf("newest history: seqs %v, has_more %v, last_seq %d; want %d..%d, true, %d", s, h.HasMore, h.LastSeq, k-rooms.HistoryLimit, k-1, k-1)
		}
		if !slices.Equal(h.Online, []string{"alice", "bob"}) {
			t.Errorf("online %q, want [alice bob]", h.Online)
		}

		// Resuming from before the 120: the first 100 missed, has_more,
		// last_seq still the one before the join.
		k++
		e.do(a3, "join_room/join_resume.json", "room_id", roomID, "after_seq", fmt.Sprint(lastSeen))
		h = e.frames(a3)[0]
		if s := seqs(historyEvents(t, h)); !slices.Equal(s, seqRange(lastSeen+1, lastSeen+rooms.HistoryLimit)) || !h.HasMore || h.LastSeq != k-1 {
			t.Errorf("long resume: seqs %v, has_more %v, last_seq %d; want %d..%d, true, %d", s, h.HasMore, h.LastSeq, lastSeen+1, lastSeen+rooms.HistoryLimit, k-1)
		}
		all := e.stream(roomID)
		if g, w := compact(t, h.Events), eventsJSON(t, all[lastSeen:lastSeen+rooms.HistoryLimit]); g != w {
			t.Errorf("long resume events differ from the stored ones:\n%s\n%s", g, w)
		}

		// Exactly 100 missed: all of them, and no more to page.
		k++
		e.do(a3, "join_room/join_resume.json", "room_id", roomID, "after_seq", fmt.Sprint(k-1-rooms.HistoryLimit))
		h = e.frames(a3)[0]
		if s := seqs(historyEvents(t, h)); !slices.Equal(s, seqRange(k-rooms.HistoryLimit, k-1)) || h.HasMore || h.LastSeq != k-1 {
			t.Errorf("100 missed: seqs %v, has_more %v, last_seq %d; want %d..%d, false, %d", s, h.HasMore, h.LastSeq, k-rooms.HistoryLimit, k-1, k-1)
		}

		// after_seq 0 means "I have nothing": the first 100.
		k++
		e.do(a3, "join_room/join_resume.json", "room_id", roomID, "after_seq", "0")
		h = e.frames(a3)[0]
		if s := seqs(historyEvents(t, h)); !slices.Equal(s, seqRange(1, rooms.HistoryLimit)) || !h.HasMore || h.LastSeq != k-1 {
			t.Errorf("after_seq 0: seqs %v, has_more %v, last_seq %d; want 1..100, true, %d", s, h.HasMore, h.LastSeq, k-1)
		}
	})
}

// TestJoinHistoryOfAQuietRoom: without after_seq and with few events, the
// whole stream and no has_more.
func TestJoinHistoryOfAQuietRoom(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		a := e.connect(e.user("alice"))
		roomID := e.room("alice", "quiet")
		e.join(a, roomID)
		got := e.frames(a)
		if len(got) != 2 {
			t.Fatalf("got %s", describe(got))
		}
		h := got[0]
		if s := seqs(historyEvents(t, h)); !slices.Equal(s, []int64{1}) || h.HasMore || h.LastSeq != 1 || !slices.Equal(h.Online, []string{"alice"}) {
			t.Errorf("history: seqs %v, has_more %v, last_seq %d, online %q; want [1], false, 1, [alice]", s, h.HasMore, h.LastSeq, h.Online)
		}
	})
}
