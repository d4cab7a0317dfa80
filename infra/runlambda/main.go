// Command runlambda runs the whole chat with every function as its real
// linux bootstrap under AWS's Lambda Runtime Interface Emulator, behind
// the API Gateway emulator, on DynamoDB Local (internal/lambdarie). Linux
// only, as root (each RIE gets its own mount namespace).
//
//	go run ./infra/runlambda        # http://localhost:3000
//	go run ./infra/runlambda -instances 4 -cpu-limit   # a simulated fleet
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/chatroom/chat/internal/lambdarie"
)

func main() {
	var cfg lambdarie.Config
	o := &cfg.Emulator
	port := flag.Int("port", envInt("PORT", 3000), "port to listen on (env PORT)")
	host := flag.String("host", "localhost", "interface to listen on")
	flag.StringVar(&o.DynamoDBEndpoint, "dynamodb-endpoint", os.Getenv("DYNAMODB_ENDPOINT"), "a running DynamoDB Local to use instead of starting one")
	flag.StringVar(&o.Table, "table", "chat", "DynamoDB table name")
	flag.BoolVar(&o.Verbose, "v", false, "log every event and answer, passwords, tokens, tickets and cookies redacted")
	flag.StringVar(&o.Root, "root", ".", "project directory holding template.yaml, Makefile, functions/ and web/")
	flag.StringVar(&cfg.RIE, "rie", "", "the aws-lambda-rie binary (default: built with go install into the user cache on first use)")
	flag.StringVar(&cfg.WorkDir, "work", "", "directory for the functions' bootstraps (default: a temporary one)")
	flag.IntVar(&cfg.Concurrency, "concurrency", 0, fmt.Sprintf("invocations each function's one instance serves at once (AWS_LAMBDA_MAX_CONCURRENCY; 0 means %d); with -instances or -cpu-limit each instance serves one", lambdarie.DefaultConcurrency))
	flag.IntVar(&cfg.Instances, "instances", 1, "instances of each function, each serving one invocation at a time when more than 1 (a simulated Lambda fleet)")
	flag.IntVar(&cfg.FanoutInstances, "fanout-instances", 0, fmt.Sprintf("with -instances or -cpu-limit, instances of the fan-out function, which only the other functions invoke (0 means %d, never fewer than -instances)", lambdarie.DefaultFanoutInstances))
	flag.BoolVar(&cfg.CPULimit, "cpu-limit", false, "hold each instance's function to its MemorySize's share of a core, as Lambda does (cgroup v1 cpu controller, root)")
	flag.Parse()
	o.Store = "dynamodb"
	o.Addr = fmt.Sprintf("%s:%d", *host, *port)
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	o.Logger, cfg.Logger = logger, logger

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := lambdarie.Start(ctx, cfg)
	if err != nil {
		logger.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "\n  Chat is running at http://localhost:%d, its functions under the Lambda RIE  (Ctrl-C to stop)\n\n", *port)
	code := 0
	wait := make(chan error, 1)
	go func() { wait <- s.Wait() }()
	select {
	case <-ctx.Done():
	case err := <-wait:
		logger.Error("stopped", "error", fmt.Sprint(err))
		code = 1
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(shutdown); err != nil {
		logger.Error("shutdown", "error", err.Error())
		code = 1
	}
	os.Exit(code)
}

func envInt(k string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(k), &n); err == nil {
		return n
	}
	return def
}
