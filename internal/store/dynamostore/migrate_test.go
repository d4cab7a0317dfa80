package dynamostore_test

import (
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/dynamostore"
)

// TestMigratePresence: presence written as it was before the roster (an
// item per joined connection) is invisible to the roster until
// MigratePresence moves it; then the sockets are listed, can leave, and a
// second run moves nothing. Lapsed items are dropped. The members' open
// sockets not joined to the room, which nothing noted as away before,
// are noted; joined and closed ones are not.
func TestMigratePresence(t *testing.T) {
	ctx := t.Context()
	client := dynamolocaltest.Client(t)
	table := dynamolocaltest.NewTable(t, client, dynamostore.TableDefinition("chat"))
	st, err := dynamostore.New(client, table, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Now().UTC().Truncate(time.Second)
	roomID := "01M8ZMIGRATE0000000000000R"
	apply := func(events []chat.Event, err error, join, leave *store.Presence) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		r, rerr := st.Room(ctx, roomID)
		if rerr != nil {
			r = chat.NewRoom(roomID)
		}
		for i := range events {
			events[i].Seq = r.Version + int64(i) + 1
		}
		if _, err := st.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Messages: r.Messages, Events: events, Join: join, Leave: leave}); err != nil {
			t.Fatal(err)
		}
	}
	created, err := chat.CreateRoom(roomID, "ann", "general", []string{"bob"}, func(string) bool { return true }, epoch)
	apply(created, err, nil, nil)
	live := epoch.Add(time.Hour)
	r, _ := st.Room(ctx, roomID)
	joined, err := r.Join("ann", epoch)
	apply(joined, err, &store.Presence{ConnectionID: "new1", Username: "ann", ExpiresAt: live}, nil)

	legacy := func(conn, user string, until time.Time) {
		t.Helper()
		exp := &types.AttributeValueMemberN{Value: strconv.FormatInt(until.Unix(), 10)}
		for _, it := range []map[string]types.AttributeValue{
			{"PK": &types.AttributeValueMemberS{Value: "ROOM#" + roomID}, "SK": &types.AttributeValueMemberS{Value: "CONN#" + conn},
				"username": &types.AttributeValueMemberS{Value: user}, dynamostore.AttrExpiresAt: exp},
			{"PK": &types.AttributeValueMemberS{Value: "CONN#" + conn}, "SK": &types.AttributeValueMemberS{Value: "ROOM#" + roomID}, dynamostore.AttrExpiresAt: exp},
		} {
			if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
				t.Fatal(err)
			}
		}
	}
	legacy("old1", "ann", live)
	legacy("old2", "bob", live)
	legacy("lapsed", "bob", epoch.Add(-time.Minute))
	// Bob's member row lists his sockets, as $connect wrote them: old2
	// (joined), bobtab (open, not joined) and closed (gone since).
	for _, conn := range []string{"old2", "bobtab"} {
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "CONN#" + conn}, "SK": &types.AttributeValueMemberS{Value: "CONN"},
			"username": &types.AttributeValueMemberS{Value: "bob"}, dynamostore.AttrExpiresAt: &types.AttributeValueMemberN{Value: strconv.FormatInt(live.Unix(), 10)},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
		Key:                       map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "ROOM#" + roomID}, "SK": &types.AttributeValueMemberS{Value: "MEMBER#bob"}},
		UpdateExpression:          aws.String("ADD conns :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberSS{Value: []string{"old2", "bobtab", "closed"}}},
	}); err != nil {
		t.Fatal(err)
	}
	away := func() []string {
		t.Helper()
		roster, err := st.RoomRoster(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		return roster.Away["bob"]
	}
	if got := away(); len(got) != 0 {
		t.Fatalf("before the move bob is away on %v, want nothing noted", got)
	}
	listed := func() []string {
		t.Helper()
		ps, err := st.RoomConnections(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.ConnectionID+"="+p.Username)
		}
		slices.Sort(out)
		return out
	}
	if got := listed(); !slices.Equal(got, []string{"new1=ann"}) {
		t.Fatalf("before the move the roster lists %v, want new1 alone", got)
	}
	done, err := st.MigratePresence(ctx)
	if err != nil || done.Moved != 2 || done.Dropped != 1 || done.Away != 1 {
		t.Fatalf("MigratePresence = %+v, %v; want 2 moved, 1 dropped, bobtab away", done, err)
	}
	if got := listed(); !slices.Equal(got, []string{"new1=ann", "old1=ann", "old2=bob"}) {
		t.Fatalf("after the move the roster lists %v", got)
	}
	if got := away(); !slices.Equal(got, []string{"bobtab"}) {
		t.Fatalf("after the move bob is away on %v, want bobtab alone", got)
	}
	if done, err := st.MigratePresence(ctx); err != nil || done.Moved+done.Dropped != 0 {
		t.Fatalf("a second run: %+v, %v; want nothing moved or dropped", done, err)
	}
	r, _ = st.Room(ctx, roomID)
	left, err := r.Leave("ann", epoch)
	apply(left, err, nil, &store.Presence{ConnectionID: "old1", Username: "ann"})
	if got := listed(); !slices.Equal(got, []string{"new1=ann", "old2=bob"}) {
		t.Fatalf("after old1 left the roster lists %v", got)
	}
	if rooms, err := st.ConnectionRooms(ctx, "lapsed"); err != nil || len(rooms) != 0 {
		t.Fatalf("the lapsed connection's rooms: %v, %v; want none", rooms, err)
	}
}
