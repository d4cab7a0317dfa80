package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
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
)

// rosterRoom is a room on DynamoDB Local whose sockets a test joins and
// takes out, and whose roster it checks.
type rosterRoom struct {
	t      *testing.T
	st     *dynamostore.Store
	client *dynamodb.Client
	table  string
	meter  *awsmeter.Meter
	roomID string
	users  []string
	epoch  time.Time
}

// newRosterRoom makes the room; wrap, when set, stands between the store
// and DynamoDB Local.
func newRosterRoom(t *testing.T, wrap func(dynamostore.API) dynamostore.API) *rosterRoom {
	meter := awsmeter.New(awsmeter.Config{})
	client := dynamolocaltest.Client(t, meter.DynamoDB)
	table := dynamolocaltest.NewTable(t, client, dynamostore.TableDefinition("chat"))
	var db dynamostore.API = client
	if wrap != nil {
		db = wrap(client)
	}
	st, err := dynamostore.New(db, table, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rr := &rosterRoom{t: t, st: st, client: client, table: table, meter: meter, roomID: "01M8ZSHRINK00000000000000R",
		users: []string{"ann", "bob", "cyd"}, epoch: time.Now().UTC().Truncate(time.Second)}
	created, err := chat.CreateRoom(rr.roomID, rr.users[0], "general", rr.users[1:], func(string) bool { return true }, rr.epoch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(t.Context(), store.AppendRequest{RoomID: rr.roomID, Events: created}); err != nil {
		t.Fatal(err)
	}
	return rr
}

func (rr *rosterRoom) userOf(conn string) string {
	return rr.users[int(conn[len(conn)-1])%len(rr.users)]
}

// presence joins or leaves as the use cases do: read, decide, append, and
// again on a conflict.
func (rr *rosterRoom) presence(st *dynamostore.Store, conn string, join bool) error {
	ctx, user := rr.t.Context(), rr.userOf(conn)
	for attempt := 0; ; attempt++ {
		r, err := st.RoomAs(ctx, rr.roomID, user)
		if err != nil {
			return err
		}
		req := store.AppendRequest{RoomID: rr.roomID, ExpectedVersion: r.Version, Messages: r.Messages}
		p := &store.Presence{ConnectionID: conn, Username: user, ExpiresAt: rr.epoch.Add(time.Hour)}
		if join {
			req.Events, err = r.Join(user, rr.epoch)
			req.Join = p
		} else {
			req.Events, err = r.Leave(user, rr.epoch)
			req.Leave = p
		}
		if err != nil {
			return err
		}
		_, err = st.Append(ctx, req)
		if errors.Is(err, store.ErrConcurrency) && attempt < 500 {
			time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
			continue
		}
		return err
	}
}

func (rr *rosterRoom) each(conns []string, join bool) {
	rr.t.Helper()
	for _, c := range conns {
		if err := rr.presence(rr.st, c, join); err != nil {
			rr.t.Fatalf("join %v of %s: %v", join, c, err)
		}
	}
}

// shards is the room's number of shards, which the head and shard 0 must
// agree on.
func (rr *rosterRoom) shards() int64 {
	t := rr.t
	t.Helper()
	var n [2]int64
	for i, k := range []struct{ pk, sk string }{{"ROOM#" + rr.roomID, "HEAD"}, {"ROSTER#" + rr.roomID, "R#0"}} {
		out, err := rr.client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(rr.table), Key: map[string]types.AttributeValue{
			dynamostore.AttrPK: &types.AttributeValueMemberS{Value: k.pk}, dynamostore.AttrSK: &types.AttributeValueMemberS{Value: k.sk}}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := out.Item["shards"].(*types.AttributeValueMemberN); ok {
			if n[i], err = strconv.ParseInt(v.Value, 10, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n[0] != n[1] {
		t.Fatalf("the head says %d shards and shard 0 says %d", n[0], n[1])
	}
	return n[0]
}

// want checks the number of shards, that a message's read of the roster
// costs one unit a shard, and that it lists exactly conns.
func (rr *rosterRoom) want(when string, shardCount int64, conns ...[]string) {
	t := rr.t
	t.Helper()
	if got := rr.shards(); got != shardCount {
		t.Errorf("%s: %d shards, want %d", when, got, shardCount)
	}
	before := rr.meter.Snapshot()
	roster, err := rr.st.RoomRoster(t.Context(), rr.roomID)
	if err != nil {
		t.Fatal(err)
	}
	used := rr.meter.Snapshot().Sub(before).Service(awsmeter.ServiceDynamoDB)
	if wantRCU := float64(shardCount); used.ReadCapacityUnits != wantRCU {
		t.Errorf("%s: the roster read cost %v RCU, want %v (one a shard)", when, used.ReadCapacityUnits, wantRCU)
	}
	var got []string
	for _, p := range roster.Joined {
		got = append(got, p.ConnectionID)
	}
	slices.Sort(got)
	all := slices.Sorted(slices.Values(slices.Concat(conns...)))
	if !slices.Equal(got, all) {
		t.Fatalf("%s: roster has %d connections, want %d; missing %v, extra %v", when, len(got), len(all), diff(all, got), diff(got, all))
	}
}

func names(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%03d", prefix, i))
	}
	return out
}

// TestRosterShrinks: joins fill the lowest shard with room, and once the
// sockets of the highest shards have gone (by leave_room, by a removal or
// a $disconnect's sweep) the room stops reading those shards on every
// message. Joins and leaves racing each other lose no entry, and a socket
// taken out and joined again is counted again.
func TestRosterShrinks(t *testing.T) {
	rr := newRosterRoom(t, nil)
	first, second, third := names("a", 0, 100), names("b", 0, 100), names("c", 0, 50)
	rr.each(first, true)
	rr.each(second, true)
	rr.each(third, true)
	rr.want("after 250 joins", 3, first, second, third)

	rr.each(third, false)
	rr.want("after the third shard's sockets left", 2, first, second)

	if err := rr.st.RemovePresence(t.Context(), rr.roomID, second...); err != nil {
		t.Fatal(err)
	}
	rr.want("after the second shard's sockets were removed", 1, first)

	// Taken out and joined again: placed afresh and counted, so the shard
	// it lands in is not given up under it.
	rr.each(second[:30], true)
	rr.want("after 30 of the removed joined again", 2, first, second[:30])
	rr.each(second[:30], false)
	rr.want("after those left again", 1, first)

	// Joins into the second shard racing leaves from it.
	rr.each(second[:60], true)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for _, batch := range [][]string{second[:60], names("d", 0, 40)} {
		joining := batch[0][0] == 'd'
		for _, c := range batch {
			wg.Go(func() {
				if err := rr.presence(rr.st, c, joining); err != nil {
					mu.Lock()
					failures = append(failures, fmt.Errorf("%s (join %v): %w", c, joining, err))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatal(errors.Join(failures...))
	}
	rr.want("after 60 leaves raced 40 joins", 2, first, names("d", 0, 40))
	rr.each(names("d", 0, 40), false)
	rr.want("after the last of the second shard left", 1, first)
}

// beforeTransact runs its hook, once armed, before the next transaction
// goes to DynamoDB: what another instance does between a placement's
// read and its write.
type beforeTransact struct {
	dynamostore.API
	mu   sync.Mutex
	hook func()
}

func (b *beforeTransact) arm(hook func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hook = hook
}

func (b *beforeTransact) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	b.mu.Lock()
	hook := b.hook
	b.hook = nil
	b.mu.Unlock()
	if hook != nil {
		hook()
	}
	return b.API.TransactWriteItems(ctx, in, opts...)
}

// TestJoinsPlacedBeforeAShrink: a join that read the roster's shape before
// another instance shrank it does not land in a shard no message reads any
// more, and neither does a second join of a socket whose entry was taken
// out in between.
func TestJoinsPlacedBeforeAShrink(t *testing.T) {
	// Between the join's placement and its write, another instance takes
	// the last socket of the second shard out without an event (a
	// $disconnect's sweep), so the room's version, which every join
	// checks, does not move, and the roster shrinks to one shard.
	tests := []struct{ name, joiner string }{
		{"a new socket", "y000"},
		{"a socket joining again", "x000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hooked *beforeTransact
			rr := newRosterRoom(t, func(db dynamostore.API) dynamostore.API {
				hooked = &beforeTransact{API: db}
				return hooked
			})
			other, err := dynamostore.New(rr.client, rr.table, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			first := names("a", 0, 100)
			rr.each(first, true)
			rr.each([]string{"x000"}, true)
			rr.want("with one socket in the second shard", 2, first, []string{"x000"})
			var betweenErr error
			hooked.arm(func() { betweenErr = other.RemovePresence(t.Context(), rr.roomID, "x000") })
			rr.each([]string{tt.joiner}, true)
			if betweenErr != nil {
				t.Fatal(betweenErr)
			}
			rr.want("after the join", 2, first, []string{tt.joiner})
		})
	}
}

func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}
