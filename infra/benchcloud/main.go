// Command benchcloud runs the simulated cloud (internal/cloudsim) and
// prints, per room size, a message's latency to its last socket, what was
// lost, and what a message costs:
//
//	go run ./infra/benchcloud                       # rooms of 100, 1,000 and 10,000
//	go run ./infra/benchcloud -sizes 100 -messages 10
//
// It needs Linux, root (each function instance gets a mount namespace and
// a cgroup of its own), Java 17 for DynamoDB Local, and the Go module proxy
// for AWS's Lambda Runtime Interface Emulator.
//
// The rooms' client sockets run in a second benchcloud, started by the
// first with -client-process, so that neither process holds both ends of
// 10,000 sockets; -in-process keeps them in one.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/chatroom/chat/internal/cloudsim"
)

func main() {
	c := cloudsim.Defaults()
	sizes := flag.String("sizes", "100,1000,10000", "room sizes in connections, comma-separated")
	flag.IntVar(&c.Messages, "messages", c.Messages, "messages sent into each room")
	flag.IntVar(&c.Senders, "senders", c.Senders, "members taking turns to send")
	flag.DurationVar(&c.Interval, "interval", c.Interval, "least time between two sends (big rooms space them further)")
	flag.BoolVar(&c.OneAtATime, "one-at-a-time", false, "send each message only once the one before reached every socket")
	flag.IntVar(&c.Instances, "instances", c.Instances, "instances of each function")
	flag.DurationVar(&c.PostLatency, "post-latency", c.PostLatency, "the management API's latency per post")
	flag.DurationVar(&c.PostJitter, "post-jitter", c.PostJitter, "and up to this much more")
	flag.Float64Var(&c.PostRate, "post-rate", c.PostRate, "the account's management API rate, posts a second")
	flag.IntVar(&c.PostBurst, "post-burst", c.PostBurst, "its burst")
	flag.DurationVar(&c.Drain, "drain", c.Drain, "how long to wait for a message's last deliveries")
	asJSON := flag.Bool("json", false, "print JSON instead of a table")
	root := flag.String("root", ".", "project directory")
	verbose := flag.Bool("v", false, "log the stack's own lines")
	inProcess := flag.Bool("in-process", false, "keep the client sockets in this process (two descriptors a socket)")
	clientProcess := flag.Bool("client-process", false, "be the client sockets' process of another benchcloud, over stdin and stdout (it starts this itself)")
	flag.Parse()
	if *clientProcess {
		serveClients()
		return
	}
	c.Root = *root
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	c.Progress = os.Stderr
	c.Sizes = nil
	for f := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			fmt.Fprintf(os.Stderr, "benchcloud: -sizes: %q is not a room size of 2 or more\n", f)
			os.Exit(2)
		}
		c.Sizes = append(c.Sizes, n)
	}
	biggest := 0
	for _, n := range c.Sizes {
		biggest = max(biggest, n)
	}
	// A descriptor a socket's server end, another for its client end
	// unless a child process holds those, and room for the rest of the
	// stack: RIE instances' and DynamoDB Local's connections, pipes.
	perSocket := 1
	if *inProcess {
		perSocket = 2
	} else {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchcloud: finding this program to start its client process:", err)
			os.Exit(1)
		}
		c.ClientCommand = []string{exe, "-client-process"}
	}
	if err := raiseOpenFiles(uint64(perSocket*biggest + 4096)); err != nil {
		fmt.Fprintln(os.Stderr, "benchcloud:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := cloudsim.Run(ctx, c)
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(results)
	} else {
		cloudsim.WriteTable(os.Stdout, results)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcloud:", err)
		os.Exit(1)
	}
	for _, r := range results {
		if !r.OK() {
			os.Exit(1)
		}
	}
}

// serveClients is the -client-process mode: the parent benchcloud's
// client sockets, until it closes stdin or dies. It raises its own
// open-file limit as sockets are asked for.
func serveClients() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// A ^C at the terminal reaches this process too (one process
	// group); it ends when the parent closes stdin, having closed its
	// sockets, so it leaves the interrupt to the parent.
	signal.Ignore(os.Interrupt)
	err := cloudsim.ServeClients(context.Background(), os.Stdin, os.Stdout, cloudsim.ClientOptions{OpenFiles: raiseOpenFiles, Logger: logger})
	if err != nil {
		logger.Error("client process", "error", err.Error())
		os.Exit(1)
	}
}
