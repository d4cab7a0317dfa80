package dynamolocal_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/logging"

	"github.com/chatroom/chat/internal/dynamolocal"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// sdkLog collects the SDK's log messages.
type sdkLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *sdkLog) Logf(c logging.Classification, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, string(c)+" "+fmt.Sprintf(format, v...))
}

func (l *sdkLog) matching(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.msgs {
		if strings.Contains(m, substr) {
			out = append(out, m)
		}
	}
	return out
}

var chatTable = &dynamodb.CreateTableInput{
	TableName:   aws.String("dynamolocal"),
	BillingMode: types.BillingModePayPerRequest,
	AttributeDefinitions: []types.AttributeDefinition{
		{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
	},
	KeySchema: []types.KeySchemaElement{
		{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
	},
}

// putAndGet does a PutItem/GetItem round trip and then a conditional PutItem
// that fails: DynamoDB Local's 4xx responses carry no x-amz-crc32 header.
func putAndGet(t *testing.T, client *dynamodb.Client, table string) {
	t.Helper()
	ctx := t.Context()
	item := map[string]types.AttributeValue{
		"pk":   &types.AttributeValueMemberS{Value: "room#1"},
		"text": &types.AttributeValueMemberS{Value: "héllo ✓"},
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"pk": item["pk"]},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	got, ok := out.Item["text"].(*types.AttributeValueMemberS)
	if !ok || got.Value != "héllo ✓" {
		t.Fatalf("GetItem returned %#v, want text %q", out.Item, "héllo ✓")
	}

	_, err = client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if _, ok := errors.AsType[*types.ConditionalCheckFailedException](err); !ok {
		t.Fatalf("conditional PutItem: got error %v, want ConditionalCheckFailedException", err)
	}
}

func TestRoundTripWithoutChecksumWarnings(t *testing.T) {
	var log sdkLog
	client := dynamolocaltest.Client(t, func(o *dynamodb.Options) { o.Logger = &log })
	if !client.Options().DisableValidateResponseChecksum {
		t.Error("NewClient left DisableValidateResponseChecksum off")
	}
	table := dynamolocaltest.NewTable(t, client, chatTable)
	if !strings.HasPrefix(table, "dynamolocal-") {
		t.Errorf("table name %q lacks the input's prefix", table)
	}
	putAndGet(t, client, table)
	if msgs := log.matching("checksum"); len(msgs) > 0 {
		t.Errorf("SDK logged checksum warnings:\n%s", strings.Join(msgs, "\n"))
	}
}

// TestChecksumWarningCanary shows why NewClient disables the SDK's CRC32
// check: with it on, DynamoDB Local's error responses make the SDK warn.
// When it stops warning, the workaround may be dropped.
func TestChecksumWarningCanary(t *testing.T) {
	var log sdkLog
	client := dynamolocaltest.Client(t, func(o *dynamodb.Options) {
		o.Logger = &log
		o.DisableValidateResponseChecksum = false
	})
	table := dynamolocaltest.NewTable(t, client, chatTable)
	putAndGet(t, client, table)
	if msgs := log.matching("did not match expected checksum"); len(msgs) > 0 {
		t.Logf("with checksum validation on, the SDK logged (as expected):\n%s", strings.Join(msgs, "\n"))
	} else {
		t.Logf("with checksum validation on, the SDK no longer warns; DisableValidateResponseChecksum in NewClient may be unnecessary now")
	}
}

var roomTable = &dynamodb.CreateTableInput{
	TableName:   aws.String("dynamolocal-room"),
	BillingMode: types.BillingModePayPerRequest,
	AttributeDefinitions: []types.AttributeDefinition{
		{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
		{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeN},
	},
	KeySchema: []types.KeySchemaElement{
		{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
		{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
	},
}

func putRow(ctx context.Context, client *dynamodb.Client, table, pk string, sk int, text string) error {
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			"pk":   &types.AttributeValueMemberS{Value: pk},
			"sk":   &types.AttributeValueMemberN{Value: strconv.Itoa(sk)},
			"text": &types.AttributeValueMemberS{Value: text},
		},
	})
	return err
}

func queryRows(ctx context.Context, client *dynamodb.Client, table, pk string, limit int32) (int, error) {
	out, err := client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return 0, err
	}
	return len(out.Items), nil
}

// slowConn pauses after each write, and reads at most 2 kB a millisecond.
// The pause after a write stands for a busy client whose net/http writeLoop
// goroutine waits for a CPU after sending a request: the server has
// answered, and the SDK has closed the request body, before net/http
// finishes the request. The slow reads keep a 100 kB response in flight
// for about 50 ms meanwhile.
type slowConn struct{ net.Conn }

func (c slowConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	time.Sleep(20 * time.Millisecond) // well below the 50 ms net/http waits for a write to end before reusing the connection
	return n, err
}

func (c slowConn) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return c.Conn.Read(p[:min(len(p), 2<<10)])
}

// TestQueriesWithoutDiscardWarnings forces the race behind the SDK warning
// "failed to discard remaining HTTP response body ... use of closed network
// connection" on every request: smithy-go's closed request body returns
// io.EOF from WriteTo, net/http took that for a failed write and closed the
// connection, here under a 100 kB Query response still being read. Without
// NewClient's bodyWithoutWriteTo, Queries fail with that error (the SDK
// would retry them) and the warning, and most requests need a new
// connection.
func TestQueriesWithoutDiscardWarnings(t *testing.T) {
	var dials atomic.Int64
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			dials.Add(1)
			return slowConn{conn}, nil
		}
	})
	var log sdkLog
	client := dynamolocaltest.Client(t, func(o *dynamodb.Options) {
		o.Logger = &log
		o.HTTPClient = httpClient
		o.Retryer = aws.NopRetryer{} // a failed attempt is an error here, not a hidden retry
	})

	// Set up with a client at full speed.
	fast := dynamolocaltest.Client(t)
	table := dynamolocaltest.NewTable(t, fast, roomTable)
	ctx := t.Context()
	text := strings.Repeat("x", 2000)
	for batch := range 2 {
		var writes []types.WriteRequest
		for i := range 25 {
			writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"pk":   &types.AttributeValueMemberS{Value: "room"},
				"sk":   &types.AttributeValueMemberN{Value: strconv.Itoa(25*batch + i)},
				"text": &types.AttributeValueMemberS{Value: text},
			}}})
		}
		out, err := fast.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: writes}})
		if err != nil {
			t.Fatalf("BatchWriteItem: %v", err)
		}
		if len(out.UnprocessedItems) > 0 {
			t.Fatalf("BatchWriteItem left items unprocessed: %v", out.UnprocessedItems)
		}
	}

	const rounds = 5
	for i := range rounds {
		if n, err := queryRows(ctx, client, table, "room", 50); err != nil || n != 50 {
			t.Errorf("Query %d: %d items, %v", i, n, err)
		}
		if err := putRow(ctx, client, table, "other", i, text); err != nil {
			t.Errorf("PutItem %d: %v", i, err)
		}
	}
	if msgs := log.matching("failed to discard"); len(msgs) > 0 {
		t.Errorf("SDK logged %d discard warnings:\n%s", len(msgs), strings.Join(msgs, "\n"))
	}
	// One connection serves them all; allow a second for a late timer.
	if n := dials.Load(); n > 2 {
		t.Errorf("%d sequential requests dialed %d connections, want 1: net/http dropped connections after sending requests", 2*rounds, n)
	}
}

// TestQueryBurstWithoutDiscardWarnings runs 50-item Queries (about 20 kB,
// which DynamoDB Local sends chunked) alongside writers through the default
// HTTP client, the pattern of the store's read benchmarks and
// concurrent-writer tests, and checks that the SDK neither warns nor
// retries. The race only shows here when the client is short of CPU;
// TestQueriesWithoutDiscardWarnings forces it.
func TestQueryBurstWithoutDiscardWarnings(t *testing.T) {
	var log sdkLog
	client := dynamolocaltest.Client(t, func(o *dynamodb.Options) {
		o.Logger = &log
		o.ClientLogMode |= aws.LogRetries
	})
	table := dynamolocaltest.NewTable(t, client, roomTable)
	ctx := t.Context()
	text := strings.Repeat("a message of about a hundred bytes, which is what people send in a chat room .. ", 4)
	for i := range 60 {
		if err := putRow(ctx, client, table, "room", i, text); err != nil {
			t.Fatalf("PutItem: %v", err)
		}
	}

	const readers, writers, rounds = 3, 2, 30
	var wg sync.WaitGroup
	errs := make(chan error, readers+writers)
	for r := range readers {
		wg.Go(func() {
			for range rounds {
				n, err := queryRows(ctx, client, table, "room", 50)
				if err == nil && n != 50 {
					err = fmt.Errorf("Query returned %d items, want 50", n)
				}
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
			}
		})
	}
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				if err := putRow(ctx, client, table, fmt.Sprint("writer", w), i, text); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if msgs := log.matching("failed to discard"); len(msgs) > 0 {
		t.Errorf("SDK logged %d discard warnings:\n%s", len(msgs), strings.Join(msgs, "\n"))
	}
	if msgs := log.matching("retrying request"); len(msgs) > 0 {
		t.Errorf("SDK retried %d requests:\n%s", len(msgs), strings.Join(msgs, "\n"))
	}
}

func TestNewTableDeletesTable(t *testing.T) {
	client := dynamolocaltest.Client(t)
	var name string
	t.Run("create", func(t *testing.T) {
		name = dynamolocaltest.NewTable(t, client, chatTable)
	})
	_, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if _, ok := errors.AsType[*types.ResourceNotFoundException](err); !ok {
		t.Fatalf("DescribeTable after the subtest ended: got error %v, want ResourceNotFoundException", err)
	}
}

// TestFetchConcurrently fetches into an empty directory from several
// goroutines at once; all must succeed with the same directory. It runs npm
// pack twice and unpacks 64 MB twice (about 10 s), so it only runs when
// DYNAMODB_LOCAL_TEST_FETCH=1. (The shared server's first start already
// fetches for real.)
func TestFetchConcurrently(t *testing.T) {
	if os.Getenv("DYNAMODB_LOCAL_TEST_FETCH") != "1" {
		t.Skip("skipping: set DYNAMODB_LOCAL_TEST_FETCH=1 to test fetching with npm")
	}
	if raceEnabled() {
		// Gunzipping 56 MB takes about 1 s normally but 15 s with -race.
		t.Skip("skipping with -race: unpacking is too slow under the race detector")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("npm not found: %v", err)
		}
		t.Skipf("skipping: npm not found: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "ddb")
	t.Setenv(dynamolocal.DirEnv, dir)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const n = 2
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = dynamolocal.Fetch(ctx, nil) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Fetch %d: %v", i, errs[i])
		}
		if dirs[i] != dir {
			t.Errorf("Fetch %d returned %s, want %s", i, dirs[i], dir)
		}
	}
	for _, f := range []string{"DynamoDBLocal.jar", "DynamoDBLocal_lib/libsqlite4java-linux-amd64.so"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".fetch-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary directories left behind: %v", leftovers)
	}

	// A second call finds the files without running npm.
	t.Setenv("PATH", "")
	if got, err := dynamolocal.Fetch(ctx, nil); err != nil || got != dir {
		t.Errorf("cached Fetch = %q, %v; want %q, nil", got, err, dir)
	}
}

func TestNewClientOptions(t *testing.T) {
	o := dynamolocal.NewClient("http://127.0.0.1:1", func(o *dynamodb.Options) { o.Region = "eu-west-1" }).Options()
	if !o.DisableValidateResponseChecksum {
		t.Error("DisableValidateResponseChecksum is off")
	}
	if got := aws.ToString(o.BaseEndpoint); got != "http://127.0.0.1:1" {
		t.Errorf("BaseEndpoint = %q", got)
	}
	if o.Region != "eu-west-1" {
		t.Errorf("option function not applied: Region = %q", o.Region)
	}
	creds, err := o.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID == "" {
		t.Errorf("credentials = %+v, %v", creds, err)
	}
}

func TestStartWithoutJar(t *testing.T) {
	_, err := dynamolocal.Start(t.Context(), t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "DynamoDBLocal.jar") {
		t.Fatalf("Start in an empty dir: err = %v, want one naming DynamoDBLocal.jar", err)
	}
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
