// Command soak holds many connections on the chat for a while, with joins,
// leaves, reconnects and sends, then checks every room's stream against
// what the clients saw (internal/soak). It exits non-zero when a check
// fails.
//
//	go run ./infra/soak                                 # 500 connections, 20 rooms, 2 minutes, in-process chat on bbolt
//	go run ./infra/soak -duration 10m -store dynamodb   # against DynamoDB Local (Java 17)
//	go run ./infra/soak -url http://localhost:3000      # a chat already running (no store check)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/soak"
)

func main() {
	var cfg soak.Config
	flag.DurationVar(&cfg.Duration, "duration", soak.DefaultDuration, "how long the traffic runs")
	flag.IntVar(&cfg.Connections, "connections", soak.DefaultConnections, "connections held")
	flag.IntVar(&cfg.Rooms, "rooms", soak.DefaultRooms, "rooms")
	flag.DurationVar(&cfg.ActionEvery, "every", soak.DefaultActionEvery, "each connection's mean pause between actions")
	flag.Float64Var(&cfg.DropChance, "drop", soak.DefaultDropChance, "odds that an action drops the socket and reconnects")
	flag.Float64Var(&cfg.LeaveChance, "leave", soak.DefaultLeaveChance, "odds that an action leaves a room and joins it again")
	flag.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()), "seed of the run's choices")
	storeName := flag.String("store", "bolt", "store of the in-process chat: bolt or dynamodb (DynamoDB Local, started here)")
	url := flag.String("url", "", "soak a chat already running there instead of starting one (e.g. http://localhost:3000)")
	root := flag.String("root", ".", "project directory holding template.yaml, Makefile and web/")
	instances := flag.Int("instances", 3, "instances of each function in the in-process chat, sharing only the store and the management API")
	asJSON := flag.Bool("json", false, "print the summary as JSON, and progress as JSON lines on stderr")
	flag.Parse()

	var handler slog.Handler = slog.NewTextHandler(os.Stderr, nil)
	if *asJSON {
		handler = slog.NewJSONHandler(os.Stderr, nil)
	}
	log := slog.New(handler)
	cfg.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, cfg, chatOptions{store: *storeName, root: *root, instances: *instances}, *url, *asJSON, log))
}

// chatOptions are those of the in-process chat the soak starts.
type chatOptions struct {
	store, root string
	instances   int
}

func run(ctx context.Context, cfg soak.Config, chat chatOptions, url string, asJSON bool, log *slog.Logger) int {
	if url == "" {
		e, cleanup, err := startChat(ctx, chat, log)
		if err != nil {
			log.Error("soak: cannot start the chat", "error", err.Error())
			return 1
		}
		defer cleanup()
		cfg.BaseURL, cfg.Store, cfg.Gateway = e.URL, e.Store, e.Gateway
	} else {
		cfg.BaseURL = url
	}
	rep, err := soak.Run(ctx, cfg)
	if err != nil {
		log.Error("soak: cannot run", "error", err.Error())
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			log.Error("soak: write the summary", "error", err.Error())
			return 1
		}
	} else {
		rep.WriteText(os.Stdout)
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

// startChat starts the chat in this process on a free port, with a store
// in a fresh directory. Sign-ups use cheap password hashing: hundreds of
// real argon2id hashes would take minutes and measure nothing the soak is
// about.
func startChat(ctx context.Context, chat chatOptions, log *slog.Logger) (*emulator.Emulator, func(), error) {
	dir, err := scratchDir()
	if err != nil {
		return nil, nil, err
	}
	cheap := auth.DefaultConfig()
	cheap.Params = authtest.Params
	// The server logs its own warnings and errors beside the soak's lines.
	serverLog := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e, err := emulator.Start(ctx, emulator.Options{
		Addr: "127.0.0.1:0", Root: chat.root, Store: chat.store, DataDir: dir, Table: "chat-soak", Auth: &cheap, Logger: serverLog,
		Instances: chat.instances,
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	log.Info("soak: chat started", "url", e.URL, "store", chat.store, "instances", chat.instances)
	cleanup := func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Shutdown(shutdown); err != nil {
			log.Error("soak: shutdown", "error", err.Error())
		}
		_ = os.RemoveAll(dir)
	}
	return e, cleanup, nil
}

// scratchDir is a fresh directory for the embedded store, on tmpfs where
// there is one: the soak is about delivery, not the disk, and an fsync
// per append on a slow shared disk would make the store, not the chat,
// what is measured.
func scratchDir() (string, error) {
	if dir, err := os.MkdirTemp("/dev/shm", "chat-soak-"); err == nil {
		return dir, nil
	}
	dir, err := os.MkdirTemp("", "chat-soak-")
	if err != nil {
		return "", fmt.Errorf("soak: %w", err)
	}
	return dir, nil
}
