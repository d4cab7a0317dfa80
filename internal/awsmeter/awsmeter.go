// Package awsmeter counts what an application asks of AWS, per operation:
// requests, the DynamoDB capacity units they consumed, and the messages
// posted through the API Gateway management API, in the units AWS bills.
//
// A [Meter] attaches to a client through its options, so the code that uses
// the client does not change:
//
//	m := awsmeter.New()
//	db := dynamodb.NewFromConfig(cfg, m.DynamoDB)
//	mgmt := apigatewaymanagementapi.NewFromConfig(cfg, m.ManagementAPI)
//	before := m.Snapshot()
//	// ... traffic ...
//	used := m.Snapshot().Sub(before)
//
// On DynamoDB it asks for ReturnConsumedCapacity=TOTAL on every input that
// has the field (GetItem, Query, Scan, PutItem, UpdateItem, DeleteItem,
// the batch and transaction operations, PartiQL), on a copy of the input so
// the caller's struct is never written to, and sums the ConsumedCapacity of
// every output. A request that fails (a condition check, a cancelled
// transaction) is counted as a call and an error; DynamoDB returns no
// consumed capacity with an error, although it bills a failed conditional
// write, so capacity is under-counted by exactly those.
package awsmeter

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Service IDs as the SDK names them, the first half of an [Operation].
const (
	ServiceDynamoDB      = "DynamoDB"
	ServiceManagementAPI = "ApiGatewayManagementApi"
)

// MessageMeteringBytes is API Gateway's unit for WebSocket messages: a
// message is billed in 32 KB increments.
const MessageMeteringBytes = 32 << 10

// Operation names one API call, e.g. {"DynamoDB", "Query"}.
type Operation struct {
	Service string
	Name    string
}

// String is "Service.Name", the key used in JSON.
func (o Operation) String() string { return o.Service + "." + o.Name }

// Usage is what calls of one operation used.
type Usage struct {
	// Calls counts operation calls, each one billed request (the SDK's own
	// retries of a throttled or failed attempt are not counted again).
	Calls int64 `json:"calls"`
	// Errors counts the calls that returned an error.
	Errors int64 `json:"errors,omitempty"`
	// CapacityUnits is the total DynamoDB reported (table and indexes).
	CapacityUnits float64 `json:"capacity_units,omitempty"`
	// ReadCapacityUnits and WriteCapacityUnits split it. DynamoDB reports
	// the split for some operations only; otherwise the total is read or
	// write by what the operation is (see readOperations, writeOperations).
	ReadCapacityUnits  float64 `json:"read_capacity_units,omitempty"`
	WriteCapacityUnits float64 `json:"write_capacity_units,omitempty"`
	// MessageUnits counts the posted messages in API Gateway's 32 KB
	// metering increments (management API PostToConnection only).
	MessageUnits int64 `json:"message_units,omitempty"`
}

func (u Usage) add(v Usage) Usage {
	return Usage{
		Calls: u.Calls + v.Calls, Errors: u.Errors + v.Errors,
		CapacityUnits:     u.CapacityUnits + v.CapacityUnits,
		ReadCapacityUnits: u.ReadCapacityUnits + v.ReadCapacityUnits, WriteCapacityUnits: u.WriteCapacityUnits + v.WriteCapacityUnits,
		MessageUnits: u.MessageUnits + v.MessageUnits,
	}
}

func (u Usage) sub(v Usage) Usage {
	return Usage{
		Calls: u.Calls - v.Calls, Errors: u.Errors - v.Errors,
		CapacityUnits:     u.CapacityUnits - v.CapacityUnits,
		ReadCapacityUnits: u.ReadCapacityUnits - v.ReadCapacityUnits, WriteCapacityUnits: u.WriteCapacityUnits - v.WriteCapacityUnits,
		MessageUnits: u.MessageUnits - v.MessageUnits,
	}
}

// Snapshot is the usage of each operation at one moment.
type Snapshot map[Operation]Usage

// Sub returns what was used since earlier: s minus earlier, operation by
// operation, leaving out operations with no calls in between.
func (s Snapshot) Sub(earlier Snapshot) Snapshot {
	out := Snapshot{}
	for op, u := range s {
		if d := u.sub(earlier[op]); d != (Usage{}) {
			out[op] = d
		}
	}
	return out
}

// Service sums the usage of one service's operations.
func (s Snapshot) Service(service string) Usage {
	var total Usage
	for op, u := range s {
		if op.Service == service {
			total = total.add(u)
		}
	}
	return total
}

// Operations lists the operations in s, sorted by service and name.
func (s Snapshot) Operations() []Operation {
	ops := slices.Collect(maps.Keys(s))
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return ops
}

// Config chooses how a Meter counts.
type Config struct {
	// TransactWritesFromItemSizes counts a TransactWriteItems' write
	// capacity from its items, as DynamoDB bills it (see
	// TransactWriteCapacity), instead of taking the figure the server
	// reports. DynamoDB Local (1.25) reports a flat 4 units for any
	// transaction of items under 1 KB, whether it writes one item or five,
	// where DynamoDB bills 2 per item: set this when metering it.
	TransactWritesFromItemSizes bool
}

// Meter counts; it is safe for concurrent use by many clients at once.
type Meter struct {
	config Config
	mu     sync.Mutex
	usage  Snapshot
}

// New returns a meter with nothing counted.
func New(c Config) *Meter { return &Meter{config: c, usage: Snapshot{}} }

// Snapshot returns a copy of the counts so far.
func (m *Meter) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.usage)
}

func (m *Meter) record(op Operation, u Usage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.usage[op] = m.usage[op].add(u)
}

// DynamoDB is an option for dynamodb.New or NewFromConfig that meters the
// client.
func (m *Meter) DynamoDB(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, m.addTo)
}

// ManagementAPI is an option for apigatewaymanagementapi.New or
// NewFromConfig that meters the client.
func (m *Meter) ManagementAPI(o *apigatewaymanagementapi.Options) {
	o.APIOptions = append(o.APIOptions, m.addTo)
}

// addTo puts the meter in the Initialize step: it runs once per operation
// call, sees the typed input before it is serialized and the typed output
// after it is deserialized.
func (m *Meter) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("awsmeter", m.handleInitialize), middleware.After)
}

func (m *Meter) handleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	op := Operation{Service: middleware.GetServiceID(ctx), Name: middleware.GetOperationName(ctx)}
	u := Usage{Calls: 1}
	switch params := in.Parameters.(type) {
	case *apigatewaymanagementapi.PostToConnectionInput:
		u.MessageUnits = MessageUnits(len(params.Data))
	default:
		in.Parameters = withConsumedCapacity(in.Parameters)
	}
	out, md, err := next.HandleInitialize(ctx, in)
	if err != nil {
		u.Errors = 1
	}
	if tw, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok && m.config.TransactWritesFromItemSizes {
		if err == nil {
			wcu := TransactWriteCapacity(tw.TransactItems)
			u.CapacityUnits, u.WriteCapacityUnits = wcu, wcu
		}
	} else {
		for _, c := range consumedCapacity(out.Result) {
			u = u.add(capacityUsage(op.Name, c))
		}
	}
	m.record(op, u)
	return out, md, err
}

// MessageUnits is how many messages API Gateway bills for a payload of n
// bytes: one per started 32 KB, and at least one.
func MessageUnits(n int) int64 {
	return max(1, int64((n+MessageMeteringBytes-1)/MessageMeteringBytes))
}

var (
	returnConsumedCapacityType = reflect.TypeFor[dbtypes.ReturnConsumedCapacity]()
	consumedCapacityType       = reflect.TypeFor[dbtypes.ConsumedCapacity]()
)

// withConsumedCapacity returns a copy of a DynamoDB input with
// ReturnConsumedCapacity set to TOTAL, or the input itself when it has no
// such field or already asks for as much (INDEXES includes the totals).
// Reflection rather than a list of types, so an operation the SDK adds is
// metered too.
func withConsumedCapacity(params any) any {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return params
	}
	f := v.Elem().FieldByName("ReturnConsumedCapacity")
	if !f.IsValid() || f.Type() != returnConsumedCapacityType {
		return params
	}
	switch dbtypes.ReturnConsumedCapacity(f.String()) {
	case dbtypes.ReturnConsumedCapacityTotal, dbtypes.ReturnConsumedCapacityIndexes:
		return params
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	cp.Elem().FieldByName("ReturnConsumedCapacity").SetString(string(dbtypes.ReturnConsumedCapacityTotal))
	return cp.Interface()
}

// consumedCapacity reads an output's ConsumedCapacity, a single one or one
// per table.
func consumedCapacity(result any) []dbtypes.ConsumedCapacity {
	v := reflect.ValueOf(result)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("ConsumedCapacity")
	if !f.IsValid() {
		return nil
	}
	switch {
	case f.Type() == reflect.PointerTo(consumedCapacityType):
		if f.IsNil() {
			return nil
		}
		return []dbtypes.ConsumedCapacity{*f.Interface().(*dbtypes.ConsumedCapacity)}
	case f.Type() == reflect.SliceOf(consumedCapacityType):
		return f.Interface().([]dbtypes.ConsumedCapacity)
	}
	return nil
}

// Operations whose reported total is all reads or all writes when
// DynamoDB does not split it. The PartiQL ones can be either and are left
// in CapacityUnits alone.
var (
	readOperations  = map[string]bool{"GetItem": true, "BatchGetItem": true, "Query": true, "Scan": true, "TransactGetItems": true}
	writeOperations = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true}
)

func capacityUsage(operation string, c dbtypes.ConsumedCapacity) Usage {
	u := Usage{CapacityUnits: deref(c.CapacityUnits), ReadCapacityUnits: deref(c.ReadCapacityUnits), WriteCapacityUnits: deref(c.WriteCapacityUnits)}
	if c.ReadCapacityUnits == nil && c.WriteCapacityUnits == nil {
		switch {
		case readOperations[operation]:
			u.ReadCapacityUnits = u.CapacityUnits
		case writeOperations[operation]:
			u.WriteCapacityUnits = u.CapacityUnits
		}
	}
	return u
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// MarshalText makes an Operation usable as a JSON object key.
func (o Operation) MarshalText() ([]byte, error) { return []byte(o.String()), nil }
