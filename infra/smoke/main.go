// Command smoke checks a running chat end to end (internal/smoke) and
// says pass or fail in one line; it exits non-zero on a failure.
//
//	make smoke URL=https://d111111abcdef8.cloudfront.net   # after a deploy
//	make smoke                                               # against make run
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/chatroom/chat/internal/smoke"
)

func main() {
	url := flag.String("url", "http://localhost:3000", "the web client's address (its config.json names the APIs)")
	verbose := flag.Bool("v", false, "print every step")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// Usernames of the run's own: 3 to 32 of [a-z0-9_].
	prefix := "smoke" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
	rep := smoke.Run(ctx, smoke.Config{URL: *url, Prefix: prefix})
	if *verbose {
		for _, s := range rep.Steps {
			status := "ok"
			if s.Err != nil {
				status = "FAILED: " + s.Err.Error()
			}
			fmt.Printf("  %-48s %8s  %s\n", s.Name, s.Took.Round(time.Millisecond), status)
		}
	}
	fmt.Println(rep.Line())
	if rep.Err() != nil {
		os.Exit(1)
	}
}
