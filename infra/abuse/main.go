// Command abuse tries what a hostile user would against a running chat
// (internal/abuse) and prints what the server let through. It exits
// non-zero when the server did not hold to the contract.
//
//	make run &                                 # the chat on :3000
//	go run ./infra/abuse -url http://127.0.0.1:3000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/chatroom/chat/internal/abuse"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:3000", "the chat to probe; use a loopback address so the address-based probes can run")
	asJSON := flag.Bool("json", false, "print the results as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Usernames of their own for each run: 3 to 32 of [a-z0-9_].
	prefix := "ab" + strconv.FormatInt(time.Now().Unix()%1_000_000, 36) + "_"
	results, err := abuse.Run(ctx, abuse.Default(*url, prefix))
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(results)
	} else {
		for _, r := range results {
			verdict := "held"
			switch {
			case r.Skipped != "":
				verdict = "skipped: " + r.Skipped
			case !r.Held:
				verdict = "LET THROUGH"
			}
			fmt.Printf("%-20s %s\n%-20s -> %s [%s]\n", r.Probe, r.Tried, "", r.Got, verdict)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, r := range results {
		if !r.Held {
			os.Exit(1)
		}
	}
}
