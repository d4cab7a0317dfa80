package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Invoker runs a function on a JSON event and returns its JSON answer,
// the way API Gateway invokes a Lambda function.
type Invoker interface {
	Invoke(ctx context.Context, fn *Function, event []byte) ([]byte, error)
}

// InProcess invokes handlers in this process, through aws-lambda-go's own
// reflection layer, so they see and answer JSON exactly as in Lambda.
//
// That layer reuses one output buffer per handler, as a Lambda instance
// runs one invocation at a time; concurrent invocations therefore each take
// a handler of their own from a pool, like warm instances.
type InProcess struct {
	pools map[string]*sync.Pool // by function directory
}

// NewInProcess wraps the handlers, keyed by function directory.
func NewInProcess(handlers map[string]any) *InProcess {
	p := &InProcess{pools: map[string]*sync.Pool{}}
	for dir, h := range handlers {
		p.pools[dir] = &sync.Pool{New: func() any { return lambda.NewHandler(h) }}
	}
	return p
}

// Invoke implements Invoker.
func (p *InProcess) Invoke(ctx context.Context, fn *Function, event []byte) ([]byte, error) {
	pool, ok := p.pools[fn.Dir]
	if !ok {
		return nil, fmt.Errorf("gateway: no handler for %s", fn.LogicalID)
	}
	h := pool.Get().(lambda.Handler)
	defer pool.Put(h)
	out, err := h.Invoke(ctx, event)
	// The answer lives in the handler's buffer until its next invocation.
	return bytes.Clone(out), err
}

// LambdaAPI is the part of the Lambda client used to invoke functions.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *awslambda.InvokeInput, opts ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error)
}

// Remote invokes functions through the Lambda Invoke API: `sam local
// start-lambda` (functions named by logical id), or Lambda itself.
type Remote struct {
	api LambdaAPI
}

// NewRemote returns the invoker.
func NewRemote(api LambdaAPI) *Remote { return &Remote{api: api} }

// ErrFunction is a function that answered with an error (its process
// failed or it returned one), as API Gateway would see a failed invocation.
var ErrFunction = errors.New("gateway: the function failed")

// Invoke implements Invoker.
func (r *Remote) Invoke(ctx context.Context, fn *Function, event []byte) ([]byte, error) {
	out, err := r.api.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(fn.LogicalID), Payload: event})
	if err != nil {
		return nil, fmt.Errorf("gateway: invoke %s: %w", fn.LogicalID, err)
	}
	if out.FunctionError != nil {
		return nil, fmt.Errorf("%w: %s: %s: %s", ErrFunction, fn.LogicalID, aws.ToString(out.FunctionError), out.Payload)
	}
	return out.Payload, nil
}
