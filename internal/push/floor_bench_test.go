package push_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/smithy-go/middleware"

	"github.com/chatroom/chat/internal/push"
)

// answerOK is an HTTP client that answers every request 200 with no body
// and does nothing else, so that a benchmark counts the SDK's work alone.
type answerOK struct{}

func (answerOK) Do(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// emptyOutput stands in for the whole stack once it is cleared: the
// operation wants a *PostToConnectionOutput back.
type emptyOutput struct{}

func (emptyOutput) ID() string { return "EmptyOutput" }
func (emptyOutput) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	out.Result = &apigatewaymanagementapi.PostToConnectionOutput{}
	return out, md, err
}

// clearStack removes every middleware the operation added and puts back
// only what makes the call return.
func clearStack(s *middleware.Stack) error {
	s.Initialize.Clear()
	s.Serialize.Clear()
	s.Build.Clear()
	s.Finalize.Clear()
	s.Deserialize.Clear()
	return s.Deserialize.Add(emptyOutput{}, middleware.After)
}

// BenchmarkSDKFloor measures what one PostToConnection costs in the SDK
// itself, with an HTTP client that does nothing:
//
//   - client: the client `make run` posts through (push.NewClient,
//     unsigned), the SDK's whole per-call work as the chat runs it;
//   - stack-cleared: the same client with every middleware removed by an
//     API option, so that only the operation's fixed cost is left: building
//     the middleware stack anew on every call (about thirty entries, added
//     before any option can act), copying the client's options, the
//     context values and the tracing span. No option of the SDK removes
//     that part, so it is the least a post through the SDK can cost.
//
// Run it as `GOMAXPROCS=1 go test -run - -bench SDKFloor -benchmem
// ./internal/push/`.
func BenchmarkSDKFloor(b *testing.B) {
	in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("conn-1"), Data: make([]byte, 300)}
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}}
	for _, bc := range []struct {
		name string
		opt  func(*apigatewaymanagementapi.Options)
	}{
		{"client", func(*apigatewaymanagementapi.Options) {}},
		{"stack-cleared", func(o *apigatewaymanagementapi.Options) { o.APIOptions = append(o.APIOptions, clearStack) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := push.NewClient(cfg, "http://127.0.0.1:3000", func(o *apigatewaymanagementapi.Options) { o.HTTPClient = answerOK{} }, bc.opt)
			ctx := context.Background()
			if _, err := client.PostToConnection(ctx, in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.PostToConnection(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
