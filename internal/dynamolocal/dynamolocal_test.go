package dynamolocal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
