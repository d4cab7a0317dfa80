package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/chatroom/chat/internal/fanout"
)

// lambdaAPI is the Lambda Invoke API as far as an asynchronous invoke
// goes: it records each request and answers with status and, for an
// error, the error code in X-Amzn-ErrorType, as Lambda does.
type lambdaAPI struct {
	mu       sync.Mutex
	requests []invokeRequest
	status   int
	code     string
}

type invokeRequest struct {
	path, invocationType string
	shard                fanout.Shard
}

func (a *lambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var s fanout.Shard
	_ = json.Unmarshal(body, &s)
	a.mu.Lock()
	a.requests = append(a.requests, invokeRequest{path: r.Method + " " + r.URL.Path, invocationType: r.Header.Get("X-Amz-Invocation-Type"), shard: s})
	status, code := a.status, a.code
	a.mu.Unlock()
	if code != "" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"Type":"User","message":"refused"}`)
		return
	}
	w.WriteHeader(status)
}

// client builds the Lambda client the functions build, from the SDK's
// default configuration, pointed at url by AWS_ENDPOINT_URL_LAMBDA, the
// SDK's own service-specific endpoint variable that the local stacks set.
func client(t *testing.T, url string) *lambda.Client {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_LAMBDA": url, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return lambda.NewFromConfig(cfg)
}

func TestLambdaDispatch(t *testing.T) {
	shard := fanout.Shard{RoomID: "r1", First: 7, Last: 8, From: 3, To: 9, Frame: json.RawMessage(`{"type":"receive_message","seq":8}`), Connections: []string{"c1", "c2"}, Quiet: true}
	for _, tc := range []struct {
		name    string
		status  int
		code    string
		wantErr string // "" for none; else the error names it
	}{
		{"queued", http.StatusAccepted, "", ""},
		{"throttled", http.StatusTooManyRequests, "TooManyRequestsException", "TooManyRequestsException"},
		{"no such function", http.StatusNotFound, "ResourceNotFoundException", "ResourceNotFoundException"},
		{"answered as a synchronous call", http.StatusOK, "", "status 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &lambdaAPI{status: tc.status, code: tc.code}
			srv := httptest.NewServer(api)
			defer srv.Close()
			d, err := fanout.NewLambda(client(t, srv.URL), "chat-FanoutFunction-abc")
			if err != nil {
				t.Fatal(err)
			}
			err = d.Dispatch(context.Background(), shard)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Dispatch: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Dispatch: %v, want an error naming %s", err, tc.wantErr)
			}
			if tc.code == "TooManyRequestsException" {
				var tooMany *types.TooManyRequestsException
				if !errors.As(err, &tooMany) {
					t.Errorf("Dispatch: %v, want it to wrap the SDK's TooManyRequestsException", err)
				}
			}
			if len(api.requests) != 1 {
				t.Fatalf("%d requests, want 1", len(api.requests))
			}
			got := api.requests[0]
			if want := "POST /2015-03-31/functions/chat-FanoutFunction-abc/invocations"; got.path != want {
				t.Errorf("request %q, want %q", got.path, want)
			}
			if got.invocationType != "Event" {
				t.Errorf("X-Amz-Invocation-Type %q, want Event", got.invocationType)
			}
			if got.shard.RoomID != shard.RoomID || got.shard.First != 7 || got.shard.Last != 8 || got.shard.From != 3 || got.shard.To != 9 ||
				!got.shard.Quiet || !slices.Equal(got.shard.Connections, shard.Connections) || string(got.shard.Frame) != string(shard.Frame) {
				t.Errorf("payload %+v, want %+v", got.shard, shard)
			}
		})
	}
}

func TestNewLambdaRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		client   fanout.Invoker
		function string
	}{
		{"no client", nil, "f"},
		{"no function", &lambda.Client{}, ""},
	} {
		if _, err := fanout.NewLambda(tc.client, tc.function); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}
