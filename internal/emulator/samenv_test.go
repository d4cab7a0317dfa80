package emulator_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/emulator"
)

// TestSAMEnvFile: the --env-vars file for sam local start-lambda points every
// function at the emulator and DynamoDB Local as a container reaches them.
func TestSAMEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env.json")
	o := stores["dynamodb"](t)
	o.SAMEnvFile = path
	e := start(t, o)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if len(env) != 9 {
		t.Fatalf("env for %d functions, want 9", len(env))
	}
	port := e.URL[strings.LastIndex(e.URL, ":"):]
	for fn, vars := range env {
		if vars["TABLE_NAME"] != o.Table {
			t.Errorf("%s: TABLE_NAME %q, want %q", fn, vars["TABLE_NAME"], o.Table)
		}
		if vars["WS_MANAGEMENT_ENDPOINT"] != "http://host.docker.internal"+port {
			t.Errorf("%s: WS_MANAGEMENT_ENDPOINT %q", fn, vars["WS_MANAGEMENT_ENDPOINT"])
		}
		if _, set := vars[emulator.EnvLambdaEndpoint]; set {
			t.Errorf("%s: %s set without a Lambda endpoint", fn, emulator.EnvLambdaEndpoint)
		}
		if !strings.HasPrefix(vars["DYNAMODB_ENDPOINT"], "http://host.docker.internal:") {
			t.Errorf("%s: DYNAMODB_ENDPOINT %q", fn, vars["DYNAMODB_ENDPOINT"])
		}
	}
}

func TestSAMEnvFileNeedsDynamoDB(t *testing.T) {
	o := stores["bbolt"](t)
	o.SAMEnvFile = filepath.Join(t.TempDir(), "env.json")
	o.Addr, o.Root = "127.0.0.1:0", "../.."
	if _, err := emulator.Start(context.Background(), o); err == nil || !strings.Contains(err.Error(), "-store dynamodb") {
		t.Fatalf("Start with the embedded store and an env file: %v, want a refusal naming -store dynamodb", err)
	}
}

// TestFunctionEnv: a function process on this machine gets the loopback
// addresses that a container could not use.
func TestFunctionEnv(t *testing.T) {
	o := stores["dynamodb"](t)
	e := start(t, o)
	env, err := e.FunctionEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != 9 {
		t.Fatalf("env for %d functions, want 9", len(env))
	}
	for fn, vars := range env {
		if vars["TABLE_NAME"] != o.Table {
			t.Errorf("%s: TABLE_NAME %q, want %q", fn, vars["TABLE_NAME"], o.Table)
		}
		if vars["WS_MANAGEMENT_ENDPOINT"] != e.URL {
			t.Errorf("%s: WS_MANAGEMENT_ENDPOINT %q, want %q", fn, vars["WS_MANAGEMENT_ENDPOINT"], e.URL)
		}
		if vars["DYNAMODB_ENDPOINT"] != e.DynamoDBEndpoint {
			t.Errorf("%s: DYNAMODB_ENDPOINT %q, want %q", fn, vars["DYNAMODB_ENDPOINT"], e.DynamoDBEndpoint)
		}
		// In process, the functions reach no Lambda API.
		if v, set := vars[emulator.EnvLambdaEndpoint]; set {
			t.Errorf("%s: %s %q with the functions in process", fn, emulator.EnvLambdaEndpoint, v)
		}
	}
	// The functions that push name the fan-out function as the Lambda
	// Invoke API does locally: by its logical id.
	if got := env["SendMessageFunction"]["FANOUT_FUNCTION"]; got != "FanoutFunction" {
		t.Errorf("SendMessageFunction: FANOUT_FUNCTION %q, want FanoutFunction", got)
	}
	if _, err := start(t, stores["bbolt"](t)).FunctionEnv(); err == nil {
		t.Error("FunctionEnv with the embedded store: no error")
	}
}

// TestFunctionEnvLambdaEndpoint: functions invoked through a Lambda
// endpoint invoke the fan-out function there too, through the SDK's own
// endpoint variable.
func TestFunctionEnvLambdaEndpoint(t *testing.T) {
	o := stores["dynamodb"](t)
	o.LambdaEndpoint = "http://127.0.0.1:9"
	env, err := start(t, o).FunctionEnv()
	if err != nil {
		t.Fatal(err)
	}
	for fn, vars := range env {
		if got := vars[emulator.EnvLambdaEndpoint]; got != o.LambdaEndpoint {
			t.Errorf("%s: %s %q, want %q", fn, emulator.EnvLambdaEndpoint, got, o.LambdaEndpoint)
		}
	}
}
