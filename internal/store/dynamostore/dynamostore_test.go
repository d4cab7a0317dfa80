package dynamostore_test

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/dynamostore"
	"github.com/chatroom/chat/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// open gives each test a fresh table on the shared DynamoDB Local.
func open(t testing.TB) store.Store {
	client := dynamolocaltest.Client(t)
	table := dynamolocaltest.NewTable(t, client, dynamostore.TableDefinition("chat"))
	s, err := dynamostore.New(client, table, slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformanceDynamoDBLocal(t *testing.T) {
	storetest.Run(t, open)
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, open)
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	if _, err := dynamostore.New(nil, "", nil); err == nil {
		t.Fatal("New accepted no client, no table and no logger")
	}
}

// TestErasureLeavesNoText reads the whole table after a deletion: no item
// of any kind may still hold the deleted text.
func TestErasureLeavesNoText(t *testing.T) {
	client := dynamolocaltest.Client(t)
	table := dynamolocaltest.NewTable(t, client, dynamostore.TableDefinition("chat"))
	s, err := dynamostore.New(client, table, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	raw := func() []string {
		t.Helper()
		var out []string
		in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
		for {
			page, err := client.Scan(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				out = append(out, itemText(it))
			}
			if len(page.LastEvaluatedKey) == 0 {
				return out
			}
			in.ExclusiveStartKey = page.LastEvaluatedKey
		}
	}
	storetest.ErasureLeavesNoText(t, s, raw)
}

// itemText renders an item with every value it holds, nested ones too.
func itemText(it map[string]types.AttributeValue) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(it)) {
		fmt.Fprintf(&b, "%s=%s ", name, valueText(it[name]))
	}
	return b.String()
}

func valueText(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return strconv.Quote(v.Value)
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberB:
		return strconv.Quote(string(v.Value))
	case *types.AttributeValueMemberBOOL:
		return strconv.FormatBool(v.Value)
	case *types.AttributeValueMemberNULL:
		return "null"
	case *types.AttributeValueMemberSS:
		return fmt.Sprintf("%q", v.Value)
	case *types.AttributeValueMemberNS:
		return fmt.Sprint(v.Value)
	case *types.AttributeValueMemberBS:
		var parts []string
		for _, b := range v.Value {
			parts = append(parts, strconv.Quote(string(b)))
		}
		return "<<" + strings.Join(parts, ",") + ">>"
	case *types.AttributeValueMemberL:
		var parts []string
		for _, e := range v.Value {
			parts = append(parts, valueText(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *types.AttributeValueMemberM:
		return "{" + itemText(v.Value) + "}"
	}
	return fmt.Sprintf("%#v", v)
}
