package dynamostore_test

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"log/slog"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/awsmeter"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/dynamostore"
)

// TestConnectionReadCapacity pins down the cost of the read every socket
// frame makes: half a unit (eventually consistent) for a connection that
// is there, and a consistent read on top only when that finds nothing.
func TestConnectionReadCapacity(t *testing.T) {
	meter := awsmeter.New(awsmeter.Config{})
	client := dynamolocaltest.Client(t, meter.DynamoDB)
	table := dynamolocaltest.NewTable(t, client, dynamostore.TableDefinition("chat"))
	st, err := dynamostore.New(client, table, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := st.CreateSession(t.Context(), store.Session{TokenHash: "h1", Username: "ann", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c := store.Connection{ID: "c1", Username: "ann", SessionHash: "h1", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.PutConnection(t.Context(), c, 0); err != nil {
		t.Fatal(err)
	}
	getItem := awsmeter.Operation{Service: awsmeter.ServiceDynamoDB, Name: "GetItem"}
	tests := []struct {
		id       string
		wantErr  error
		calls    int64
		capacity float64
	}{
		{"c1", nil, 1, 0.5},
		{"nobody", store.ErrNotFound, 2, 1.5},
	}
	for _, tt := range tests {
		before := meter.Snapshot()
		got, err := st.Connection(t.Context(), tt.id)
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("Connection(%s): %v, want %v", tt.id, err, tt.wantErr)
		}
		if err == nil && (got.Username != c.Username || got.SessionHash != c.SessionHash) {
			t.Errorf("Connection(%s) = %+v", tt.id, got)
		}
		used := meter.Snapshot().Sub(before)[getItem]
		if used.Calls != tt.calls || used.ReadCapacityUnits != tt.capacity {
			t.Errorf("Connection(%s): %d reads, %v RCU; want %d, %v", tt.id, used.Calls, used.ReadCapacityUnits, tt.calls, tt.capacity)
		}
	}
}

// TestConnectionLimitForgetsLostDisconnects: API Gateway's $disconnect is
// best effort, so a user's set of open connections can name some that are
// gone (their items deleted by TTL). They must not count against the limit.
func TestConnectionLimitForgetsLostDisconnects(t *testing.T) {
	client := dynamolocaltest.Client(t)
	table := dynamolocaltest.NewTable(t, client, dynamostore.TableDefinition("chat"))
	st, err := dynamostore.New(client, table, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := st.CreateSession(t.Context(), store.Session{TokenHash: "h1", Username: "ann", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	put := func(id string) error {
		return st.PutConnection(t.Context(), store.Connection{ID: id, Username: "ann", SessionHash: "h1", ConnectedAt: now, ExpiresAt: now.Add(time.Hour)}, 2)
	}
	for _, id := range []string{"c1", "c2"} {
		if err := put(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := put("c3"); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("third connection: %v, want ErrLimit", err)
	}
	// c1's $disconnect never ran and the TTL sweep removed its item.
	if _, err := client.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		dynamostore.AttrPK: &types.AttributeValueMemberS{Value: "CONN#c1"}, dynamostore.AttrSK: &types.AttributeValueMemberS{Value: "CONN"},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := put("c3"); err != nil {
		t.Fatalf("with c1 gone: %v, want nil", err)
	}
	if err := put("c4"); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("past the limit again: %v, want ErrLimit", err)
	}

	// The set lives as long as the newest connection in it may.
	later := now.Add(30 * time.Minute)
	if err := st.DeleteConnection(t.Context(), "c2"); err != nil {
		t.Fatal(err)
	}
	if err := st.PutConnection(t.Context(), store.Connection{ID: "c5", Username: "ann", SessionHash: "h1", ConnectedAt: later, ExpiresAt: later.Add(time.Hour)}, 2); err != nil {
		t.Fatal(err)
	}
	key := map[string]types.AttributeValue{
		dynamostore.AttrPK: &types.AttributeValueMemberS{Value: "USER#ann"}, dynamostore.AttrSK: &types.AttributeValueMemberS{Value: "CONNS"},
	}
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := out.Item[dynamostore.AttrExpiresAt].(*types.AttributeValueMemberN); e == nil || e.Value != fmt.Sprint(later.Add(time.Hour).Unix()) {
		t.Errorf("the set expires at %v, want the newest connection's expiry %d", out.Item[dynamostore.AttrExpiresAt], later.Add(time.Hour).Unix())
	}

	// Closing a connection after the set's TTL removed it writes nothing.
	if _, err := client.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteConnection(t.Context(), "c5"); err != nil {
		t.Fatal(err)
	}
	if out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)}); err != nil || out.Item != nil {
		t.Errorf("closing a connection wrote the set back: %v, %v", out.Item, err)
	}
}
