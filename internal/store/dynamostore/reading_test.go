package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/awsmeter"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/dynamostore"
	"github.com/chatroom/chat/internal/store/storetest"
)

// recorder passes every call on to DynamoDB and keeps the items of each
// transaction, so a test can pin what an append writes.
type recorder struct {
	dynamostore.API
	mu           sync.Mutex
	transactions [][]types.TransactWriteItem
}

func (r *recorder) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.mu.Lock()
	r.transactions = append(r.transactions, in.TransactItems)
	r.mu.Unlock()
	return r.API.TransactWriteItems(ctx, in, opts...)
}

// take returns the transactions recorded since the last take.
func (r *recorder) take() [][]types.TransactWriteItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.transactions
	r.transactions = nil
	return out
}

type fixture struct {
	st     *dynamostore.Store
	rec    *recorder
	client *dynamodb.Client
	table  string
}

func newFixture(t *testing.T) fixture {
	client := dynamolocaltest.Client(t)
	table := dynamolocaltest.NewTable(t, client, dynamostore.TableDefinition("chat"))
	rec := &recorder{API: client}
	st, err := dynamostore.New(rec, table, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return fixture{st: st, rec: rec, client: client, table: table}
}

var at = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func allExist(string) bool { return true }

// appendTo decides cmds one after another on the stored room and appends
// all they decided in one append.
func (f fixture) appendTo(t *testing.T, roomID string, cmds ...func(r *chat.Room) ([]chat.Event, error)) (store.AppendResult, error) {
	t.Helper()
	ctx := t.Context()
	r, err := f.st.Room(ctx, roomID)
	if errors.Is(err, store.ErrNotFound) {
		r = chat.NewRoom(roomID)
	} else if err != nil {
		t.Fatal(err)
	}
	version, messages := r.Version, r.Messages
	var events []chat.Event
	for _, cmd := range cmds {
		evs, err := cmd(r)
		if err != nil {
			t.Fatalf("command refused: %v", err)
		}
		for _, e := range evs {
			if err := r.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
		events = append(events, evs...)
	}
	return f.st.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: version, Messages: messages, Events: events})
}

func (f fixture) mustAppend(t *testing.T, roomID string, cmds ...func(r *chat.Room) ([]chat.Event, error)) []chat.Event {
	t.Helper()
	res, err := f.appendTo(t, roomID, cmds...)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res.Events
}

func sendAs(user, cmid, text string) func(r *chat.Room) ([]chat.Event, error) {
	return func(r *chat.Room) ([]chat.Event, error) {
		return r.SendMessage(user, chat.MessageID(r.ID, user, cmid), cmid, text, at)
	}
}

func createAs(owner string, members ...string) func(r *chat.Room) ([]chat.Event, error) {
	return func(r *chat.Room) ([]chat.Event, error) {
		return chat.CreateRoom(r.ID, owner, "room", members, allExist, at)
	}
}

func (f fixture) membership(t *testing.T, roomID, user string) store.Membership {
	t.Helper()
	m, err := f.st.Membership(t.Context(), roomID, user)
	if err != nil {
		t.Fatalf("Membership(%s): %v", user, err)
	}
	return m
}

// TestMessageWrites pins what a message costs: one transaction of the
// event, the message item, the sender's row, each mentioned member's row
// and the head, every item under 1 KB (2 write units each). A batch writes
// each member row once however often it touches it, with the counts a
// message at a time would have left.
func TestMessageWrites(t *testing.T) {
	f := newFixture(t)
	room := "r1"
	f.mustAppend(t, room, createAs("alice", "bob", "carol"))
	tests := []struct {
		name  string
		cmds  []func(r *chat.Room) ([]chat.Event, error)
		items int
	}{
		{"plain", []func(r *chat.Room) ([]chat.Event, error){sendAs("alice", "a1", "hello")}, 4},
		{"two mentions", []func(r *chat.Room) ([]chat.Event, error){sendAs("alice", "a2", "@bob @carol look")}, 6},
		{"mentioning yourself", []func(r *chat.Room) ([]chat.Event, error){sendAs("alice", "a3", "@alice me")}, 4},
		{"a batch crossing mentions", []func(r *chat.Room) ([]chat.Event, error){
			sendAs("alice", "b1", "@bob one"), sendAs("bob", "b2", "@alice two"), sendAs("alice", "b3", "@bob three"),
		}, 3 + 3 + 2 + 1},
	}
	for _, tt := range tests {
		f.rec.take()
		f.mustAppend(t, room, tt.cmds...)
		got := f.rec.take()
		if len(got) != 1 || len(got[0]) != tt.items {
			t.Fatalf("%s: %d transactions, the first of %d items; want one of %d", tt.name, len(got), len(got[0]), tt.items)
		}
		if wcu := awsmeter.TransactWriteCapacity(got[0]); wcu != float64(2*tt.items) {
			t.Errorf("%s: %v write units, want %d", tt.name, wcu, 2*tt.items)
		}
	}
	// The batch is seqs 5 (alice, @bob), 6 (bob, @alice), 7 (alice, @bob):
	// the room's messages 4, 5 and 6.
	if r, _ := f.st.Room(t.Context(), room); r.Messages != 6 || r.Version != 7 {
		t.Fatalf("head: %d messages at version %d, want 6 at 7", r.Messages, r.Version)
	}
	want := map[string]store.Membership{
		"alice": {Username: "alice", Role: chat.RoleOwner, ReadSeq: 7, ReadMessages: 6, Mentions: 1, ReadMentions: 1},
		"bob":   {Username: "bob", Role: chat.RoleMember, ReadSeq: 6, ReadMessages: 5, Mentions: 3, ReadMentions: 2},
		"carol": {Username: "carol", Role: chat.RoleMember, ReadSeq: 1, ReadMessages: 0, Mentions: 1, ReadMentions: 0},
	}
	for u, w := range want {
		if got := f.membership(t, room, u); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s's row = %+v, want %+v", u, got, w)
		}
	}
}

// TestAppendPastOneTransaction: an append that needs more than the 100
// writes of a transaction is refused whole, with an error that says so.
func TestAppendPastOneTransaction(t *testing.T) {
	f := newFixture(t)
	room := "r1"
	f.mustAppend(t, room, createAs("alice", "bob"))
	batch := func(n int, prefix string) []func(r *chat.Room) ([]chat.Event, error) {
		var cmds []func(r *chat.Room) ([]chat.Event, error)
		for i := range n {
			cmds = append(cmds, sendAs("alice", fmt.Sprint(prefix, i), "hi"))
		}
		return cmds
	}
	// 49 messages: 49 events, 49 message items, alice's row and the head.
	if _, err := f.appendTo(t, room, batch(49, "a")...); err != nil {
		t.Fatalf("100 writes: %v", err)
	}
	_, err := f.appendTo(t, room, batch(50, "b")...)
	if err == nil || errors.Is(err, store.ErrConcurrency) || !strings.Contains(err.Error(), "102 writes") {
		t.Fatalf("102 writes: %v, want an error that counts them", err)
	}
	if r, _ := f.st.Room(t.Context(), room); r.Version != 50 || r.Messages != 49 {
		t.Fatalf("after the refused append: version %d, %d messages; want 50 and 49", r.Version, r.Messages)
	}
}

// TestChangesToAMessageThatIsGone: an edit or a second deletion decided on
// a message that was deleted meanwhile is a conflict (reading again, the
// domain refuses it), and Erase may name only the deleted message's events.
func TestChangesToAMessageThatIsGone(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	room := "r1"
	f.mustAppend(t, room, createAs("alice", "bob"))
	sent := f.mustAppend(t, room, sendAs("bob", "c1", "secret"))[0]
	other := f.mustAppend(t, room, sendAs("alice", "c2", "keep me"))[0]
	id := sent.Data.(chat.MessageSent).MessageID
	m, err := f.st.Message(ctx, room, id)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := f.st.Room(ctx, room)
	del := must(t)(r.DeleteMessage("bob", m.Ref(), at))
	if _, err := f.st.Append(ctx, store.AppendRequest{RoomID: room, ExpectedVersion: r.Version, Messages: r.Messages, Events: del, Erase: []int64{m.Seq, other.Seq}}); err == nil {
		t.Fatal("erasing another message's event was accepted")
	}
	if _, err := f.st.Append(ctx, store.AppendRequest{RoomID: room, ExpectedVersion: r.Version, Messages: r.Messages, Events: del, Erase: []int64{m.Seq}}); err != nil {
		t.Fatal(err)
	}
	r, _ = f.st.Room(ctx, room)
	for name, data := range map[string]chat.EventData{
		"edit":            chat.MessageEdited{MessageID: id, Text: "too late"},
		"second deletion": chat.MessageDeleted{MessageID: id},
		"unknown message": chat.MessageEdited{MessageID: "m-unknown", Text: "who?"},
	} {
		e := chat.Event{RoomID: room, Seq: r.Version + 1, Username: "bob", At: at, Data: data}
		if _, err := f.st.Append(ctx, store.AppendRequest{RoomID: room, ExpectedVersion: r.Version, Messages: r.Messages, Events: []chat.Event{e}}); !errors.Is(err, store.ErrConcurrency) {
			t.Errorf("%s: %v, want ErrConcurrency", name, err)
		}
	}
	if after, _ := f.st.Room(ctx, room); after.Version != r.Version {
		t.Fatalf("refused changes moved the version to %d", after.Version)
	}
}

// must fails the test when the command it wraps was refused.
func must(t *testing.T) func([]chat.Event, error) []chat.Event {
	return func(events []chat.Event, err error) []chat.Event {
		t.Helper()
		if err != nil {
			t.Fatalf("command refused: %v", err)
		}
		return events
	}
}

func (f fixture) connect(t *testing.T, id, user string) {
	t.Helper()
	ctx := t.Context()
	hash := "session-" + id
	if err := f.st.CreateSession(ctx, store.Session{TokenHash: hash, Username: user, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.PutConnection(ctx, store.Connection{ID: id, Username: user, SessionHash: hash, ConnectedAt: at, ExpiresAt: time.Now().Add(2 * time.Hour)}, 0); err != nil { // connections expire by the real clock
		t.Fatal(err)
	}
}

func (f fixture) audience(t *testing.T, roomID string) []string {
	t.Helper()
	ms, err := f.st.Audience(t.Context(), roomID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		conns := slices.Sorted(slices.Values(m.Connections))
		out = append(out, m.Username+"="+strings.Join(conns, "+"))
	}
	slices.Sort(out)
	return out
}

// TestConnectKeepsRowsToLiveSockets: a socket whose $disconnect never ran
// stays on the member rows only until its user's next connect, and a
// promotion leaves a member's sockets alone.
func TestConnectKeepsRowsToLiveSockets(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	room := "r1"
	f.mustAppend(t, room, createAs("alice", "bob"))
	f.connect(t, "a1", "alice")
	f.connect(t, "a2", "alice")
	f.connect(t, "b1", "bob")
	if got := f.audience(t, room); !slices.Equal(got, []string{"alice=a1+a2", "bob=b1"}) {
		t.Fatalf("Audience = %v", got)
	}
	// a1's $disconnect was lost and the TTL took its item.
	if _, err := f.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(f.table), Key: map[string]types.AttributeValue{
		dynamostore.AttrPK: &types.AttributeValueMemberS{Value: "CONN#a1"}, dynamostore.AttrSK: &types.AttributeValueMemberS{Value: "CONN"},
	}}); err != nil {
		t.Fatal(err)
	}
	f.connect(t, "a3", "alice")
	if got := f.audience(t, room); !slices.Equal(got, []string{"alice=a2+a3", "bob=b1"}) {
		t.Fatalf("Audience after a connect = %v", got)
	}
	if conns, err := f.st.UserConnections(ctx, "alice"); err != nil || !slices.Equal(slices.Sorted(slices.Values(conns)), []string{"a2", "a3"}) {
		t.Fatalf("UserConnections(alice) = %v, %v", conns, err)
	}
	f.mustAppend(t, room, func(r *chat.Room) ([]chat.Event, error) {
		return r.AddMembers("alice", []string{"bob"}, true, allExist, at)
	})
	if m := f.membership(t, room, "bob"); m.Role != chat.RoleAdmin {
		t.Fatalf("bob after promotion: %+v", m)
	}
	if got := f.audience(t, room); !slices.Equal(got, []string{"alice=a2+a3", "bob=b1"}) {
		t.Fatalf("Audience after a promotion = %v", got)
	}
	// A new room starts with its members' sockets.
	f.mustAppend(t, "r2", createAs("bob", "alice"))
	if got := f.audience(t, "r2"); !slices.Equal(got, []string{"alice=a2+a3", "bob=b1"}) {
		t.Fatalf("Audience of a new room = %v", got)
	}
	for _, id := range []string{"a2", "a3", "b1"} {
		if err := f.st.DeleteConnection(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.audience(t, room); len(got) != 0 {
		t.Fatalf("Audience with every socket closed = %v", got)
	}
}

// TestReplaceProjectionKeepsReadState: the rebuild's repair replaces roles
// and the head, and keeps what only the rows know: read positions, counts
// and sockets. A row it has to create starts read up to the room's version.
func TestReplaceProjectionKeepsReadState(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	room := "r1"
	f.mustAppend(t, room, createAs("alice", "bob", "carol"))
	f.connect(t, "b1", "bob")
	f.mustAppend(t, room, sendAs("alice", "a1", "@bob hi"))
	f.mustAppend(t, room, sendAs("alice", "a2", "@bob there"))
	bob := f.membership(t, room, "bob")
	if moved, err := f.st.SetReadPosition(ctx, room, "bob", store.ReadPosition{Seq: 2, Messages: 1, Mentions: 1}, bob.Mentions); err != nil || !moved {
		t.Fatalf("SetReadPosition: %v, %v", moved, err)
	}
	bob = f.membership(t, room, "bob")
	if _, err := f.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(f.table), Key: map[string]types.AttributeValue{
		dynamostore.AttrPK: &types.AttributeValueMemberS{Value: "ROOM#" + room}, dynamostore.AttrSK: &types.AttributeValueMemberS{Value: "MEMBER#carol"},
	}}); err != nil {
		t.Fatal(err)
	}
	page, err := f.st.ReadForward(ctx, room, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := chat.Replay(room, page.Events)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.ReplaceProjection(ctx, replayed); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.st.Room(ctx, room)
	if d := storetest.DiffRooms(replayed, stored); d != "" {
		t.Fatalf("after repair: %s", d)
	}
	if got := f.membership(t, room, "bob"); fmt.Sprint(got) != fmt.Sprint(bob) {
		t.Errorf("bob's row after repair = %+v, want it kept as %+v", got, bob)
	}
	if got := f.audience(t, room); !slices.Equal(got, []string{"bob=b1"}) {
		t.Errorf("Audience after repair = %v", got)
	}
	if got := f.membership(t, room, "carol"); got.ReadSeq != replayed.Version || got.ReadMessages != replayed.Messages || got.Role != chat.RoleMember {
		t.Errorf("carol's recreated row = %+v, want read up to %d (%d messages)", got, replayed.Version, replayed.Messages)
	}
}

// TestDirectRoomHead: the head keeps a direct room's kind and pair, and a
// group's head has neither.
func TestDirectRoomHead(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	evs := must(t)(chat.CreateDirect("bob", "alice", allExist, at))
	id := evs[0].RoomID
	if _, err := f.st.Append(ctx, store.AppendRequest{RoomID: id, Events: evs}); err != nil {
		t.Fatal(err)
	}
	f.mustAppend(t, "g", createAs("bob", "alice"))
	for room, want := range map[string]string{id: "direct [bob alice]", "g": "group [ ]"} {
		r, err := f.st.RoomAs(ctx, room, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(r.KindOf(), " ", r.Pair); got != want {
			t.Errorf("room %s: %s, want %s", room, got, want)
		}
	}
}
