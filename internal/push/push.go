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
	done  func(id string, err error)
}

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
	return &ManagementAPI{api: api, concurrency: DefaultConcurrency, attempts: 3, logger: logger, jobs: make(chan postJob), idle: workerIdle}, nil
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
	wg.Add(len(connectionIDs))
	for _, id := range connectionIDs {
		m.submit(postJob{ctx: ctx, id: id, frame: frame, done: done})
	}
	wg.Wait()
	for id, err := range res.Failed {
		m.logger.WarnContext(ctx, "post to connection failed", "connection_id", id, "error", err.Error())
	}
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
		j.done(j.id, m.postOne(j.ctx, j.id, j.frame))
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

func (m *ManagementAPI) postOne(ctx context.Context, id string, frame []byte) error {
	in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: frame}
	return m.retry(ctx, "post to", id, func() error {
		_, err := m.api.PostToConnection(ctx, in)
		return err
	})
}

// retry makes up to the adapter's attempts of call, with a short backoff
// between them; a GoneException ends it at once as ErrGone. verb and id
// name the call in an error, apart so that a success formats nothing.
func (m *ManagementAPI) retry(ctx context.Context, verb, id string, call func() error) error {
	var err error
	for attempt := range m.attempts {
		err = call()
		var gone *types.GoneException
		switch {
		case err == nil:
			return nil
		case errors.As(err, &gone):
			return ErrGone
		case ctx.Err() != nil:
			return fmt.Errorf("push: %s %s: %w", verb, id, err)
		}
		if attempt+1 < m.attempts {
			wait(ctx, attempt)
		}
	}
	return fmt.Errorf("push: %s %s: %w", verb, id, err)
}

func wait(ctx context.Context, attempt int) {
	t := time.NewTimer(time.Duration(10<<attempt)*time.Millisecond + time.Duration(rand.IntN(10))*time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Disconnect implements Pusher.
func (m *ManagementAPI) Disconnect(ctx context.Context, connectionID string) error {
	in := &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(connectionID)}
	return m.retry(ctx, "disconnect", connectionID, func() error {
		_, err := m.api.DeleteConnection(ctx, in)
		return err
	})
}
