package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Invoker is the part of the Lambda API a Lambda dispatcher calls;
// *lambda.Client is one.
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Lambda hands each shard to an asynchronous invocation of the fan-out
// function (InvocationType Event): Lambda queues the event and answers
// 202 at once, so the function that split the frame does not wait for
// its shards to be pushed. It is the cloud's wsapi.Dispatcher.
type Lambda struct {
	client   Invoker
	function string
}

// NewLambda dispatches through client to the function named function
// (a name or an ARN).
func NewLambda(client Invoker, function string) (*Lambda, error) {
	if client == nil {
		return nil, errors.New("fanout: a Lambda client is required")
	}
	if function == "" {
		return nil, errors.New("fanout: the fan-out function's name is required")
	}
	return &Lambda{client: client, function: function}, nil
}

// Dispatch implements wsapi.Dispatcher: it returns once Lambda has queued
// the shard. An error means the shard was not handed off, and the caller
// pushes it itself.
func (l *Lambda) Dispatch(ctx context.Context, s Shard) error {
	payload, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("fanout: encoding the shard of %s at %d: %w", s.RoomID, s.Last, err)
	}
	out, err := l.client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(l.function),
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	})
	if err != nil {
		return fmt.Errorf("fanout: invoking %s: %w", l.function, err)
	}
	// Lambda answers a queued event 202; anything else did not queue it.
	if out.StatusCode != 202 {
		return fmt.Errorf("fanout: invoking %s: status %d, want 202 (queued)", l.function, out.StatusCode)
	}
	return nil
}
