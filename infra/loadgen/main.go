// Command loadgen loads a running chat through its wire contract and
// reports deliveries a second, send-to-receive latency and any lost,
// repeated or reordered delivery, per room size.
//
//	go run ./infra/loadgen -url http://localhost:3000 -sizes 10,100
//
// `make bench-load` starts the emulator pinned to one core and runs this on
// the other.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chatroom/chat/internal/loadgen"
)

func main() {
	var c loadgen.Config
	sizes := flag.String("sizes", "10,100,500,1000", "room sizes (connections per room), comma-separated")
	flag.StringVar(&c.BaseURL, "url", "http://localhost:3000", "the chat's base URL")
	flag.IntVar(&c.Senders, "senders", 10, "connections that send")
	flag.IntVar(&c.InFlight, "in-flight", 16, "unanswered messages each sender keeps")
	flag.IntVar(&c.MessageBytes, "message-bytes", 100, "message text size")
	flag.IntVar(&c.Rate, "rate", 1000, "fixed phase: offered deliveries a second (0 skips it)")
	flag.DurationVar(&c.RateDuration, "rate-duration", 5*time.Second, "fixed phase length")
	flag.DurationVar(&c.FlatDuration, "flat-duration", 5*time.Second, "flat-out phase length (0 skips it)")
	flag.IntVar(&c.MaxMessages, "max-messages", 200000, "messages per phase at most")
	flag.IntVar(&c.UsersPerRoom, "users", 20, "accounts sharing each room's connections")
	flag.StringVar(&c.Password, "password", "load-generator-password", "password of the accounts it signs up")
	flag.DurationVar(&c.Drain, "drain", 2*time.Minute, "how long to wait for the last answers and deliveries of a phase (a flat-out phase in a room of 1000 queues minutes of work on a slow store)")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "loadgen: bad room size %q\n", s)
			os.Exit(2)
		}
		c.RoomSizes = append(c.RoomSizes, n)
	}
	c.RunID = strconv.FormatInt(time.Now().Unix()%1_000_000, 36)
	c.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := loadgen.Run(ctx, c)
	loadgen.WriteTable(os.Stdout, results)
	if *jsonOut != "" {
		raw, _ := json.MarshalIndent(results, "", "  ")
		if werr := os.WriteFile(*jsonOut, append(raw, '\n'), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", werr)
			os.Exit(1)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	for _, r := range results {
		if !r.OK() {
			fmt.Fprintf(os.Stderr, "loadgen: room of %d, %s phase broke a promise: %v\n", r.RoomSize, r.Phase, r.Problems)
			os.Exit(1)
		}
	}
}
