// Command costmodel measures what a chat message costs on AWS: the
// DynamoDB requests and capacity and the pushes per message, by room size,
// and the cost per million messages against API Gateway's floor. It runs
// the chat in-process on DynamoDB Local (started here unless
// -dynamodb-endpoint names one). `make cost` runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/chatroom/chat/internal/costmodel"
	"github.com/chatroom/chat/internal/dynamolocal"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "costmodel:", err)
		os.Exit(1)
	}
}

func run() error {
	sizes := flag.String("sizes", "10,100,500,1000", "room sizes, comma-separated")
	messages := flag.Int("messages", 50, "messages per room")
	senders := flag.Int("senders", 3, "connections that send, in turn")
	textBytes := flag.Int("text", 100, "bytes of text per message")
	asJSON := flag.Bool("json", false, "print JSON instead of a table")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long")
	endpoint := flag.String("dynamodb-endpoint", "", "a running DynamoDB Local (default: start one)")
	root := flag.String("root", ".", "the project directory (template.yaml)")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	progress := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var roomSizes []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-sizes: %w", err)
		}
		roomSizes = append(roomSizes, n)
	}
	if *endpoint == "" {
		dir, err := dynamolocal.Fetch(ctx, logger)
		if err != nil {
			return err
		}
		srv, err := dynamolocal.Start(ctx, dir, logger)
		if err != nil {
			return err
		}
		defer func() {
			if err := srv.Stop(); err != nil {
				logger.Warn("stopping DynamoDB Local", "error", err.Error())
			}
		}()
		*endpoint = srv.Endpoint
	}
	began := time.Now()
	results, err := costmodel.Run(ctx, costmodel.Config{
		Root: *root, DynamoDBEndpoint: *endpoint, Table: fmt.Sprintf("costmodel-%d", time.Now().UnixNano()),
		Sizes: roomSizes, Messages: *messages, Senders: *senders, TextBytes: *textBytes, RecheckFirst: len(roomSizes) > 1,
		Logger: logger,
		Progress: func(r costmodel.Result) {
			progress.Info("room measured", "size", r.RoomSize, "beside", r.OtherConnections, "requests", r.StoreRequests,
				"rcu", r.ReadCapacityUnits, "wcu", r.WriteCapacityUnits, "posts", r.Posts,
				"usd_per_million", fmt.Sprintf("%.2f", r.Cost.Total), "floor", fmt.Sprintf("%.2f", r.Cost.Floor),
				"elapsed", time.Since(began).Round(time.Second))
		},
	})
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("not done within -timeout %v: %w", *timeout, err)
	}
	if len(results) > 0 {
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(results); jerr != nil {
				return errors.Join(err, jerr)
			}
		} else if terr := costmodel.WriteTable(os.Stdout, results); terr != nil {
			return errors.Join(err, terr)
		}
	}
	return err
}
