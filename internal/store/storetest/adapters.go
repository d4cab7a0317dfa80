package storetest

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/boltstore"
	"github.com/chatroom/chat/internal/store/dynamostore"
	"github.com/chatroom/chat/internal/testkit"
)

// Adapter opens a fresh, empty store of one kind for a test.
type Adapter struct {
	Name string
	Open Opener
}

// Adapters are both stores, for the tests above the store that must hold
// on each: bbolt in a fresh directory (on tmpfs where there is one: those
// tests are about behaviour, not disks, and fsync there costs nothing) and
// a fresh table on DynamoDB Local. A test binary that uses them routes its
// TestMain through dynamolocaltest.Main.
func Adapters() []Adapter {
	return []Adapter{{"bbolt", openBolt}, {"dynamodb", openDynamoDB}}
}

func openBolt(t testing.TB) store.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(testkit.ScratchDir(t), boltstore.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openDynamoDB(t testing.TB) store.Store {
	t.Helper()
	client := dynamolocaltest.Client(t)
	table := dynamolocaltest.NewTable(t, client, dynamostore.TableDefinition("chat"))
	s, err := dynamostore.New(client, table, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
