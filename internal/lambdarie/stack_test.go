package lambdarie_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/chatroom/chat/internal/cpushare"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/fanout"
	"github.com/chatroom/chat/internal/lambdarie"
	"github.com/chatroom/chat/internal/lambdarie/lambdarietest"
	"github.com/chatroom/chat/internal/smoke"
	"github.com/chatroom/chat/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// TestChatUnderRIE runs the smoke check's chat (two people sign up, make a
// room, join, chat, read the history, clean up) through the whole stack of
// `make run-lambda`: the emulator invoking every function's real bootstrap
// under AWS's Runtime Interface Emulator, on DynamoDB Local.
func TestChatUnderRIE(t *testing.T) {
	s, ctx := startStack(t, lambdarie.Config{})
	runSmoke(ctx, t, s)
	deliverShard(ctx, t, s)

	// An RIE that ends on its own is replaced, as Lambda replaces an
	// execution environment, and the chat goes on.
	if err := s.KillRIE("AuthFunction"); err != nil {
		t.Fatal(err)
	}
	waitReplaced(t, s, 1)
	runSmoke(ctx, t, s)
}

// waitReplaced waits until s has replaced n RIEs.
func waitReplaced(t *testing.T, s *lambdarie.Stack, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.Replaced() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d RIEs replaced, want %d; the functions' output:\n%s", s.Replaced(), n, s.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliverShard hands the fan-out function a shard as the functions that
// push do, through the router's Lambda Invoke API asynchronously, and
// waits for the shard's mark: the function ran under the RIE, pushed to
// a connection that is gone, and marked its slots delivered.
func deliverShard(ctx context.Context, t *testing.T, s *lambdarie.Stack) {
	t.Helper()
	shard := fanout.Shard{RoomID: fmt.Sprintf("rie-shard-%d", time.Now().UnixNano()), First: 1, Last: 1, From: 0, To: store.DeliverySlots,
		Frame: json.RawMessage(`{"type":"receive_message","seq":1}`), Connections: []string{"L0SQgoneShard="}, Quiet: true}
	payload, err := json.Marshal(shard)
	if err != nil {
		t.Fatal(err)
	}
	client := awslambda.New(awslambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.LambdaURL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	out, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("FanoutFunction"), InvocationType: types.InvocationTypeEvent, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != http.StatusAccepted {
		t.Fatalf("an asynchronous invocation of FanoutFunction was answered %d, want 202", out.StatusCode)
	}
	// The mark is written before the invocation ends, and the router
	// counts an invocation once answered: wait for both.
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := s.Emulator.Store.Delivered(ctx, shard.RoomID, true)
		n := s.Invocations()["FanoutFunction"].Count
		if err == nil && d.UpTo(shard.Slots()) == shard.Last && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shard was not marked delivered (%+v, %v) and answered (%d invocations, want 1); the functions' output:\n%s", d, err, n, s.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChatOnFleet runs the same chat on a simulated fleet: two instances
// of each function, each serving one invocation at a time with its
// function held to its MemorySize's share of a core. Every function
// process is in its instance's cgroup, not its RIE, and the invocations
// are billed.
func TestChatOnFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short: builds every function and runs two instances of each under the RIE")
	}
	if err := cpushare.Available(cpushare.Root); err != nil {
		t.Skipf("skipping: %v (the CPU limit needs root and cgroup v1's cpu controller)", err)
	}
	cfg := lambdarie.Config{Instances: 2, CPULimit: true, WorkDir: t.TempDir()}
	s, ctx := startStack(t, cfg)
	groups := s.CPUGroups()
	if len(groups) == 0 {
		t.Fatal("no cgroups with CPULimit")
	}
	bootstrap := map[string]os.FileInfo{}
	for fn := range groups {
		st, err := os.Stat(filepath.Join(cfg.WorkDir, fn, "bootstrap"))
		if err != nil {
			t.Fatal(err)
		}
		bootstrap[fn] = st
	}
	runSmoke(ctx, t, s)
	deliverShard(ctx, t, s)

	stats := s.Invocations()
	for fn, gs := range groups {
		// The fan-out function, which only the other functions invoke,
		// scales out further, as Lambda scales asynchronous invocations.
		want := 2
		if fn == "FanoutFunction" {
			want = lambdarie.DefaultFanoutInstances
		}
		if len(gs) != want {
			t.Errorf("%s: %d cgroups, want one per instance (%d)", fn, len(gs), want)
		}
		st := stats[fn]
		t.Logf("%-28s %3d invocations %8v (max %v) %.4f GB-s", fn, st.Count, st.Duration.Round(time.Millisecond), st.Max.Round(time.Millisecond), st.GBSeconds())
		if st.MemoryMB != 256 {
			t.Errorf("%s: MemoryMB %d, want the template's 256", fn, st.MemoryMB)
		}
		if st.Count > 0 && st.GBSeconds() <= 0 {
			t.Errorf("%s: %d invocations billed %v GB-s", fn, st.Count, st.GBSeconds())
		}
		// An instance's function starts with its first invocation, so
		// only a function that was invoked has one; its processes must
		// all be the function's bootstrap, none its RIE.
		procs := 0
		for i, g := range gs {
			if g.Share() != cpushare.ForMemory(256) {
				t.Errorf("%s instance %d: share %v of a core, want %v for 256 MB", fn, i+1, g.Share(), cpushare.ForMemory(256))
			}
			pids, err := g.Procs()
			if err != nil {
				t.Fatal(err)
			}
			for _, pid := range pids {
				exe, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
				if err == nil && !os.SameFile(exe, bootstrap[fn]) {
					t.Errorf("%s instance %d: process %d in its cgroup is not the function's bootstrap", fn, i+1, pid)
				}
			}
			procs += len(pids)
		}
		if st.Count > 0 && procs == 0 {
			t.Errorf("%s was invoked %d times but none of its instances' cgroups holds a process", fn, st.Count)
		}
	}
	for _, fn := range []string{"AuthFunction", "SendMessageFunction", "FanoutFunction"} {
		if stats[fn].GBSeconds() <= 0 {
			t.Errorf("%s: no GB-seconds billed (%+v), though the chat invoked it", fn, stats[fn])
		}
	}

	s.ResetInvocations()
	for fn, st := range s.Invocations() {
		if st.Count != 0 || st.Duration != 0 {
			t.Errorf("%s after ResetInvocations: %+v", fn, st)
		}
	}
}

// startStack starts the stack of `make run-lambda` with cfg on DynamoDB
// Local, and stops it when the test ends.
func startStack(t *testing.T, cfg lambdarie.Config) (*lambdarie.Stack, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping in -short: builds every function and runs it under the RIE")
	}
	if err := lambdarie.Supported(); err != nil {
		t.Skipf("skipping: cannot run functions under the RIE on this machine: %v", err)
	}
	endpoint := dynamolocaltest.Endpoint(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	cfg.RIE = lambdarietest.RIE(ctx, t)
	cfg.Emulator = emulator.Options{
		Addr: "127.0.0.1:0", Root: "../..", Store: "dynamodb", DynamoDBEndpoint: endpoint,
		Table:  fmt.Sprintf("rie-%d", time.Now().UnixNano()),
		Logger: slog.New(slog.DiscardHandler),
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Now()
	s, err := lambdarie.Start(ctx, cfg)
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
	return s, ctx
}

// runSmoke runs the smoke check's chat against s and fails the test with
// the functions' output if any step fails.
func runSmoke(ctx context.Context, t *testing.T, s *lambdarie.Stack) {
	t.Helper()
	start := time.Now()
	rep := smoke.Run(ctx, smoke.Config{URL: s.Emulator.URL, Prefix: "rie" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)})
	for _, st := range rep.Steps {
		t.Logf("%-48s %v %v", st.Name, st.Took.Round(time.Millisecond), st.Err)
	}
	t.Logf("the chat took %v", time.Since(start).Round(100*time.Millisecond))
	if rep.Err() != nil {
		t.Fatalf("%s\n%s", rep.Line(), s.Output())
	}
}
