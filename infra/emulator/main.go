// Command emulator runs the whole chat locally: the API Gateway stand-in
// driven by template.yaml, the functions' handlers, and the store.
//
//	go run ./infra/emulator                      # http://localhost:3000, bbolt under .data/
//	go run ./infra/emulator -store dynamodb      # starts DynamoDB Local (Java 17)
//	go run ./infra/emulator -lambda-endpoint http://127.0.0.1:3001   # behind `sam local start-lambda`
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/wsapi"
)

func main() {
	var o emulator.Options
	port := flag.Int("port", envInt("PORT", 3000), "port to listen on (env PORT)")
	host := flag.String("host", "localhost", "interface to listen on")
	flag.StringVar(&o.DataDir, "data", envOr("DATA_DIR", ".data"), "directory of the embedded store (env DATA_DIR)")
	flag.StringVar(&o.Store, "store", envOr("STORE", "bolt"), "bolt or dynamodb (env STORE)")
	flag.StringVar(&o.DynamoDBEndpoint, "dynamodb-endpoint", os.Getenv("DYNAMODB_ENDPOINT"), "a running DynamoDB Local to use instead of starting one")
	flag.StringVar(&o.Table, "table", "chat", "DynamoDB table name")
	flag.StringVar(&o.LambdaEndpoint, "lambda-endpoint", "", "invoke the functions through the Lambda API there (sam local start-lambda) instead of in-process")
	flag.StringVar(&o.SAMEnvFile, "sam-env-vars", "", "write the --env-vars file for sam local start-lambda here (needs -store dynamodb)")
	flag.IntVar(&o.ShardSize, "shard-size", 0, "push rooms of more connections than this in shards, each by an in-process invocation of the fan-out function (0: no shards)")
	flag.IntVar(&o.Instances, "instances", 1, "run each function as this many instances in process, sharing only the store and the management API, as Lambda scales out")
	flag.BoolVar(&o.DirectPush, "direct-push", false, "write frames straight to sockets instead of through the management API")
	sendLimit := flag.Int("send-limit", wsapi.SendRate, "messages a second each connection may send (bursts of twice that); 0 turns the limit off for load tests")
	flag.Float64Var(&o.ManagementRate, "management-rate", 0, "throttle the management API to this many calls a second across the account, as API Gateway does (try 10000, its account-level throttle); 0 does not throttle")
	flag.IntVar(&o.ManagementBurst, "management-burst", 0, "the throttle's burst (default: one second's worth; API Gateway's account-level one: 5000)")
	flag.DurationVar(&o.ManagementLatency, "management-latency", 0, "hold each management API call this long, as the round trip to API Gateway does in the cloud (try 20ms)")
	flag.DurationVar(&o.ManagementJitter, "management-jitter", 0, "and up to this much more, at random")
	flag.BoolVar(&o.Verbose, "v", false, "log every event and answer, passwords, tokens, tickets and cookies redacted")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060")
	root := flag.String("root", ".", "project directory holding template.yaml, Makefile and web/")
	flag.Parse()
	tuneGC()
	o.Root = *root
	o.SendLimit = *sendLimit
	if *sendLimit <= 0 {
		o.SendLimit = -1
	}
	o.Addr = fmt.Sprintf("%s:%d", *host, *port)
	o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))

	if *pprofAddr != "" {
		go func() {
			// The default mux holds only pprof's handlers here.
			err := http.ListenAndServe(*pprofAddr, nil)
			o.Logger.Error("pprof server stopped", "error", err.Error())
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, err := emulator.Start(ctx, o)
	if err != nil {
		o.Logger.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "\n  Chat is running at http://localhost:%d  (Ctrl-C to stop)\n\n", *port)
	select {
	case <-ctx.Done():
	case err := <-wait(e):
		if err != nil {
			o.Logger.Error("server stopped", "error", err.Error())
			os.Exit(1)
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Shutdown(shutdown); err != nil {
		o.Logger.Error("shutdown", "error", err.Error())
		os.Exit(1)
	}
}

func wait(e *emulator.Emulator) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- e.Wait() }()
	return ch
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(k), &n); err == nil {
		return n
	}
	return def
}

// tuneGC trades memory for CPU within a bound, unless GOGC or GOMEMLIMIT
// say otherwise: a fan-out allocates heavily (the SDK builds each post's
// middleware anew), and with the default GOGC of 100 a fifth of the
// emulator's CPU under load went to the collector. At 400 it collects a
// quarter as often; the soft limit of 100 MiB makes it collect sooner
// whenever that would take the heap past it, which keeps the process
// under 150 MB in the pinned load runs (docs/performance.md).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(100 << 20)
	}
}
