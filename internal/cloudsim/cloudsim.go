// Package cloudsim measures the chat as the cloud runs it, on one machine:
// every function as several instances of its real bootstrap under AWS's
// Lambda Runtime Interface Emulator, each held to its MemorySize's share of
// a core (internal/lambdarie, internal/cpushare); a management API that
// answers each post after API Gateway's round trip and refuses posts past
// the account's rate (internal/gateway); DynamoDB Local as the store.
//
// For each room size it seeds the people, the room and its sockets outside
// the functions (what it measures is a message, not a sign-up), then has a
// few members send messages at a pace that keeps the room's posts under
// the account's rate, and reports, per message: the time from the send to
// the last socket's delivery (p50, p99), what was lost, repeated or out of
// seq order, the posts, the Lambda invocations and GB-seconds the
// instances were busy (wall time under their CPU limit, as Lambda bills),
// the store's capacity, and the cost per million messages against API
// Gateway's floor.
//
// The rooms' client sockets may live in a child process (ServeClients,
// Config.ClientCommand), which reports each socket's deliveries back as
// compact records: a room of 10,000 with both ends of every socket in one
// process would pass the machine's limit on open files.
package cloudsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/chatroom/chat/internal/app"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/lambdarie"
)

// Config is one simulation.
type Config struct {
	// Root is the project directory (template.yaml, functions/).
	Root string
	// Sizes are the rooms to measure, in connections joined. A room holds
	// at most chat.MaxMembers people, so a bigger room has each member
	// open several sockets (at most wsapi.MaxConnectionsPerUser).
	Sizes []int
	// SocketsPerMember is how many sockets each member opens; 0 opens as
	// few as the member limit allows (one each up to 1,000).
	SocketsPerMember int
	// Messages is how many messages each room is sent.
	Messages int
	// Senders is how many members take turns sending.
	Senders int
	// Interval is the least time between two sends into a room; a big
	// room's sends are spaced further, so that its posts stay under half
	// the account's rate.
	Interval time.Duration
	// OneAtATime sends each message only once the one before reached
	// every socket, so no two messages' deliveries overlap: the latency of
	// one message alone, without the queue of a busy room.
	OneAtATime bool
	// Instances is how many instances of each function run.
	Instances int
	// PostLatency and PostJitter: each post waits PostLatency plus up to
	// PostJitter, the round trip to API Gateway.
	PostLatency, PostJitter time.Duration
	// PostRate and PostBurst are the account's management API rate, past
	// which posts are refused with 429.
	PostRate  float64
	PostBurst int
	// Drain bounds the wait for a message's last deliveries.
	Drain time.Duration
	// DynamoDBEndpoint is a running DynamoDB Local to use (one is started
	// if empty); Table the table in it ("chat" if empty).
	DynamoDBEndpoint, Table string
	// RIE is the aws-lambda-rie binary (installed if empty).
	RIE string
	// ClientCommand, if set, runs the rooms' client sockets in a child
	// process: the program and its arguments, in a mode that calls
	// ServeClients on its stdin and stdout (infra/benchcloud
	// -client-process). This process then holds only the sockets' server
	// ends: a socket is a descriptor on each side, and a room of 10,000
	// with both in one process reaches a hard limit of 20,000 open files.
	// Empty keeps the sockets here, which is simpler and enough for rooms
	// of a few thousand.
	ClientCommand []string
	// WorkDir holds the bootstraps and the meters' files; a temporary
	// directory if empty.
	WorkDir  string
	Logger   *slog.Logger
	Progress io.Writer
}

// Defaults are the cloud's figures: 20 ms a post with up to 5 ms of
// jitter, API Gateway's account-level 10,000 calls a second with bursts
// of 5,000, three instances of each function.
func Defaults() Config {
	return Config{
		Sizes: []int{100, 1000, 10000}, Messages: 20, Senders: 3, Interval: 200 * time.Millisecond,
		Instances: 3, PostLatency: 20 * time.Millisecond, PostJitter: 5 * time.Millisecond,
		PostRate: 10000, PostBurst: 5000, Drain: 60 * time.Second,
	}
}

// Result is one room size.
type Result struct {
	Connections int `json:"connections"`
	Members     int `json:"members"`
	Messages    int `json:"messages"`
	// P50 and P99 are of each message's time from its send to its
	// delivery to the room's last socket; Max the slowest.
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
	// Lost counts deliveries that never came, Duplicated those that came
	// twice, Reordered live frames that reached a socket after one with
	// a higher seq.
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	Reordered  int `json:"reordered"`
	// Per message.
	Posts       float64 `json:"posts"`
	Throttled   float64 `json:"throttled_posts"`
	Invocations float64 `json:"invocations"`
	GBSeconds   float64 `json:"gb_seconds"`
	RCU         float64 `json:"rcu"`
	WCU         float64 `json:"wcu"`
	// Dollars per million messages, and API Gateway's floor.
	Cost  float64 `json:"cost_per_million"`
	Floor float64 `json:"floor_per_million"`
	// Functions are the invocations per message of each function that
	// ran, and how long they took: where a message's Lambda time goes.
	Functions map[string]FunctionTime `json:"functions,omitempty"`
	// HostBusy is the share of this machine's CPU that was busy from the
	// first send to the last delivery (0 where it cannot be read). Near 1,
	// the latencies are the machine's queue, not the cloud's.
	HostBusy float64 `json:"host_busy,omitempty"`
	// CPU is where the machine's CPU went over the same span, per message
	// and largest first: each function, by its logical id, then the RIEs,
	// DynamoDB Local, the gateway, the client sockets and the rest of the
	// machine. Only the functions' part runs in Lambda.
	CPU []CPUPart `json:"cpu,omitempty"`
	// Replaced counts the function instances that stopped on their own
	// while the room was seeded and measured and were replaced, each a
	// cold start and a failed invocation (lambdarie.Stack.Replaced).
	Replaced int `json:"replaced_instances,omitempty"`
	// Problems lists what went wrong besides the counts.
	Problems []string `json:"problems,omitempty"`
}

// FunctionTime is one function's share of a message.
type FunctionTime struct {
	Invocations float64       `json:"invocations"`
	Mean        time.Duration `json:"mean"`
	Max         time.Duration `json:"max"`
}

// OK says whether every message reached every socket once, in order.
func (r Result) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.Reordered == 0 && len(r.Problems) == 0
}

// Run starts the simulated cloud, measures each room size and stops it.
func Run(ctx context.Context, c Config) ([]Result, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Messages <= 0 || c.Senders <= 0 || len(c.Sizes) == 0 {
		return nil, errors.New("cloudsim: sizes, messages and senders are required")
	}
	work := c.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "cloudsim-")
		if err != nil {
			return nil, fmt.Errorf("cloudsim: %w", err)
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	functions := filepath.Join(work, "functions")
	if err := os.MkdirAll(functions, 0o755); err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}
	// The functions run as the RIE's own unprivileged user, which must
	// reach and write the meters' directory: one of its own under the
	// system's temporary directory, open to all.
	meters, err := os.MkdirTemp("", "cloudsim-meters-")
	if err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}
	defer os.RemoveAll(meters)
	if err := os.Chmod(meters, 0o777); err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}
	stack, err := lambdarie.Start(ctx, lambdarie.Config{
		Emulator: emulator.Options{
			Addr: "127.0.0.1:0", Root: c.Root, Store: "dynamodb", Logger: c.Logger,
			DynamoDBEndpoint: c.DynamoDBEndpoint, Table: c.Table,
			ManagementLatency: c.PostLatency, ManagementJitter: c.PostJitter,
			ManagementRate: c.PostRate, ManagementBurst: c.PostBurst,
		},
		RIE: c.RIE, WorkDir: functions,
		Instances: c.Instances, CPULimit: true,
		Env:    map[string]string{app.EnvMeterDir: meters},
		Logger: c.Logger,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := stack.Shutdown(stop); err != nil {
			c.Logger.Error("stopping the simulated cloud", "error", err.Error())
		}
	}()
	fmt.Fprintf(c.Progress, "simulated cloud up: %d instances of each function, %v+%v per post, %.0f posts/s\n",
		c.Instances, c.PostLatency, c.PostJitter, c.PostRate)
	var cl clients = newInProcess()
	if len(c.ClientCommand) > 0 {
		p, err := startClientProcess(c.ClientCommand, c.Logger)
		if err != nil {
			return nil, err
		}
		cl = p
	}
	defer func() {
		if err := cl.stop(); err != nil {
			c.Logger.Error("stopping the client sockets", "error", err.Error())
		}
	}()
	sim, err := newSimulation(ctx, c, stack, meters, cl)
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, n := range c.Sizes {
		r, err := sim.measure(ctx, n)
		if err != nil {
			return results, fmt.Errorf("cloudsim: room of %d: %w", n, err)
		}
		results = append(results, r)
	}
	return results, nil
}
