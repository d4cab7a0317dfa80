// Package push delivers frames to WebSocket connections: the port the
// handlers fan out through, and its adapter on the API Gateway management
// API (PostToConnection), which also speaks to the local emulator's
// /@connections endpoint when its endpoint says so.
package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/chatroom/chat/internal/sdkhttp"
)

// Result says how a post went: the connections that are gone (API Gateway
// answered 410) and those that failed otherwise after retries.
type Result struct {
	Gone   []string
	Failed map[string]error
}

// Pusher is the push port.
type Pusher interface {
	// Post sends the same frame to every connection.
	Post(ctx context.Context, connectionIDs []string, frame []byte) Result
	// Disconnect closes a connection; API Gateway then runs $disconnect.
	Disconnect(ctx context.Context, connectionID string) error
}

// ErrGone is returned by Disconnect for a connection that no longer exists.
var ErrGone = errors.New("push: connection gone")

// API is the part of the management API client the adapter uses.
type API interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, opts ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
	DeleteConnection(ctx context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, opts ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error)
}

var _ Pusher = (*ManagementAPI)(nil)

// ManagementAPI posts through the API Gateway management API.
type ManagementAPI struct {
	api         API
	concurrency int
	attempts    int
	logger      *slog.Logger
	// function names the Lambda function in the metrics' per-function
	// dimension; empty, only the account-wide metrics are written.
	function string
	// throttleBase and throttleCap shape the backoff after a 429.
	throttleBase, throttleCap time.Duration

	// Posts are made by long-lived workers, not a goroutine per post: the
	// SDK's call chain is deep, and a fresh goroutine grows its stack for
	// every post (a tenth of the CPU of a fan-out, in profiles).
	jobs    chan postJob
	idle    time.Duration // how long a worker waits for work before it exits
	mu      sync.Mutex
	workers int
	waiting int // submits blocked until a worker is free
}

type postJob struct {
	ctx   context.Context
	id    string
	frame []byte
	tally *tally
	done  func(id string, err error)
}

// tally counts one Post's trouble for its metrics line.
type tally struct{ throttled, failed atomic.Int64 }

// workerIdle is how long a worker waits for work before it exits.
const workerIdle = 30 * time.Second

// DefaultConcurrency bounds the adapter's posts in flight, across all its
// Posts (a Lambda instance runs one at a time): enough to fan out to a
// thousand connections quickly, few enough not to exhaust a Lambda's
// sockets or trip API Gateway's throttling.
const DefaultConcurrency = 32

// NewManagementAPI returns the adapter.
func NewManagementAPI(api API, logger *slog.Logger) (*ManagementAPI, error) {
	if api == nil || logger == nil {
		return nil, errors.New("push: a management API client and a logger are required")
	}
	return &ManagementAPI{api: api, concurrency: DefaultConcurrency, attempts: 3, logger: logger, jobs: make(chan postJob), idle: workerIdle,
		throttleBase: throttleBase, throttleCap: throttleCap}, nil
}

// ForFunction names the Lambda function whose posts these are, as the
// metrics' Function dimension (AWS_LAMBDA_FUNCTION_NAME in Lambda).
func (m *ManagementAPI) ForFunction(name string) *ManagementAPI {
	m.function = name
	return m
}

// idleConnections is how many keep-alive connections the client keeps to
// the management API: room for several fan-outs at once in the emulator,
// where every function shares the client.
const idleConnections = 8 * DefaultConcurrency

// NewClient builds the management API client for endpoint, e.g.
// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}, or the
// emulator's http://localhost:3000. optFns are applied after, as in
// NewFromConfig (an in-process HTTP client, a meter).
//
// A post is the chat's most frequent call, one per connection per frame,
// so the client does less per call than the SDK's defaults, with the SDK's
// own options: the endpoint is resolved once instead of by the rules engine
// on every call; the SDK does not retry (Post's loop is the retry policy:
// left on, the SDK's three attempts with backoff ran inside each of ours);
// and the per-call middleware that only serves retries or telemetry is
// swapped for a no-op (see trimStack).
func NewClient(cfg aws.Config, endpoint string, optFns ...func(*apigatewaymanagementapi.Options)) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(cfg, append([]func(*apigatewaymanagementapi.Options){func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		if u, err := url.Parse(endpoint); err == nil {
			o.EndpointResolverV2 = fixedEndpoint{uri: *u}
		}
		o.Retryer = aws.NopRetryer{}
		o.APIOptions = append(o.APIOptions, trimStack)
		// The default keeps 10 idle connections per host: a fan-out of
		// DefaultConcurrency posts closed and redialled the rest every
		// time (a seventh of the emulator's CPU, in profiles).
		o.HTTPClient = sdkhttp.Wrap(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns = idleConnections
			t.MaxIdleConnsPerHost = idleConnections
		}))
	}}, optFns...)...)
}

// Post implements Pusher. At most the adapter's concurrency of posts are
// in flight at once, across every Post running in the process.
func (m *ManagementAPI) Post(ctx context.Context, connectionIDs []string, frame []byte) Result {
	var res Result
	if len(connectionIDs) == 0 {
		return res
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := func(id string, err error) {
		defer wg.Done()
		if err == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if errors.Is(err, ErrGone) {
			res.Gone = append(res.Gone, id)
			return
		}
		if res.Failed == nil {
			res.Failed = map[string]error{}
		}
		res.Failed[id] = err
	}
	var t tally
	wg.Add(len(connectionIDs))
	for _, id := range connectionIDs {
		m.submit(postJob{ctx: ctx, id: id, frame: frame, tally: &t, done: done})
	}
	wg.Wait()
	for id, err := range res.Failed {
		m.logger.WarnContext(ctx, "post to connection failed", "connection_id", id, "error", err.Error())
	}
	t.failed.Store(int64(len(res.Failed)))
	m.report(ctx, &t)
	return res
}

// submit hands a post to an idle worker, starting one if none is idle and
// fewer than the concurrency run, and otherwise waits for one.
func (m *ManagementAPI) submit(j postJob) {
	select {
	case m.jobs <- j:
		return
	default:
	}
	m.mu.Lock()
	if m.workers < m.concurrency {
		m.workers++
		m.mu.Unlock()
		go m.work(j)
		return
	}
	m.waiting++ // keeps every worker from leaving until this is taken
	m.mu.Unlock()
	m.jobs <- j
	m.mu.Lock()
	m.waiting--
	m.mu.Unlock()
}

func (m *ManagementAPI) work(j postJob) {
	idle := time.NewTimer(m.idle)
	defer idle.Stop()
	for {
		j.done(j.id, m.postOne(j.ctx, j.id, j.frame, j.tally))
		idle.Reset(m.idle)
		select {
		case j = <-m.jobs:
		case <-idle.C:
			m.mu.Lock()
			if m.waiting > 0 {
				m.mu.Unlock()
				j = <-m.jobs
				continue
			}
			m.workers--
			m.mu.Unlock()
			return
		}
	}
}

func (m *ManagementAPI) postOne(ctx context.Context, id string, frame []byte, t *tally) error {
	in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: frame}
	return m.retry(ctx, "post to", id, t, func() error {
		_, err := m.api.PostToConnection(ctx, in)
		return err
	})
}

// Backoff after API Gateway's 429 (LimitExceededException): the account's
// rate is shared by every post of every function, so a throttled post
// waits a random time up to a ceiling that doubles, from throttleBase to
// throttleCap ("full jitter"), and keeps trying while the invocation has
// time left; without a deadline, maxThrottledAttempts bound it.
const (
	throttleBase         = 25 * time.Millisecond
	throttleCap          = time.Second
	maxThrottledAttempts = 12
	// deadlineMargin is kept back from the invocation's deadline for the
	// handler to finish after its last post.
	deadlineMargin = 100 * time.Millisecond
)

// retry makes up to the adapter's attempts of call, with a short backoff
// between them; a GoneException ends it at once as ErrGone, and a 429
// backs off with jitter for as long as the deadline allows (throttleBase).
// verb and id name the call in an error, apart so that a success formats
// nothing. t, when not nil, counts the 429s.
func (m *ManagementAPI) retry(ctx context.Context, verb, id string, t *tally, call func() error) error {
	var err error
	failures, throttles := 0, 0
	for {
		err = call()
		var gone *types.GoneException
		var limited *types.LimitExceededException
		switch {
		case err == nil:
			return nil
		case errors.As(err, &gone):
			return ErrGone
		case ctx.Err() != nil:
			return fmt.Errorf("push: %s %s: %w", verb, id, err)
		case errors.As(err, &limited):
			if t != nil {
				t.throttled.Add(1)
			}
			throttles++
			d := fullJitter(m.throttleBase, m.throttleCap, throttles-1)
			if throttles >= maxThrottledAttempts || !timeLeft(ctx, d) {
				return fmt.Errorf("push: %s %s: still throttled after %d tries: %w", verb, id, throttles, err)
			}
			sleep(ctx, d)
			continue
		}
		failures++
		if failures >= m.attempts {
			return fmt.Errorf("push: %s %s: %w", verb, id, err)
		}
		sleep(ctx, time.Duration(10<<(failures-1))*time.Millisecond+time.Duration(rand.IntN(10))*time.Millisecond)
	}
}

// fullJitter is a random wait up to base·2^attempt, capped.
func fullJitter(base, ceiling time.Duration, attempt int) time.Duration {
	limit := min(ceiling, base<<min(attempt, 16))
	return time.Duration(rand.Int64N(int64(limit))) + time.Millisecond
}

// timeLeft reports whether waiting d and trying once more fits before
// ctx's deadline, with deadlineMargin to spare.
func timeLeft(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d+deadlineMargin
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Metric names and namespace of the push metrics, written in CloudWatch's
// embedded metric format: a log line that CloudWatch Logs turns into
// metric values, with no call to CloudWatch on the fan-out path.
const (
	MetricNamespace = "Chat"
	MetricThrottled = "PushThrottled"
	MetricFailures  = "PushFailures"
)

// report writes one metrics line for a Post that met 429s or failed posts;
// a Post without trouble writes nothing. The line carries the values
// twice over: per function (dimension Function) and for the whole account
// (no dimension), which the alarms watch.
func (m *ManagementAPI) report(ctx context.Context, t *tally) {
	throttled, failed := t.throttled.Load(), t.failed.Load()
	if throttled == 0 && failed == 0 {
		return
	}
	dimensions := [][]string{{}}
	attrs := []any{}
	if m.function != "" {
		dimensions = [][]string{{"Function"}, {}}
		attrs = append(attrs, "Function", m.function)
	}
	directive := map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  MetricNamespace,
			"Dimensions": dimensions,
			"Metrics":    []map[string]string{{"Name": MetricThrottled, "Unit": "Count"}, {"Name": MetricFailures, "Unit": "Count"}},
		}},
	}
	attrs = append(attrs, "_aws", directive, MetricThrottled, throttled, MetricFailures, failed)
	m.logger.WarnContext(ctx, "posts throttled or failed", attrs...)
}

// Disconnect implements Pusher.
func (m *ManagementAPI) Disconnect(ctx context.Context, connectionID string) error {
	in := &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(connectionID)}
	return m.retry(ctx, "disconnect", connectionID, nil, func() error {
		_, err := m.api.DeleteConnection(ctx, in)
		return err
	})
}
