// Package iamactions records the IAM actions a process's AWS calls need,
// so a test can hold each function's policy to exactly what the function
// does (least privilege, proven rather than assumed). A DynamoDB
// transaction is authorised per item, as the action of each of its writes
// (PutItem, UpdateItem, DeleteItem, ConditionCheckItem), not as
// TransactWriteItems; every other call is its own action.
package iamactions

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go/middleware"
)

// Recorder appends each action the first time the process calls it, one
// per line, to a file; several processes may share none of it.
type Recorder struct {
	path string
	mu   sync.Mutex
	seen map[string]bool
}

// NewRecorder records into the file at path, creating it.
func NewRecorder(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("iamactions: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("iamactions: %w", err)
	}
	return &Recorder{path: path, seen: map[string]bool{}}, nil
}

// DynamoDB is a client option that records the client's calls.
func (r *Recorder) DynamoDB(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("iamactions", r.handle), middleware.After)
	})
}

// Lambda is a client option that records the client's calls: Invoke is
// authorised as lambda:InvokeFunction, whatever the invocation type.
func (r *Recorder) Lambda(o *lambda.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("iamactions", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			r.record(LambdaAction(middleware.GetOperationName(ctx)))
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
}

// LambdaAction is the IAM action a Lambda call needs.
func LambdaAction(operation string) string {
	if operation == "Invoke" {
		return "lambda:InvokeFunction"
	}
	return "lambda:" + operation
}

func (r *Recorder) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	r.record(Actions(middleware.GetOperationName(ctx), in.Parameters)...)
	return next.HandleInitialize(ctx, in)
}

// Actions are the IAM actions a DynamoDB call with these parameters needs.
func Actions(operation string, params any) []string {
	tw, ok := params.(*dynamodb.TransactWriteItemsInput)
	if !ok {
		return []string{"dynamodb:" + operation}
	}
	var out []string
	for _, it := range tw.TransactItems {
		switch {
		case it.Put != nil:
			out = append(out, "dynamodb:PutItem")
		case it.Update != nil:
			out = append(out, "dynamodb:UpdateItem")
		case it.Delete != nil:
			out = append(out, "dynamodb:DeleteItem")
		case it.ConditionCheck != nil:
			out = append(out, "dynamodb:ConditionCheckItem")
		}
	}
	return out
}

func (r *Recorder) record(actions ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var fresh []string
	for _, a := range actions {
		if !r.seen[a] {
			r.seen[a] = true
			fresh = append(fresh, a)
		}
	}
	if len(fresh) == 0 {
		return
	}
	f, err := os.OpenFile(r.path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return // a record that cannot be written shows as a missing action
	}
	defer f.Close()
	_, _ = f.WriteString(strings.Join(fresh, "\n") + "\n")
}

// Read returns the distinct actions recorded in the file, sorted.
func Read(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("iamactions: %w", err)
	}
	set := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			set[line] = true
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}
