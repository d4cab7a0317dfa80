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
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
}

// DefaultConcurrency bounds the posts in flight for one frame: enough to
// fan out to a thousand connections quickly, few enough not to exhaust a
// Lambda's sockets or trip API Gateway's throttling.
const DefaultConcurrency = 32

// NewManagementAPI returns the adapter.
func NewManagementAPI(api API, logger *slog.Logger) (*ManagementAPI, error) {
	if api == nil || logger == nil {
		return nil, errors.New("push: a management API client and a logger are required")
	}
	return &ManagementAPI{api: api, concurrency: DefaultConcurrency, attempts: 3, logger: logger}, nil
}

// NewClient builds the management API client for endpoint, e.g.
// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}, or the
// emulator's http://localhost:3000. optFns are applied after, as in
// NewFromConfig (a meter, for instance).
func NewClient(cfg aws.Config, endpoint string, optFns ...func(*apigatewaymanagementapi.Options)) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(cfg, append([]func(*apigatewaymanagementapi.Options){func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.HTTPClient = sdkhttp.Wrap(o.HTTPClient)
	}}, optFns...)...)
}

// Post implements Pusher.
func (m *ManagementAPI) Post(ctx context.Context, connectionIDs []string, frame []byte) Result {
	var res Result
	if len(connectionIDs) == 0 {
		return res
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, m.concurrency)
	for _, id := range connectionIDs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := m.postOne(ctx, id, frame)
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
		}()
	}
	wg.Wait()
	for id, err := range res.Failed {
		m.logger.WarnContext(ctx, "post to connection failed", "connection_id", id, "error", err.Error())
	}
	return res
}

func (m *ManagementAPI) postOne(ctx context.Context, id string, frame []byte) error {
	var err error
	for attempt := range m.attempts {
		_, err = m.api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: frame}, sdkAttemptOnce)
		var gone *types.GoneException
		switch {
		case err == nil:
			return nil
		case errors.As(err, &gone):
			return ErrGone
		case ctx.Err() != nil:
			return err
		}
		if attempt+1 < m.attempts {
			wait(ctx, attempt)
		}
	}
	return fmt.Errorf("push: post to %s: %w", id, err)
}

// sdkAttemptOnce turns the SDK's own retries off for a post: this loop is
// the retry policy. Left on, the SDK's three attempts with backoff of up to
// seconds ran inside each of ours, nine attempts and about ten seconds for
// one broken connection, holding up the whole fan-out.
func sdkAttemptOnce(o *apigatewaymanagementapi.Options) { o.RetryMaxAttempts = 1 }

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
	_, err := m.api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(connectionID)})
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return ErrGone
	}
	if err != nil {
		return fmt.Errorf("push: disconnect %s: %w", connectionID, err)
	}
	return nil
}
