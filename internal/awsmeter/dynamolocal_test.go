package awsmeter_test

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/awsmeter"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

func newTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	return dynamolocaltest.NewTable(t, client, &dynamodb.CreateTableInput{
		TableName:            aws.String("meter"),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash}},
	})
}

// itemOf returns an item whose size, as DynamoDB counts it (attribute
// names plus values), is size bytes.
func itemOf(pk string, size int) map[string]types.AttributeValue {
	// "PK" + pk, "d" + padding.
	pad := size - len("PK") - len(pk) - len("d")
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: pk},
		"d":  &types.AttributeValueMemberS{Value: strings.Repeat("x", pad)},
	}
}

// TestDynamoDBLocalCapacity checks the meter against the capacity DynamoDB
// bills for known requests: a write is 1 WCU per started KB, a strongly
// consistent read 1 RCU per started 4 KB (half for an eventually
// consistent one), a transaction twice that per item. DynamoDB Local
// reports these figures itself, except for transactions, which the meter
// then sizes from the items.
func TestDynamoDBLocalCapacity(t *testing.T) {
	m := awsmeter.New(awsmeter.Config{TransactWritesFromItemSizes: true})
	client := dynamolocaltest.Client(t, m.DynamoDB)
	table := newTable(t, client)
	ctx := t.Context()
	put := func(pk string, size int) {
		t.Helper()
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: itemOf(pk, size)}); err != nil {
			t.Fatal(err)
		}
	}
	key := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}}
	}
	small := func(pk string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: itemOf(pk, 100)}}
	}
	tests := []struct {
		name string
		do   func()
		op   string
		rcu  float64
		wcu  float64
	}{
		{"put 1 KB", func() { put("a", 1024) }, "PutItem", 0, 1},
		{"put 1 KB and a byte", func() { put("b", 1025) }, "PutItem", 0, 2},
		{"put 100 bytes", func() { put("c", 100) }, "PutItem", 0, 1},
		{"consistent get of 1 KB", func() {
			if _, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key("a"), ConsistentRead: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
		}, "GetItem", 1, 0},
		{"eventually consistent get of 1 KB", func() {
			if _, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key("a")}); err != nil {
				t.Fatal(err)
			}
		}, "GetItem", 0.5, 0},
		{"transaction of 3 small items", func() {
			if _, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{small("t1"), small("t2"), small("t3")}}); err != nil {
				t.Fatal(err)
			}
		}, "TransactWriteItems", 0, 6},
		{"update of a small item", func() {
			if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key("c"),
				UpdateExpression: aws.String("SET n = :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}}); err != nil {
				t.Fatal(err)
			}
		}, "UpdateItem", 0, 1},
		{"batch get of two items", func() {
			if _, err := client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				table: {Keys: []map[string]types.AttributeValue{key("a"), key("c")}, ConsistentRead: aws.Bool(true)}}}); err != nil {
				t.Fatal(err)
			}
		}, "BatchGetItem", 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := m.Snapshot()
			tt.do()
			used := m.Snapshot().Sub(before)
			op := awsmeter.Operation{Service: awsmeter.ServiceDynamoDB, Name: tt.op}
			if len(used) != 1 || used[op].Calls != 1 {
				t.Fatalf("used %v, want one call of %s", used, op)
			}
			if got := used[op]; got.ReadCapacityUnits != tt.rcu || got.WriteCapacityUnits != tt.wcu || got.CapacityUnits != tt.rcu+tt.wcu {
				t.Errorf("%s: got %+v, want %v RCU and %v WCU", op, got, tt.rcu, tt.wcu)
			}
		})
	}
}

// TestConcurrentUse meters one client from many goroutines; -race checks
// the locking and the sums must come out exact.
func TestConcurrentUse(t *testing.T) {
	m := awsmeter.New(awsmeter.Config{})
	client := dynamolocaltest.Client(t, m.DynamoDB)
	table := newTable(t, client)
	const writers, each = 8, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				in := &dynamodb.PutItemInput{TableName: &table, Item: itemOf(strings.Repeat("k", w+1)+string(rune('a'+i)), 200)}
				if _, err := client.PutItem(t.Context(), in); err != nil {
					t.Error(err)
				}
				if in.ReturnConsumedCapacity != "" {
					t.Error("the meter wrote to the caller's input")
				}
			}
		})
	}
	wg.Wait()
	got := m.Snapshot()[awsmeter.Operation{Service: awsmeter.ServiceDynamoDB, Name: "PutItem"}]
	if got.Calls != writers*each || got.WriteCapacityUnits != writers*each {
		t.Errorf("got %+v, want %d calls and WCU", got, writers*each)
	}
}

// TestDynamoDBLocalTransactionFigure pins down why the meter sizes
// transactions itself against DynamoDB Local: the server reports 4 units
// for three items of 100 bytes, where DynamoDB bills 6. Should a later
// DynamoDB Local report the billed figure, this fails, and the
// workaround can go.
func TestDynamoDBLocalTransactionFigure(t *testing.T) {
	m := awsmeter.New(awsmeter.Config{})
	client := dynamolocaltest.Client(t, m.DynamoDB)
	table := newTable(t, client)
	var items []types.TransactWriteItem
	for _, pk := range []string{"t1", "t2", "t3"} {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: itemOf(pk, 100)}})
	}
	if _, err := client.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		t.Fatal(err)
	}
	reported := m.Snapshot()[awsmeter.Operation{Service: awsmeter.ServiceDynamoDB, Name: "TransactWriteItems"}].WriteCapacityUnits
	if billed := awsmeter.TransactWriteCapacity(items); reported == billed || billed != 6 {
		t.Errorf("DynamoDB Local reported %v WCU and the items size to %v: the server may now report what DynamoDB bills (6); drop Config.TransactWritesFromItemSizes", reported, billed)
	}
}
