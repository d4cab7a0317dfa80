package awsmeter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestEveryDynamoDBInputAsksForCapacity walks the DynamoDB client's
// operations: every input with a ReturnConsumedCapacity field must come
// out of the meter as a copy asking for TOTAL, the caller's input untouched.
func TestEveryDynamoDBInputAsksForCapacity(t *testing.T) {
	client := reflect.TypeFor[*dynamodb.Client]()
	ctxType := reflect.TypeFor[context.Context]()
	asked := map[string]bool{}
	for i := range client.NumMethod() {
		method := client.Method(i)
		// Operations are func(client, ctx, *XInput, ...optFns).
		if method.Type.NumIn() != 4 || method.Type.In(1) != ctxType || method.Type.In(2).Kind() != reflect.Pointer {
			continue
		}
		inType := method.Type.In(2).Elem()
		if _, has := inType.FieldByName("ReturnConsumedCapacity"); !has {
			continue
		}
		in := reflect.New(inType).Interface()
		got := withConsumedCapacity(in)
		if got == in {
			t.Errorf("%s: input returned as is", method.Name)
			continue
		}
		if v := reflect.ValueOf(got).Elem().FieldByName("ReturnConsumedCapacity").String(); v != string(types.ReturnConsumedCapacityTotal) {
			t.Errorf("%s: ReturnConsumedCapacity = %q", method.Name, v)
		}
		if v := reflect.ValueOf(in).Elem().FieldByName("ReturnConsumedCapacity").String(); v != "" {
			t.Errorf("%s: the caller's input was changed to %q", method.Name, v)
		}
		asked[method.Name] = true
	}
	for _, op := range []string{"GetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems", "ExecuteStatement"} {
		if !asked[op] {
			t.Errorf("%s does not ask for consumed capacity", op)
		}
	}
}

func TestWithConsumedCapacityKeepsWhatAsksEnough(t *testing.T) {
	tests := map[string]struct {
		in   any
		same bool
	}{
		"indexes":          {&dynamodb.GetItemInput{ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes}, true},
		"total":            {&dynamodb.GetItemInput{ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal}, true},
		"none":             {&dynamodb.GetItemInput{ReturnConsumedCapacity: types.ReturnConsumedCapacityNone}, false},
		"no such field":    {&dynamodb.ListTablesInput{}, true},
		"management input": {&apigatewaymanagementapi.DeleteConnectionInput{}, true},
		"nil":              {(*dynamodb.GetItemInput)(nil), true},
		"not a pointer":    {dynamodb.GetItemInput{}, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := withConsumedCapacity(tt.in)
			if same := reflect.DeepEqual(got, tt.in) && (reflect.ValueOf(got).Kind() != reflect.Pointer || reflect.ValueOf(got).Pointer() == reflect.ValueOf(tt.in).Pointer()); same != tt.same {
				t.Errorf("returned the input itself: %v, want %v", same, tt.same)
			}
		})
	}
}

func TestConsumedCapacity(t *testing.T) {
	one := types.ConsumedCapacity{CapacityUnits: aws.Float64(1)}
	two := types.ConsumedCapacity{CapacityUnits: aws.Float64(2)}
	tests := map[string]struct {
		out  any
		want int
	}{
		"single":         {&dynamodb.GetItemOutput{ConsumedCapacity: &one}, 1},
		"single absent":  {&dynamodb.GetItemOutput{}, 0},
		"per table":      {&dynamodb.TransactWriteItemsOutput{ConsumedCapacity: []types.ConsumedCapacity{one, two}}, 2},
		"none reported":  {&dynamodb.ListTablesOutput{}, 0},
		"nil output":     {(*dynamodb.QueryOutput)(nil), 0},
		"not an output":  {"text", 0},
		"untyped nil":    {nil, 0},
		"management API": {&apigatewaymanagementapi.PostToConnectionOutput{}, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := consumedCapacity(tt.out); len(got) != tt.want {
				t.Errorf("got %d capacities, want %d", len(got), tt.want)
			}
		})
	}
}

func TestCapacityUsage(t *testing.T) {
	tests := map[string]struct {
		op       string
		c        types.ConsumedCapacity
		rcu, wcu float64
	}{
		"read by operation":    {"Query", types.ConsumedCapacity{CapacityUnits: aws.Float64(3)}, 3, 0},
		"write by operation":   {"PutItem", types.ConsumedCapacity{CapacityUnits: aws.Float64(2)}, 0, 2},
		"split reported":       {"TransactWriteItems", types.ConsumedCapacity{CapacityUnits: aws.Float64(8), ReadCapacityUnits: aws.Float64(2), WriteCapacityUnits: aws.Float64(6)}, 2, 6},
		"split over operation": {"GetItem", types.ConsumedCapacity{CapacityUnits: aws.Float64(1), WriteCapacityUnits: aws.Float64(1)}, 0, 1},
		"either kind":          {"ExecuteStatement", types.ConsumedCapacity{CapacityUnits: aws.Float64(1)}, 0, 0},
		"nothing reported":     {"GetItem", types.ConsumedCapacity{}, 0, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			u := capacityUsage(tt.op, tt.c)
			if u.ReadCapacityUnits != tt.rcu || u.WriteCapacityUnits != tt.wcu || u.CapacityUnits != aws.ToFloat64(tt.c.CapacityUnits) {
				t.Errorf("got %+v, want %v RCU and %v WCU", u, tt.rcu, tt.wcu)
			}
		})
	}
}

func TestMessageUnits(t *testing.T) {
	for n, want := range map[int]int64{0: 1, 1: 1, 32 << 10: 1, 32<<10 + 1: 2, 128 << 10: 4} {
		if got := MessageUnits(n); got != want {
			t.Errorf("MessageUnits(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestSnapshotSubAndService(t *testing.T) {
	get := Operation{ServiceDynamoDB, "GetItem"}
	put := Operation{ServiceDynamoDB, "PutItem"}
	post := Operation{ServiceManagementAPI, "PostToConnection"}
	before := Snapshot{get: {Calls: 2, CapacityUnits: 2, ReadCapacityUnits: 2}, put: {Calls: 1, CapacityUnits: 1, WriteCapacityUnits: 1}}
	after := Snapshot{get: {Calls: 5, CapacityUnits: 3.5, ReadCapacityUnits: 3.5}, put: {Calls: 1, CapacityUnits: 1, WriteCapacityUnits: 1}, post: {Calls: 4, MessageUnits: 5, Errors: 1}}
	d := after.Sub(before)
	want := Snapshot{get: {Calls: 3, CapacityUnits: 1.5, ReadCapacityUnits: 1.5}, post: {Calls: 4, MessageUnits: 5, Errors: 1}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Sub = %v, want %v", d, want)
	}
	if got := d.Service(ServiceDynamoDB); got != (Usage{Calls: 3, CapacityUnits: 1.5, ReadCapacityUnits: 1.5}) {
		t.Errorf("Service(DynamoDB) = %+v", got)
	}
	if got := d.Operations(); !reflect.DeepEqual(got, []Operation{post, get}) {
		t.Errorf("Operations = %v", got)
	}
	raw, err := json.Marshal(d)
	if err != nil || !strings.Contains(string(raw), `"ApiGatewayManagementApi.PostToConnection":{"calls":4,"errors":1,"message_units":5}`) {
		t.Errorf("JSON = %s, %v", raw, err)
	}
}

// TestManagementAPI meters a management API client against a stand-in
// that answers posts and refuses one connection as gone.
func TestManagementAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/gone") {
			w.Header().Set("X-Amzn-Errortype", "GoneException")
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte(`{"message":"gone"}`))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	m := New(Config{})
	client := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, m.ManagementAPI)
	ctx := t.Context()
	for _, data := range [][]byte{[]byte("hi"), make([]byte, 40<<10)} {
		if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("c1"), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("gone"), Data: []byte("x")}); err == nil {
		t.Fatal("post to a gone connection succeeded")
	}
	if _, err := client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String("c1")}); err != nil {
		t.Fatal(err)
	}
	want := Snapshot{
		{ServiceManagementAPI, "PostToConnection"}: {Calls: 3, Errors: 1, MessageUnits: 1 + 2 + 1},
		{ServiceManagementAPI, "DeleteConnection"}: {Calls: 1},
	}
	if got := m.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
