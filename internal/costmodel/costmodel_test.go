package costmodel_test

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/costmodel"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// TestRoomOfTen runs the measurement on the smallest room, and again
// beside it, and checks the figures that follow from the design: every
// message is pushed once to each connection, one transaction stores it,
// nothing scans, and a room's cost does not move with connections in
// another room.
func TestRoomOfTen(t *testing.T) {
	results, err := costmodel.Run(t.Context(), costmodel.Config{
		Root: "../..", DynamoDBEndpoint: dynamolocaltest.Endpoint(t), Table: fmt.Sprintf("costmodel-%d", time.Now().UnixNano()),
		Sizes: []int{10}, Messages: 4, Senders: 3, TextBytes: 100, RecheckFirst: true,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("got %d results, want the room of 10 and its recheck", len(results))
	}
	for _, r := range results {
		t.Logf("room of %d beside %d: %.1f requests, %.1f RCU, %.1f WCU, %.1f posts, $%.2f per million (floor $%.2f)",
			r.RoomSize, r.OtherConnections, r.StoreRequests, r.ReadCapacityUnits, r.WriteCapacityUnits, r.Posts, r.Cost.Total, r.Cost.Floor)
		if r.Posts != 10 || r.MessageUnits != 10 {
			t.Errorf("%.1f posts, %.1f message units per message, want 10 of each", r.Posts, r.MessageUnits)
		}
		if r.Scans != 0 {
			t.Errorf("%.1f scans per message", r.Scans)
		}
		if r.StoreRequests == 0 || r.WriteCapacityUnits == 0 || r.ReadCapacityUnits == 0 {
			t.Errorf("nothing counted: %+v", r)
		}
		var transactions float64
		for _, op := range r.Operations {
			if op.Operation == "DynamoDB.TransactWriteItems" {
				transactions = op.Calls
			}
		}
		if transactions != 1 {
			t.Errorf("%.1f TransactWriteItems per message, want 1", transactions)
		}
		if r.Cost.Floor != 11 || r.Cost.Total <= r.Cost.Floor || r.Cost.Ratio <= 1 {
			t.Errorf("cost %+v: the floor of a room of 10 is $11 a million and nothing is below it", r.Cost)
		}
	}
	first, again := results[0], results[1]
	if again.OtherConnections != 10 {
		t.Errorf("recheck beside %d connections, want 10", again.OtherConnections)
	}
	if again.StoreRequests != first.StoreRequests || again.ReadCapacityUnits != first.ReadCapacityUnits || again.WriteCapacityUnits != first.WriteCapacityUnits {
		t.Errorf("store cost moved with connections elsewhere: %+v, then %+v", first, again)
	}
}

func TestConfigValidate(t *testing.T) {
	err := costmodel.Config{Sizes: []int{0, 1001}}.Validate()
	if err == nil {
		t.Fatal("an empty config passed")
	}
	for _, want := range []string{"endpoint", "table", "room size 0", "room size 1001", "messages", "senders", "text", "logger"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestSendMessageMemoryMB(t *testing.T) {
	mb, err := costmodel.SendMessageMemoryMB("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if mb < 128 || mb > 10240 {
		t.Errorf("MemorySize %d MB is outside what Lambda allows", mb)
	}
}
