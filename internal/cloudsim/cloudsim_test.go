package cloudsim_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/cloudsim"
	"github.com/chatroom/chat/internal/cpushare"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/lambdarie"
	"github.com/chatroom/chat/internal/lambdarie/lambdarietest"
)

// clientProcessArg makes the test binary the client process of the
// simulation under test, as -client-process makes infra/benchcloud.
const clientProcessArg = "-cloudsim.client-process"

func TestMain(m *testing.M) {
	if slices.Contains(os.Args[1:], clientProcessArg) {
		if err := cloudsim.ServeClients(context.Background(), os.Stdin, os.Stdout, cloudsim.ClientOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(dynamolocaltest.Main(m))
}

// TestShortSimulation is `make bench-cloud` in small: a room of 30
// sockets (ten members with three each), three instances of every
// function each held to its memory's share of a core, 20 ms a post, the
// senders taking turns every 20 ms, faster than a message is pushed, so
// deliveries by different instances overlap. Every message must reach
// every socket once and in order, and
// the figures must be those of this room: a post per socket, store
// capacity and Lambda time spent. The figures themselves are the
// benchmark's to report, not this test's to judge.
func TestShortSimulation(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short: builds every function and runs three instances of each")
	}
	if err := lambdarie.Supported(); err != nil {
		t.Skipf("skipping: cannot run functions under the RIE on this machine: %v", err)
	}
	if err := cpushare.Available(cpushare.Root); err != nil {
		t.Skipf("skipping: cannot hold instances to a share of a core: %v", err)
	}
	endpoint := dynamolocaltest.Endpoint(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	rie := lambdarietest.RIE(ctx, t)
	c := cloudsim.Defaults()
	c.Root = "../.."
	c.Sizes, c.Messages, c.SocketsPerMember = []int{30}, 10, 3
	// Sends closer than a delivery takes, from three members: consecutive
	// messages are pushed by different instances at the same time, and
	// the delivery marks must keep them in order at every socket.
	c.DynamoDBEndpoint, c.Table = endpoint, fmt.Sprintf("sim-%d", time.Now().UnixNano())
	c.RIE, c.WorkDir = rie, t.TempDir()
	c.Drain = time.Minute
	c.Interval = 20 * time.Millisecond
	// The sockets in a child process, as the benchmark keeps them (the
	// in-process clients have TestClients).
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c.ClientCommand = []string{exe, clientProcessArg}
	c.Logger = slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c.Progress = t.Output()
	results, err := cloudsim.Run(ctx, c)
	var table strings.Builder
	cloudsim.WriteTable(&table, results)
	t.Logf("\n%s", table.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 {
		t.Fatalf("%d results, want 1", len(results))
	}
	r := results[0]
	if !r.OK() {
		t.Errorf("lost %d, repeated %d, out of order %d, problems %v", r.Lost, r.Duplicated, r.Reordered, r.Problems)
	}
	if r.Members != 10 || r.Connections != 30 {
		t.Errorf("a room of %d connections and %d members, want 30 and 10", r.Connections, r.Members)
	}
	// Each message is posted to each socket; a room list line may go to
	// none here, since every socket of every member is in the room.
	if r.Posts < 30 || r.Posts > 31 {
		t.Errorf("%.1f posts a message, want 30", r.Posts)
	}
	if r.Invocations < 1 || r.GBSeconds <= 0 {
		t.Errorf("%.1f invocations and %.5f GB-s a message, want send_message's at least", r.Invocations, r.GBSeconds)
	}
	if r.RCU <= 0 || r.WCU <= 0 {
		t.Errorf("%.1f RCU and %.1f WCU a message: the meters were not read", r.RCU, r.WCU)
	}
	if r.P99 <= 0 || r.P50 > r.P99 {
		t.Errorf("p50 %v, p99 %v", r.P50, r.P99)
	}
	if r.Cost < r.Floor {
		t.Errorf("$%.2f per million, below the floor of $%.2f", r.Cost, r.Floor)
	}
}
