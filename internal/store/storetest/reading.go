package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// readingTests are the suite's cases for store.Reading and what Append
// writes for it.
var readingTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"MessagesEditsAndErasure", testMessagesAndErasure},
	{"ReadPositionsAndCounts", testReadPositions},
	{"NewMemberStartsReadAtTheirAdd", testNewMemberReadPosition},
	{"DirectRoomsInTheList", testDirectRoomSummary},
	{"Audience", testAudience},
	{"RoomAsSeveral", testRoomAsSeveral},
	{"ExpiredConnectionsAreGone", testExpiredConnections},
}

// send appends one message by actor, deciding on the rows of actor and the
// people the text names, as the use case does.
func send(t testing.TB, s store.Store, roomID, actor, cmid, text string) chat.Event {
	t.Helper()
	ctx := context.Background()
	names := append([]string{actor}, chat.MentionCandidates(text)...)
	r, err := s.RoomAs(ctx, roomID, names...)
	if err != nil {
		t.Fatal(err)
	}
	evs := must(t)(r.SendMessage(actor, chat.MessageID(roomID, actor, cmid), cmid, text, epoch.Add(time.Minute)))
	res, err := s.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Messages: r.Messages, Events: evs})
	if err != nil {
		t.Fatalf("append message: %v", err)
	}
	return res.Events[0]
}

// change appends what cmd decides on the whole room.
func change(t testing.TB, s store.Store, roomID string, cmd func(r *chat.Room) ([]chat.Event, error), erase ...int64) []chat.Event {
	t.Helper()
	ctx := context.Background()
	r, err := s.Room(ctx, roomID)
	if err != nil {
		t.Fatal(err)
	}
	evs := must(t)(cmd(r))
	res, err := s.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Messages: r.Messages, Events: evs, Erase: erase})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res.Events
}

func message(t testing.TB, s store.Store, roomID, id string) store.Message {
	t.Helper()
	m, err := s.Message(context.Background(), roomID, id)
	if err != nil {
		t.Fatalf("Message(%s): %v", id, err)
	}
	return m
}

func testMessagesAndErasure(t *testing.T, s store.Store) {
	ctx := context.Background()
	room := createRoom(t, s, "alice", "bob")
	sent := send(t, s, room, "bob", "c1", "@alice the secret word is swordfish")
	id := sent.Data.(chat.MessageSent).MessageID
	if got := sent.Data.(chat.MessageSent).Mentions; !slices.Equal(got, chat.Usernames{"alice"}) {
		t.Fatalf("mentions = %q", got)
	}
	if m := message(t, s, room, id); m.Seq != sent.Seq || m.Author != "bob" || m.Deleted || len(m.Edits) != 0 {
		t.Fatalf("Message = %+v", m)
	}
	if _, err := s.Message(ctx, room, "m-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown message: %v", err)
	}
	edit := change(t, s, room, func(r *chat.Room) ([]chat.Event, error) {
		return r.EditMessage("bob", message(t, s, room, id).Ref(), "still swordfish", epoch.Add(2*time.Minute))
	})[0]
	if m := message(t, s, room, id); !slices.Equal(m.Edits, []int64{edit.Seq}) {
		t.Fatalf("edits = %v, want [%d]", m.Edits, edit.Seq)
	}
	other := send(t, s, room, "alice", "c2", "unrelated")
	m := message(t, s, room, id)
	del := change(t, s, room, func(r *chat.Room) ([]chat.Event, error) {
		return r.DeleteMessage("alice", m.Ref(), epoch.Add(3*time.Minute))
	}, append([]int64{m.Seq}, m.Edits...)...)[0]
	if m := message(t, s, room, id); !m.Deleted {
		t.Fatalf("not deleted: %+v", m)
	}
	events := readAll(t, s, room)
	checkDense(t, events)
	for _, e := range events {
		raw, _ := e.MarshalJSON()
		if strings.Contains(string(raw), "swordfish") {
			t.Errorf("event %d still holds the text: %s", e.Seq, raw)
		}
		switch d := e.Data.(type) {
		case chat.MessageSent:
			if e.Seq == sent.Seq && (!d.Deleted || d.Text != "" || d.MessageID != id) {
				t.Errorf("deleted message reads %+v", d)
			}
			if e.Seq == other.Seq && (d.Deleted || d.Text != "unrelated") {
				t.Errorf("another message was touched: %+v", d)
			}
		case chat.MessageEdited:
			if !d.Deleted || d.Text != "" {
				t.Errorf("edit of a deleted message reads %+v", d)
			}
		case chat.MessageDeleted:
			if e.Seq != del.Seq || d.MessageID != id {
				t.Errorf("deletion event %+v", e)
			}
		}
	}
	checkProjection(t, s, room)
	// A resend of the deleted message is still recognised, and gets the
	// erased original back.
	r, _ := s.RoomAs(ctx, room, "bob")
	again := must(t)(r.SendMessage("bob", id, "c1", "swordfish again", epoch.Add(4*time.Minute)))
	res, err := s.Append(ctx, store.AppendRequest{RoomID: room, ExpectedVersion: r.Version, Messages: r.Messages, Events: again})
	if err != nil || !res.Duplicate || res.Events[0].Seq != sent.Seq || res.Events[0].Data.(chat.MessageSent).Text != "" {
		t.Fatalf("resend after deletion: %+v, %v", res, err)
	}
}

func membership(t testing.TB, s store.Store, roomID, user string) store.Membership {
	t.Helper()
	m, err := s.Membership(context.Background(), roomID, user)
	if err != nil {
		t.Fatalf("Membership(%s): %v", user, err)
	}
	return m
}

func summaryOf(t testing.TB, s store.Store, user, roomID string) store.RoomSummary {
	t.Helper()
	list, err := s.RoomsOf(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	for _, sum := range list {
		if sum.RoomID == roomID {
			return sum
		}
	}
	t.Fatalf("%s's list has no room %s", user, roomID)
	return store.RoomSummary{}
}

func testReadPositions(t *testing.T, s store.Store) {
	ctx := context.Background()
	room := createRoom(t, s, "alice", "bob", "carol")
	if m := membership(t, s, room, "bob"); m.ReadSeq != 1 || m.ReadMessages != 0 || m.Role != chat.RoleMember {
		t.Fatalf("bob's row after creation: %+v", m)
	}
	send(t, s, room, "alice", "a1", "hello")            // 2
	send(t, s, room, "alice", "a2", "@bob @carol look") // 3
	send(t, s, room, "carol", "c1", "@bob too")         // 4
	last := send(t, s, room, "alice", "a3", "@alice me")
	if r, _ := s.Room(ctx, room); r.Messages != 4 {
		t.Fatalf("room counts %d messages, want 4", r.Messages)
	}
	sum := summaryOf(t, s, "bob", room)
	if sum.Unread != 4 || sum.Mentions != 2 || sum.ReadSeq != 1 || sum.LastSeq != last.Seq || sum.Kind != chat.KindGroup {
		t.Fatalf("bob's summary: %+v", sum)
	}
	// What you send you have read; mentioning yourself is no mention.
	if a := summaryOf(t, s, "alice", room); a.Unread != 0 || a.Mentions != 0 || a.ReadSeq != last.Seq {
		t.Fatalf("alice's summary: %+v", a)
	}
	if c := summaryOf(t, s, "carol", room); c.Unread != 1 || c.Mentions != 0 || c.ReadSeq != 4 {
		t.Fatalf("carol's summary (sent at 4, one message after): %+v", c)
	}
	// Bob reads up to 3: two messages, one mention.
	bob := membership(t, s, room, "bob")
	if bob.Mentions != 2 || bob.ReadMentions != 0 {
		t.Fatalf("bob's row: %+v", bob)
	}
	if _, err := s.SetReadPosition(ctx, room, "bob", store.ReadPosition{Seq: 3, Messages: 2, Mentions: 1}, bob.Mentions-1); !errors.Is(err, store.ErrConcurrency) {
		t.Fatalf("stale mentions: %v, want ErrConcurrency", err)
	}
	moved, err := s.SetReadPosition(ctx, room, "bob", store.ReadPosition{Seq: 3, Messages: 2, Mentions: 1}, bob.Mentions)
	if err != nil || !moved {
		t.Fatalf("SetReadPosition: %v %v", moved, err)
	}
	if sum := summaryOf(t, s, "bob", room); sum.Unread != 2 || sum.Mentions != 1 || sum.ReadSeq != 3 {
		t.Fatalf("after reading to 3: %+v", sum)
	}
	// Backwards or in place changes nothing.
	for _, seq := range []int64{2, 3} {
		moved, err := s.SetReadPosition(ctx, room, "bob", store.ReadPosition{Seq: seq}, bob.Mentions)
		if err != nil || moved {
			t.Fatalf("SetReadPosition(%d) = %v, %v; want no move", seq, moved, err)
		}
	}
	if m := membership(t, s, room, "bob"); m.ReadSeq != 3 || m.ReadMessages != 2 || m.ReadMentions != 1 {
		t.Fatalf("a backward move changed the row: %+v", m)
	}
	if _, err := s.SetReadPosition(ctx, room, "frank", store.ReadPosition{Seq: 3}, 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a non-member: %v", err)
	}
	if _, err := s.Membership(ctx, room, "frank"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Membership of a non-member: %v", err)
	}
	// The counts stop at MaxCounted.
	quiet := createRoom(t, s, "alice", "bob")
	for i := range store.MaxCounted + 3 {
		send(t, s, quiet, "alice", fmt.Sprintf("n%d", i), "@bob hi")
	}
	if sum := summaryOf(t, s, "bob", quiet); sum.Unread != store.MaxCounted || sum.Mentions != store.MaxCounted {
		t.Fatalf("capped counts: %+v", sum)
	}
}

func testNewMemberReadPosition(t *testing.T, s store.Store) {
	room := createRoom(t, s, "alice", "bob")
	send(t, s, room, "alice", "a1", "before dave")
	add := change(t, s, room, func(r *chat.Room) ([]chat.Event, error) {
		return r.AddMembers("alice", []string{"dave"}, false, allExist, epoch)
	})[0]
	if m := membership(t, s, room, "dave"); m.ReadSeq != add.Seq || m.ReadMessages != 1 {
		t.Fatalf("dave's row: %+v", m)
	}
	send(t, s, room, "alice", "a2", "after dave")
	if sum := summaryOf(t, s, "dave", room); sum.Unread != 1 {
		t.Fatalf("dave's summary: %+v", sum)
	}
	// A promotion keeps the read position and the counts.
	before := membership(t, s, room, "bob")
	change(t, s, room, func(r *chat.Room) ([]chat.Event, error) {
		return r.AddMembers("alice", []string{"bob"}, true, allExist, epoch)
	})
	after := membership(t, s, room, "bob")
	if after.Role != chat.RoleAdmin || after.ReadSeq != before.ReadSeq || after.ReadMessages != before.ReadMessages {
		t.Fatalf("promotion: before %+v after %+v", before, after)
	}
	if sum := summaryOf(t, s, "bob", room); sum.Unread != 2 {
		t.Fatalf("bob's summary after promotion: %+v", sum)
	}
}

func testDirectRoomSummary(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs := must(t)(chat.CreateDirect("bob", "alice", allExist, epoch))
	id := evs[0].RoomID
	if _, err := s.Append(ctx, store.AppendRequest{RoomID: id, Events: evs}); err != nil {
		t.Fatal(err)
	}
	r := checkProjection(t, s, id)
	if r.KindOf() != chat.KindDirect {
		t.Fatalf("kind %q", r.KindOf())
	}
	for user, peer := range map[string]string{"bob": "alice", "alice": "bob"} {
		if sum := summaryOf(t, s, user, id); sum.Kind != chat.KindDirect || sum.Peer != peer {
			t.Errorf("%s's summary: %+v", user, sum)
		}
	}
	// The creator leaves and comes back.
	change(t, s, id, func(r *chat.Room) ([]chat.Event, error) { return r.RemoveMember("bob", "bob", epoch) })
	change(t, s, id, func(r *chat.Room) ([]chat.Event, error) { return r.ReopenDirect("bob", epoch) })
	checkProjection(t, s, id)
	if sum := summaryOf(t, s, "bob", id); sum.Role != chat.RoleOwner || sum.Peer != "alice" {
		t.Errorf("after coming back: %+v", sum)
	}
}

func testAudience(t *testing.T, s store.Store) {
	ctx := context.Background()
	room := createRoom(t, s, "alice", "bob", "carol")
	exp := liveUntil()
	connect := func(id, user string) {
		t.Helper()
		c := store.Connection{ID: id, Username: user, SessionHash: createSession(t, s, user), ConnectedAt: epoch, ExpiresAt: exp}
		if err := s.PutConnection(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
	}
	audience := func() []string {
		t.Helper()
		ms, err := s.Audience(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			conns := slices.Clone(m.Connections)
			slices.Sort(conns)
			out = append(out, m.Username+"="+strings.Join(conns, "+"))
		}
		slices.Sort(out)
		return out
	}
	connect("a1", "alice")
	connect("b1", "bob")
	connect("b2", "bob")
	connect("d1", "dave") // not a member yet
	if got := audience(); !slices.Equal(got, []string{"alice=a1", "bob=b1+b2"}) {
		t.Fatalf("Audience = %v", got)
	}
	conns, err := s.UserConnections(ctx, "bob")
	slices.Sort(conns)
	if err != nil || !slices.Equal(conns, []string{"b1", "b2"}) {
		t.Fatalf("UserConnections(bob) = %v, %v", conns, err)
	}
	if err := s.DeleteConnection(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	change(t, s, room, func(r *chat.Room) ([]chat.Event, error) {
		return r.AddMembers("alice", []string{"dave"}, false, allExist, epoch)
	})
	change(t, s, room, func(r *chat.Room) ([]chat.Event, error) { return r.RemoveMember("alice", "bob", epoch) })
	connect("c1", "carol")
	if got := audience(); !slices.Equal(got, []string{"alice=a1", "carol=c1", "dave=d1"}) {
		t.Fatalf("Audience after changes = %v", got)
	}
	if conns, _ := s.UserConnections(ctx, "bob"); !slices.Equal(conns, []string{"b2"}) {
		t.Fatalf("UserConnections(bob) after a disconnect = %v", conns)
	}
	if conns, err := s.UserConnections(ctx, "nobody"); err != nil || len(conns) != 0 {
		t.Fatalf("UserConnections(nobody) = %v, %v", conns, err)
	}
}

func testRoomAsSeveral(t *testing.T, s store.Store) {
	room := createRoom(t, s, "alice", "bob", "carol")
	r, err := s.RoomAs(context.Background(), room, "bob", "carol", "zed")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Members) != 2 || r.Members["bob"] != chat.RoleMember || r.Members["carol"] != chat.RoleMember {
		t.Fatalf("RoomAs(bob, carol, zed).Members = %v", r.Members)
	}
}

// ErasureLeavesNoText deletes a message and its edit and then asks raw for
// every item the adapter holds, as text: none may contain the words.
func ErasureLeavesNoText(t *testing.T, s store.Store, raw func() []string) {
	room := createRoom(t, s, "alice", "bob")
	sent := send(t, s, room, "bob", "c1", "tell nobody: marmalade")
	change(t, s, room, func(r *chat.Room) ([]chat.Event, error) {
		return r.EditMessage("bob", message(t, s, room, sent.Data.(chat.MessageSent).MessageID).Ref(), "tell nobody: quince", epoch)
	})
	items := raw()
	if !slices.ContainsFunc(items, func(it string) bool { return strings.Contains(it, "marmalade") }) {
		t.Fatal("the raw reader does not see the message: it proves nothing")
	}
	m := message(t, s, room, sent.Data.(chat.MessageSent).MessageID)
	change(t, s, room, func(r *chat.Room) ([]chat.Event, error) {
		return r.DeleteMessage("bob", m.Ref(), epoch)
	}, append([]int64{m.Seq}, m.Edits...)...)
	for _, it := range raw() {
		if strings.Contains(it, "marmalade") || strings.Contains(it, "quince") {
			t.Errorf("an item still holds deleted text: %.300s", it)
		}
	}
}

// testExpiredConnections: an item past its expires_at is gone to every
// read of connections and presence, whether or not the store has swept
// it (DynamoDB's TTL takes up to days), and an expired connection holds
// no place under the per-person limit.
func testExpiredConnections(t *testing.T, s store.Store) {
	ctx := context.Background()
	room := createRoom(t, s, "alice", "bob")
	session := createSession(t, s, "alice")
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	put := func(id string, until time.Time, limit int) error {
		return s.PutConnection(ctx, store.Connection{ID: id, Username: "alice", SessionHash: session, ConnectedAt: epoch, ExpiresAt: until}, limit)
	}
	join := func(id string, until time.Time) {
		t.Helper()
		r, err := s.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		evs := must(t)(r.Join("alice", epoch))
		if _, err := s.Append(ctx, store.AppendRequest{RoomID: room, ExpectedVersion: r.Version, Messages: r.Messages, Events: evs,
			Join: &store.Presence{ConnectionID: id, Username: "alice", ExpiresAt: until}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := put("c-old", past, 0); err != nil {
		t.Fatal(err)
	}
	join("c-old", past)
	if err := put("c-live", future, 0); err != nil {
		t.Fatal(err)
	}
	join("c-live", future)

	if _, err := s.Connection(ctx, "c-old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Connection of an expired connection: %v, want ErrNotFound", err)
	}
	if c, err := s.Connection(ctx, "c-live"); err != nil || c.ID != "c-live" {
		t.Errorf("Connection(c-live) = %+v, %v", c, err)
	}
	ps, err := s.RoomConnections(ctx, room)
	if err != nil || len(ps) != 1 || ps[0].ConnectionID != "c-live" {
		t.Errorf("RoomConnections = %+v, %v; want c-live alone", ps, err)
	}
	if rooms, err := s.ConnectionRooms(ctx, "c-old"); err != nil || len(rooms) != 0 {
		t.Errorf("ConnectionRooms(c-old) = %v, %v; want none", rooms, err)
	}
	if conns, err := s.SessionConnections(ctx, session); err != nil || !slices.Equal(conns, []string{"c-live"}) {
		t.Errorf("SessionConnections = %v, %v; want c-live alone", conns, err)
	}
	// Deleting it still cleans up what it left.
	if err := s.DeleteConnection(ctx, "c-old"); err != nil {
		t.Fatal(err)
	}
	// An expired connection does not count against the limit.
	other := createSession(t, s, "alice")
	for _, id := range []string{"l-old-1", "l-old-2"} {
		if err := s.PutConnection(ctx, store.Connection{ID: id, Username: "alice", SessionHash: other, ConnectedAt: epoch, ExpiresAt: past}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutConnection(ctx, store.Connection{ID: "l-new", Username: "alice", SessionHash: other, ConnectedAt: epoch, ExpiresAt: future}, 2); err != nil {
		t.Errorf("a connection beside two expired ones, limit 2: %v", err)
	}
}
