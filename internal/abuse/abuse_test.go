package abuse_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/abuse"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// TestEveryAttackFails runs a short version of every probe against the
// whole chat, on each store, and wants the server to hold each time.
func TestEveryAttackFails(t *testing.T) {
	for _, store := range []string{"bolt", "dynamodb"} {
		t.Run(store, func(t *testing.T) {
			o := emulator.Options{Store: store}
			if store == "dynamodb" {
				o.DynamoDBEndpoint, o.Table = dynamolocaltest.Endpoint(t), fmt.Sprintf("chat-%d", time.Now().UnixNano())
			}
			e := emulatortest.Start(t, o)
			cfg := abuse.Config{BaseURL: e.URL, Prefix: "t", RaceRounds: 5, RaceHandshakes: 8, FloodFor: 2 * time.Second,
				TypingFrames: 200, Guesses: 40, SpamRooms: 40, Sockets: 30}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			results, err := abuse.Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 8 {
				t.Fatalf("%d results, want one per probe (8)", len(results))
			}
			for _, r := range results {
				t.Logf("%s: %s -> %s", r.Probe, r.Tried, r.Got)
				if !r.Held {
					t.Errorf("%s: the server let it through: %s", r.Probe, r.Got)
				}
			}
		})
	}
}
