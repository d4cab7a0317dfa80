// Package costmodel measures what one chat message costs on AWS: it runs
// the whole chat in-process against DynamoDB Local, with the handlers'
// DynamoDB and management API clients metered (internal/awsmeter), drives
// it with real WebSocket clients, and turns the counts per message into
// dollars per million messages (internal/cost).
//
// For each room size N it signs people up, makes a room of N members
// (added 49 a request, the most one request may add), opens N connections
// that join it, then sends messages one at a time from a few of them and
// waits until every connection has each. Only the sending phase is
// counted. A last run measures the first size again in a new room while
// every earlier connection stays open elsewhere: the store's cost of a
// message must not depend on connections in other rooms.
package costmodel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/awsmeter"
	"github.com/chatroom/chat/internal/cost"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/samtemplate"
)

// Config says what to measure.
type Config struct {
	// Root is the project directory (template.yaml, Makefile, web/).
	Root string
	// DynamoDBEndpoint is a running DynamoDB Local.
	DynamoDBEndpoint string
	// Table is created for the run; it should be new.
	Table string
	// Sizes are the room sizes, measured in this order.
	Sizes []int
	// Messages is how many messages each room gets.
	Messages int
	// Senders is how many of a room's connections send, in turn.
	Senders int
	// RecheckFirst measures Sizes[0] again at the end, beside every
	// connection opened before.
	RecheckFirst bool
	// TextBytes is the length of each message's text.
	TextBytes int
	Logger    *slog.Logger
	// Progress, if set, is called with each room's result as it is done.
	Progress func(Result)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.DynamoDBEndpoint == "" {
		errs = append(errs, errors.New("no DynamoDB endpoint"))
	}
	if c.Table == "" {
		errs = append(errs, errors.New("no table name"))
	}
	if len(c.Sizes) == 0 {
		errs = append(errs, errors.New("no room sizes"))
	}
	for _, n := range c.Sizes {
		if n < 1 || n > maxRoomSize {
			errs = append(errs, fmt.Errorf("room size %d: must be 1 to %d", n, maxRoomSize))
		}
	}
	if c.Messages < 1 {
		errs = append(errs, errors.New("messages must be at least 1"))
	}
	if c.Senders < 1 {
		errs = append(errs, errors.New("senders must be at least 1"))
	}
	if c.TextBytes < 1 || c.TextBytes > 4000 {
		errs = append(errs, errors.New("text bytes must be 1 to 4000"))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("no logger"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("costmodel: %w", err)
	}
	return nil
}

// maxRoomSize is the contract's limit on members.
const maxRoomSize = 1000

// Operation is one kind of request, per message.
type Operation struct {
	Operation          string  `json:"operation"`
	Calls              float64 `json:"calls"`
	ReadCapacityUnits  float64 `json:"rcu,omitempty"`
	WriteCapacityUnits float64 `json:"wcu,omitempty"`
	MessageUnits       float64 `json:"message_units,omitempty"`
	Errors             float64 `json:"errors,omitempty"`
}

// Result is one room's figures, per message.
type Result struct {
	RoomSize int `json:"room_size"`
	// OtherConnections were open in other rooms while it was measured.
	OtherConnections int `json:"other_connections"`
	Messages         int `json:"messages"`
	// StoreRequests, ReadCapacityUnits and WriteCapacityUnits are
	// DynamoDB's, per message.
	StoreRequests      float64 `json:"store_requests"`
	ReadCapacityUnits  float64 `json:"rcu"`
	WriteCapacityUnits float64 `json:"wcu"`
	// Posts are PostToConnection calls; MessageUnits the messages API
	// Gateway bills for them (32 KB increments).
	Posts        float64 `json:"posts"`
	MessageUnits float64 `json:"message_units"`
	// Scans must stay 0: fan-out is one Query on the room's partition.
	Scans float64 `json:"scans"`
	// HandlerTime is the mean time from a send to its last delivery,
	// here: the send_message handler runs until its last post is done.
	HandlerTime time.Duration   `json:"handler_time_ns"`
	Operations  []Operation     `json:"operations"`
	Cost        cost.PerMillion `json:"cost_per_million"`
}

// Run measures every size in turn; ctx bounds the whole run.
func Run(ctx context.Context, c Config) ([]Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	memoryMB, err := SendMessageMemoryMB(filepath.Join(c.Root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	meter := awsmeter.New(awsmeter.Config{TransactWritesFromItemSizes: true})
	// Hashing as cheap as the tests': a thousand sign-ups take a second,
	// and no password here protects anything.
	cheap := auth.Config{Params: authtest.Params, SessionTTL: time.Hour, MaxFailedLogins: 10, MaxFailedLoginsPerAddress: 30, MaxTicketsPerMinute: 60, Now: time.Now}
	emu, err := emulator.Start(ctx, emulator.Options{
		Addr: "127.0.0.1:0", Root: c.Root, Store: "dynamodb", DynamoDBEndpoint: c.DynamoDBEndpoint, Table: c.Table,
		Logger: c.Logger, Auth: &cheap,
		DynamoDBOptions:      []func(*dynamodb.Options){meter.DynamoDB},
		ManagementAPIOptions: []func(*apigatewaymanagementapi.Options){meter.ManagementAPI},
	})
	if err != nil {
		return nil, fmt.Errorf("costmodel: %w", err)
	}
	defer shutdown(emu, c.Logger)

	sizes := c.Sizes
	if c.RecheckFirst {
		sizes = append(sizes[:len(sizes):len(sizes)], sizes[0])
	}
	// Each room has people of its own: someone's socket in another room
	// would hear of every message as their room list's line (a user
	// frame), and the other connections are meant to be strangers.
	total := 0
	for _, n := range sizes {
		total += n
	}
	cl := &client{base: emu.URL, logger: c.Logger}
	everyone, err := cl.signUp(ctx, total)
	if err != nil {
		return nil, err
	}
	var results []Result
	open := 0
	var all []*socket
	defer func() {
		for _, s := range all {
			s.close()
		}
	}()
	for i, n := range sizes {
		people := everyone[open : open+n]
		room, err := cl.makeRoom(ctx, people, "room "+strconv.Itoa(i+1))
		if err != nil {
			return results, err
		}
		sockets, err := cl.joinAll(ctx, people, room)
		all = append(all, sockets...)
		if err != nil {
			return results, err
		}
		// A join answers the joiner before announcing it to the others:
		// let the last announcements land before counting starts.
		if err := settle(ctx, meter); err != nil {
			return results, err
		}
		before := meter.Snapshot()
		elapsed, err := sendAll(ctx, sockets, room, c.Messages, min(c.Senders, n), c.TextBytes)
		if err != nil {
			return results, fmt.Errorf("costmodel: room of %d: %w", n, err)
		}
		// A connection can read its frame before the handler has seen the
		// post's answer, which is when the meter counts it.
		if err := settle(ctx, meter); err != nil {
			return results, err
		}
		r, err := result(meter.Snapshot().Sub(before), n, open, c.Messages, elapsed, memoryMB)
		if err != nil {
			return results, err
		}
		results = append(results, r)
		if c.Progress != nil {
			c.Progress(r)
		}
		open += n
	}
	return results, nil
}

// quiet is how long the chat must make no request to count as idle.
const quiet = 300 * time.Millisecond

// settle waits until the handlers have made no metered request for a
// while.
func settle(ctx context.Context, meter *awsmeter.Meter) error {
	calls := func() int64 {
		snap := meter.Snapshot()
		return snap.Service(awsmeter.ServiceDynamoDB).Calls + snap.Service(awsmeter.ServiceManagementAPI).Calls
	}
	last := calls()
	for {
		t := time.NewTimer(quiet)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		now := calls()
		if now == last {
			return nil
		}
		last = now
	}
}

// shutdown stops the chat without waiting for every $disconnect: closing
// a thousand connections at once makes each announce its leaving to the
// others still there, a storm nobody is measuring.
func shutdown(emu *emulator.Emulator, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := emu.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("emulator shutdown", "error", err.Error())
	}
}

// result turns a run's counts into figures per message.
func result(used awsmeter.Snapshot, roomSize, others, messages int, elapsed time.Duration, memoryMB int) (Result, error) {
	per := func(v float64) float64 { return v / float64(messages) }
	r := Result{RoomSize: roomSize, OtherConnections: others, Messages: messages, HandlerTime: elapsed / time.Duration(messages)}
	for _, op := range used.Operations() {
		u := used[op]
		r.Operations = append(r.Operations, Operation{Operation: op.String(), Calls: per(float64(u.Calls)),
			ReadCapacityUnits: per(u.ReadCapacityUnits), WriteCapacityUnits: per(u.WriteCapacityUnits),
			MessageUnits: per(float64(u.MessageUnits)), Errors: per(float64(u.Errors))})
	}
	db := used.Service(awsmeter.ServiceDynamoDB)
	r.StoreRequests, r.ReadCapacityUnits, r.WriteCapacityUnits = per(float64(db.Calls)), per(db.ReadCapacityUnits), per(db.WriteCapacityUnits)
	r.Scans = per(float64(used[awsmeter.Operation{Service: awsmeter.ServiceDynamoDB, Name: "Scan"}].Calls))
	posts := used[awsmeter.Operation{Service: awsmeter.ServiceManagementAPI, Name: "PostToConnection"}]
	r.Posts, r.MessageUnits = per(float64(posts.Calls)), per(float64(posts.MessageUnits))
	c, err := cost.Of(cost.PerMessage{
		RoomSize: roomSize, IncomingMessageUnits: 1, OutgoingMessageUnits: r.MessageUnits,
		ReadRequestUnits: r.ReadCapacityUnits, WriteRequestUnits: r.WriteCapacityUnits,
		LambdaInvocations: 1, LambdaDuration: billed(r.HandlerTime), LambdaMemoryMB: memoryMB,
	})
	if err != nil {
		return Result{}, err
	}
	r.Cost = c
	return r, nil
}

// billed rounds up to the millisecond Lambda bills by.
func billed(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// SendMessageMemoryMB reads the send_message function's MemorySize from
// the template, or the Globals' when it sets none.
func SendMessageMemoryMB(templatePath string) (int, error) {
	t, err := samtemplate.Load(templatePath)
	if err != nil {
		return 0, fmt.Errorf("costmodel: %w", err)
	}
	fn, ok := t.Resources["SendMessageFunction"]
	if !ok {
		return 0, errors.New("costmodel: template.yaml has no SendMessageFunction")
	}
	if mb, ok := asInt(fn.Properties["MemorySize"]); ok {
		return mb, nil
	}
	if global, ok := t.Globals["Function"].(map[string]any); ok {
		if mb, ok := asInt(global["MemorySize"]); ok {
			return mb, nil
		}
	}
	return 0, errors.New("costmodel: template.yaml sets no MemorySize for SendMessageFunction")
}

func asInt(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}
