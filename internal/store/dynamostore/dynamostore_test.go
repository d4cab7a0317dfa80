package dynamostore_test

import (
	"log/slog"
	"os"
	"testing"

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
