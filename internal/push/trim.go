package push

import (
	"context"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/aws/smithy-go/middleware"
)

// fixedEndpoint resolves every call to the one endpoint the client was
// built for: the management API has no other, and the SDK's rules engine
// parsed and checked it again on every post.
type fixedEndpoint struct{ uri url.URL }

func (f fixedEndpoint) ResolveEndpoint(context.Context, apigatewaymanagementapi.EndpointParameters) (smithyendpoints.Endpoint, error) {
	return smithyendpoints.Endpoint{URI: f.uri}, nil
}

// The middleware trimStack swaps for a no-op, by step. Each serves only
// retries or telemetry, which a client that never retries does without:
// the invocation id and the attempt header pair attempts of one call, the
// response timing corrects clock skew for a retry's signature, the user
// agent and the raw response are bookkeeping nobody reads. Boxed once
// here: the stack is built anew for every call.
var (
	trimmedBuild       = []middleware.BuildMiddleware{noopBuild("ClientRequestID"), noopBuild("UserAgent")}
	trimmedFinalize    = []middleware.FinalizeMiddleware{noopFinalize("Retry")}
	trimmedDeserialize = []middleware.DeserializeMiddleware{noopDeserialize("RecordResponseTiming"), noopDeserialize("AddRawResponseToMetadata")}
)

// trimStack swaps the middleware above for no-ops. Swapping, not removing:
// removing an entry copies the step's lists, which costs more than running
// the middleware. An entry a future SDK no longer has is left alone.
func trimStack(s *middleware.Stack) error {
	for _, m := range trimmedBuild {
		_, _ = s.Build.Swap(m.ID(), m)
	}
	for _, m := range trimmedFinalize {
		_, _ = s.Finalize.Swap(m.ID(), m)
	}
	for _, m := range trimmedDeserialize {
		_, _ = s.Deserialize.Swap(m.ID(), m)
	}
	return nil
}

type noopBuild string

func (n noopBuild) ID() string { return string(n) }
func (noopBuild) HandleBuild(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
	return next.HandleBuild(ctx, in)
}

type noopFinalize string

func (n noopFinalize) ID() string { return string(n) }
func (noopFinalize) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	return next.HandleFinalize(ctx, in)
}

type noopDeserialize string

func (n noopDeserialize) ID() string { return string(n) }
func (noopDeserialize) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	return next.HandleDeserialize(ctx, in)
}
