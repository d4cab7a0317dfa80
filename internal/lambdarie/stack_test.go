package lambdarie_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/lambdarie"
	"github.com/chatroom/chat/internal/smoke"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// TestChatUnderRIE runs the smoke check's chat (two people sign up, make a
// room, join, chat, read the history, clean up) through the whole stack of
// `make run-lambda`: the emulator invoking every function's real bootstrap
// under AWS's Runtime Interface Emulator, on DynamoDB Local.
func TestChatUnderRIE(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short: builds every function and runs it under the RIE")
	}
	if err := lambdarie.Supported(); err != nil {
		t.Skipf("skipping: cannot run functions under the RIE on this machine: %v", err)
	}
	endpoint := dynamolocaltest.Endpoint(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	rie := installRIE(ctx, t)

	logger := slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	s, err := lambdarie.Start(ctx, lambdarie.Config{
		Emulator: emulator.Options{
			Addr: "127.0.0.1:0", Root: "../..", Store: "dynamodb", DynamoDBEndpoint: endpoint,
			Table:  fmt.Sprintf("rie-%d", time.Now().UnixNano()),
			Logger: slog.New(slog.DiscardHandler),
		},
		RIE:     rie,
		WorkDir: t.TempDir(),
		Logger:  logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %v", time.Since(start).Round(100*time.Millisecond))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(stopCtx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})

	rep := smoke.Run(ctx, smoke.Config{URL: s.Emulator.URL, Prefix: "rie" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)})
	for _, st := range rep.Steps {
		t.Logf("%-48s %v %v", st.Name, st.Took.Round(time.Millisecond), st.Err)
	}
	if rep.Err() != nil {
		t.Fatalf("%s\n%s", rep.Line(), s.Output())
	}
}

// installRIE builds the RIE once into the user cache. Without the module
// proxy it cannot be had: the test is then skipped, unless CI is set.
func installRIE(ctx context.Context, t *testing.T) string {
	t.Helper()
	rie, err := lambdarie.InstallRIE(ctx, "go", nil)
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("the Lambda Runtime Interface Emulator is not available (CI is set, so this fails instead of skipping): %v", err)
		}
		t.Skipf("skipping: the Lambda Runtime Interface Emulator is not available: %v\n"+
			"It is built with go install from the Go module proxy on first use; or set %s to a directory holding aws-lambda-rie.",
			err, lambdarie.RIEDirEnv)
	}
	return rie
}
