package soak_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/emulator/emulatortest"
	"github.com/chatroom/chat/internal/soak"
	"github.com/chatroom/chat/internal/testkit"
)

// TestMain serves DynamoDB Local to the soak on that store.
func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// TestShortSoak is `make soak` in small: 60 connections across 6 rooms for
// ten seconds on each store, three instances of every function as Lambda
// scales out, with every check of the long run.
func TestShortSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a ten-second soak")
	}
	stores := []struct {
		name string
		opts func(t *testing.T) emulator.Options
	}{
		{"bbolt", func(t *testing.T) emulator.Options {
			return emulator.Options{Store: "bolt", DataDir: testkit.ScratchDir(t)}
		}},
		{"dynamodb", func(t *testing.T) emulator.Options {
			return emulator.Options{Store: "dynamodb", DynamoDBEndpoint: dynamolocaltest.Endpoint(t), Table: fmt.Sprintf("chat-soak-%d", time.Now().UnixNano())}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			o := st.opts(t)
			o.Instances = 3
			e := emulatortest.Start(t, o)
			rep, err := soak.Run(t.Context(), soak.Config{
				BaseURL: e.URL, Connections: 60, Rooms: 6, Duration: 10 * time.Second,
				// Busier than the long run's default, so that ten seconds
				// see every kind of action many times over, even where
				// DynamoDB Local under -race answers a send in seconds and
				// a connection acts only once or twice: at the default
				// odds such a run once saw no drop at all.
				ActionEvery: 2 * time.Second, DropChance: 0.12, LeaveChance: 0.15, Timeout: 20 * time.Second, Seed: 1,
				Store: e.Store, Gateway: e.Gateway,
			})
			if err != nil {
				t.Fatal(err)
			}
			var summary strings.Builder
			rep.WriteText(&summary)
			t.Log(summary.String())
			for _, ex := range rep.Examples {
				t.Log(ex)
			}
			if rep.Failed() {
				t.Errorf("the soak failed: %s", strings.Join(rep.Failures, "; "))
			}
			if rep.Joins == 0 || rep.Leaves == 0 || rep.Reconnects == 0 || rep.Deliveries == 0 {
				t.Errorf("the soak did not do everything it should: %d joins, %d leaves, %d reconnects, %d deliveries",
					rep.Joins, rep.Leaves, rep.Reconnects, rep.Deliveries)
			}
		})
	}
}
