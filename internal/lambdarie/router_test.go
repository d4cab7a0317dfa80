package lambdarie_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/chatroom/chat/internal/lambdarie"
)

// fakeRIE answers as an RIE does: a handler's answer as is, a failed
// invocation 200 with Error-Type.
func fakeRIE(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != lambdarie.InvokePath {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch string(body) {
		case `"fail"`:
			w.Header().Set("Error-Type", "Runtime.Unknown")
			_, _ = w.Write([]byte(`{"errorMessage":"boom","errorType":"errorString"}`))
		case `"busy"`:
			w.Header().Set("Error-Type", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"echo":` + string(body) + `}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func lambdaClient(url string) *awslambda.Client {
	return awslambda.New(awslambda.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		// One attempt: the answers under test, not the SDK's retries.
		RetryMaxAttempts: 1,
	})
}

// TestRouter: the SDK's Lambda client, as the emulator uses it, sees each
// function's answers through the router as it would see Lambda's.
func TestRouter(t *testing.T) {
	router := lambdarie.NewRouter(nil, nil)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	client := lambdaClient(srv.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// Invocations wait until the RIEs are known.
	done := make(chan *awslambda.InvokeOutput, 1)
	go func() {
		out, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), Payload: []byte(`1`)})
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	select {
	case <-done:
		t.Fatal("an invocation was answered before the router knew its function")
	case <-time.After(100 * time.Millisecond):
	}
	router.Set(map[string]string{"EchoFunction": fakeRIE(t).URL})
	if out := <-done; out == nil || string(out.Payload) != `{"echo":1}` || out.FunctionError != nil {
		t.Fatalf("first invocation: %+v", out)
	}

	out, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), Payload: []byte(`"fail"`)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "boom") {
		t.Errorf("failed invocation: FunctionError %q, payload %s; want Unhandled and the error", aws.ToString(out.FunctionError), out.Payload)
	}

	_, err = client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("NoSuchFunction"), Payload: []byte(`1`)})
	if _, ok := errors.AsType[*types.ResourceNotFoundException](err); !ok {
		t.Errorf("unknown function: %v, want ResourceNotFoundException", err)
	}

	_, err = client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), Payload: []byte(`"busy"`)})
	if _, ok := errors.AsType[*types.TooManyRequestsException](err); !ok {
		t.Errorf("busy RIE: %v, want TooManyRequestsException", err)
	}

	_, err = client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), Payload: []byte(`1`), InvocationType: types.InvocationTypeEvent})
	if _, ok := errors.AsType[*types.InvalidParameterValueException](err); !ok {
		t.Errorf("asynchronous invocation: %v, want InvalidParameterValueException", err)
	}
}
