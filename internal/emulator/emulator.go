// Package emulator runs the whole chat on one machine: the store (the
// embedded bbolt file, or DynamoDB Local), the functions' handlers wired
// exactly as in Lambda, and the API Gateway stand-in in front of them,
// driven by template.yaml. `make run` is this.
package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/chatroom/chat/internal/app"
	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/dynamolocal"
	"github.com/chatroom/chat/internal/gateway"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/sdkhttp"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/boltstore"
	"github.com/chatroom/chat/internal/store/dynamostore"
	"github.com/chatroom/chat/internal/wsapi"
)

// Options configure a run.
type Options struct {
	// Addr to listen on, e.g. "localhost:3000" or "127.0.0.1:0".
	Addr string
	// Root is the project directory: template.yaml, Makefile, web/.
	Root string
	// DataDir holds the embedded store's file.
	DataDir string
	// Store is "bolt" (default) or "dynamodb".
	Store string
	// DynamoDBEndpoint uses a running DynamoDB Local instead of starting
	// one (Store "dynamodb").
	DynamoDBEndpoint string
	// Table is the DynamoDB table (created if missing).
	Table string
	// LambdaEndpoint invokes the functions through the Lambda Invoke API
	// there (`sam local start-lambda`) instead of in this process.
	LambdaEndpoint string
	// Instances runs each function in process as that many instances
	// (0 or 1: one), as Lambda scales out: each has its own handlers and
	// room service, and they share only the store and the management API.
	// Invocations take turns among them.
	Instances int
	// OrderWait replaces rooms.MaxOrderWait, how long a delivery waits
	// for a stuck predecessor (tests on a loaded machine).
	OrderWait time.Duration
	// ShardSize, when set, pushes rooms of more connections in shards of
	// that many, each by an in-process invocation of the fan-out
	// function. Off by default: in one process the shards share the same
	// cores, so splitting gains nothing and costs a hand-off, a wait and a
	// mark per shard (one side-by-side run at 500 connections: 61,341
	// deliveries/s sharded, 88,545 before shards existed, within this
	// machine's noise of a run to the next). Functions under the Lambda
	// RIE (LambdaEndpoint) shard as in the cloud.
	ShardSize int
	// SAMEnvFile, when set, receives the environment for `sam local
	// start-lambda --env-vars`: each function pointed at this emulator and
	// at DynamoDB Local as seen from a container.
	SAMEnvFile string
	// DirectPush writes frames straight to the sockets instead of through
	// the management API (a fast mode for benchmarks).
	DirectPush bool
	// SendLimit is each connection's send limit in messages a second: 0
	// keeps the cloud's (wsapi.SendRate), negative turns it off for load
	// tests.
	SendLimit int
	Verbose   bool
	Logger    *slog.Logger
	// Auth overrides the auth configuration (tests use cheap hashing).
	Auth *auth.Config
	// IdleTimeout and MaxConnectionTime override API Gateway's limits.
	IdleTimeout, MaxConnectionTime time.Duration
	// ReadHeaderTimeout (default 10 s) and BodyReadTimeout (default
	// gateway.BodyReadTimeout, 30 s) bound how long a client may take to
	// send a request's headers and then its body; tests shorten them.
	ReadHeaderTimeout, BodyReadTimeout time.Duration
	// DynamoDBOptions and ManagementAPIOptions are applied to the SDK
	// clients the handlers use (Store "dynamodb"; DirectPush off), e.g. to
	// meter what they ask of AWS.
	DynamoDBOptions      []func(*dynamodb.Options)
	ManagementAPIOptions []func(*apigatewaymanagementapi.Options)
	// ManagementRate, when positive, throttles the management API to that
	// many calls a second across the account, with bursts of
	// ManagementBurst (default: one second's worth); past it calls are
	// answered 429 LimitExceededException. AWS documents no rate for the
	// management API; API Gateway's account-level throttle, 10,000 a
	// second with bursts of 5,000, is the nearest figure. Zero, the
	// default, does not throttle: the load runs aim past that rate, and
	// direct push is not the management API at all.
	ManagementRate  float64
	ManagementBurst int
	// ManagementLatency and ManagementJitter hold each management API
	// call that long plus up to the jitter more, as the round trip to API
	// Gateway does in the cloud (the simulated cloud's default is 20 ms).
	ManagementLatency, ManagementJitter time.Duration
	// DropDisconnect, when set, is asked at each close whether to skip the
	// connection's $disconnect: a fault for tests, since API Gateway runs
	// $disconnect on a best-effort basis only.
	DropDisconnect func(connectionID string) bool
	// ConnectGrace, when positive, replaces wsapi.ConnectGrace, how young
	// a socket a push finds gone is left to its $disconnect: a test that
	// loses the $disconnect of a socket it just opened uses a short one.
	ConnectGrace time.Duration
}

// Bounds on slow clients, which would otherwise hold a connection and its
// goroutine for ever.
const (
	// ReadHeaderTimeout bounds sending a request's headers; past it the
	// connection is closed.
	ReadHeaderTimeout = 10 * time.Second
	// KeepAliveTimeout bounds how long a connection may sit idle between
	// two requests.
	KeepAliveTimeout = time.Minute
)

// Emulator is a running chat.
type Emulator struct {
	// URL is the base address, e.g. http://127.0.0.1:3000.
	URL string
	// DynamoDBEndpoint is the DynamoDB Local in use, if any;
	// DynamoDBLocalPID its process's id when the emulator started it.
	DynamoDBEndpoint string
	DynamoDBLocalPID int
	// LambdaEndpoint is Options.LambdaEndpoint: where the functions,
	// when they run outside this process, invoke one another.
	LambdaEndpoint string
	Gateway        *gateway.Gateway
	Store          store.Store
	// Routes is what template.yaml declares, each function's environment
	// pointed at this emulator.
	Routes  *gateway.Routes
	server  *http.Server
	done    chan error
	closers []func() error
	once    sync.Once
	shards  *shardPool
}

// Start brings the chat up and returns once it is serving.
func Start(ctx context.Context, o Options) (_ *Emulator, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Emulator{done: make(chan error, 1)}
	defer func() {
		if err != nil {
			e.closeAll()
		}
	}()
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen on %s: %w", o.Addr, err)
	}
	e.closers = append(e.closers, func() error { return ignoreClosed(ln.Close()) })
	e.URL = "http://" + ln.Addr().String()
	e.LambdaEndpoint = o.LambdaEndpoint

	st, tableName, err := e.openStore(ctx, o)
	if err != nil {
		return nil, err
	}
	e.Store = st
	routes, err := gateway.LoadRoutes(filepath.Join(o.Root, "template.yaml"), filepath.Join(o.Root, "Makefile"), gateway.Resolve{
		"ChatTable": tableName, "WebSocketApi": "local", "StageName": "local",
		"AWS::Region": "us-east-1", "AWS::AccountId": "000000000000", "AWS::Partition": "aws", "AWS::StackName": "chat",
	})
	if err != nil {
		return nil, fmt.Errorf("emulator: template.yaml: %w", err)
	}
	e.Routes = routes
	// Every function must be able to start with the environment the
	// template gives it, pointed here instead of at AWS.
	for _, fn := range routes.Functions {
		fn.Env[app.EnvManagementEndpoint] = e.URL
		if _, err := app.ConfigFromEnv(func(k string) string { return fn.Env[k] }); err != nil {
			return nil, fmt.Errorf("emulator: function %s: %w", fn.LogicalID, err)
		}
	}

	// The pusher must exist before the gateway, and the direct one needs
	// the gateway: a small indirection breaks the cycle.
	var pusher push.Pusher
	lazy := &lazyPusher{}
	management := &lazyManagementClient{}
	if o.DirectPush {
		pusher = lazy
	} else {
		// The SDK client the cloud uses, posting to this gateway in process
		// (nothing but its HTTP client differs), unsigned: the gateway checks
		// no signature on its in-process client, and signing is a good part
		// of a post's cost (internal/gateway's BenchmarkPostToConnection).
		optFns := append([]func(*apigatewaymanagementapi.Options){func(o *apigatewaymanagementapi.Options) { o.HTTPClient = management }}, o.ManagementAPIOptions...)
		client := push.NewClient(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}}, e.URL, optFns...)
		if pusher, err = push.NewManagementAPI(client, o.Logger); err != nil {
			return nil, err
		}
	}
	authCfg := auth.DefaultConfig()
	if o.Auth != nil {
		authCfg = *o.Auth
	}
	var wsOpts []wsapi.Option
	if o.SendLimit != 0 {
		wsOpts = append(wsOpts, wsapi.WithSendRate(max(o.SendLimit, 0)))
	}
	if o.ConnectGrace > 0 {
		wsOpts = append(wsOpts, wsapi.WithConnectGrace(o.ConnectGrace))
	}
	shards := newShardPool()
	e.shards = shards
	if o.ShardSize > 0 {
		wsOpts = append(wsOpts, wsapi.WithFanout(shards, o.ShardSize))
	}
	var instances []gateway.Invoker
	for range max(o.Instances, 1) {
		a, err := app.NewLocal(st, pusher, authCfg, o.Logger, wsOpts...)
		if err != nil {
			return nil, err
		}
		handlers, err := a.Functions()
		if err != nil {
			return nil, err
		}
		if err := routes.Check(handlers); err != nil {
			return nil, fmt.Errorf("emulator: template.yaml and the handlers disagree: %w", err)
		}
		instances = append(instances, gateway.NewInProcess(handlers))
		shards.instances = append(shards.instances, a.Sockets)
		a.Rooms.SetOrderWait(o.OrderWait)
	}
	if o.SAMEnvFile != "" {
		if err := writeSAMEnv(o.SAMEnvFile, routes, e.URL, e.DynamoDBEndpoint, o.LambdaEndpoint); err != nil {
			return nil, err
		}
	}
	invoker := instances[0]
	if len(instances) > 1 {
		invoker = &roundRobin{instances: instances}
	}
	if o.LambdaEndpoint != "" {
		client := awslambda.New(awslambda.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(o.LambdaEndpoint),
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
			HTTPClient:  sdkhttp.Wrap(nil),
		})
		invoker = gateway.NewRemote(client)
	}
	gw, err := gateway.New(gateway.Config{
		Routes: routes, Invoker: invoker, WebDir: filepath.Join(o.Root, "web"), Stage: "local",
		Logger: o.Logger, Verbose: o.Verbose, IdleTimeout: o.IdleTimeout, MaxConnectionTime: o.MaxConnectionTime,
		BodyReadTimeout: o.BodyReadTimeout,
		// Calls from the network must be signed, as in the cloud. The
		// handlers in this process post through the in-process client,
		// which is not checked; functions in `sam local` containers
		// (-lambda-endpoint, -sam-env-vars) post over HTTP, unsigned
		// (internal/app's choice for a local endpoint), so there the
		// check is off.
		ManagementAuth: o.LambdaEndpoint == "" && o.SAMEnvFile == "",
		ManagementRate: o.ManagementRate, ManagementBurst: o.ManagementBurst,
		ManagementLatency: o.ManagementLatency, ManagementJitter: o.ManagementJitter,
		DropDisconnect: o.DropDisconnect,
	})
	if err != nil {
		return nil, err
	}
	lazy.target = gateway.Direct{Gateway: gw}
	management.target = gw.ManagementClient()
	e.Gateway = gw
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = ReadHeaderTimeout
	}
	// No ReadTimeout or WriteTimeout: they would hold for the whole life
	// of a connection, and a WebSocket's lasts up to two hours. The body's
	// bound is the gateway's, per request.
	e.server = &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: o.ReadHeaderTimeout, IdleTimeout: KeepAliveTimeout}
	go func() { e.done <- e.server.Serve(ln) }()
	o.Logger.Info("chat is running", "url", e.URL, "store", storeName(o), "functions", len(routes.Functions),
		"http_routes", len(routes.HTTP), "websocket_routes", len(routes.WebSocket))
	return e, nil
}

func storeName(o Options) string {
	if o.Store == "" {
		return "bolt"
	}
	return o.Store
}

func (e *Emulator) openStore(ctx context.Context, o Options) (store.Store, string, error) {
	switch storeName(o) {
	case "bolt":
		st, err := boltstore.Open(filepath.Join(o.DataDir, boltstore.DefaultFile))
		if err != nil {
			return nil, "", err
		}
		e.closers = append(e.closers, st.Close)
		return st, "chat", nil
	case "dynamodb":
		endpoint := o.DynamoDBEndpoint
		if endpoint == "" {
			dir, err := dynamolocal.Fetch(ctx, o.Logger)
			if err != nil {
				return nil, "", err
			}
			srv, err := dynamolocal.Start(ctx, dir, o.Logger)
			if err != nil {
				return nil, "", err
			}
			e.closers = append(e.closers, srv.Stop)
			endpoint, e.DynamoDBLocalPID = srv.Endpoint, srv.PID()
		}
		table := o.Table
		if table == "" {
			table = "chat"
		}
		e.DynamoDBEndpoint = endpoint
		client := dynamolocal.NewClient(endpoint, o.DynamoDBOptions...)
		if err := dynamostore.EnsureTable(ctx, client, table); err != nil {
			return nil, "", err
		}
		st, err := dynamostore.New(client, table, o.Logger)
		return st, table, err
	}
	return nil, "", fmt.Errorf("emulator: unknown store %q: use bolt or dynamodb", o.Store)
}

// lazyPusher forwards to a pusher set after construction.
type lazyPusher struct{ target push.Pusher }

func (l *lazyPusher) Post(ctx context.Context, ids []string, frame []byte) push.Result {
	return l.target.Post(ctx, ids, frame)
}

func (l *lazyPusher) Disconnect(ctx context.Context, id string) error {
	return l.target.Disconnect(ctx, id)
}

// lazyManagementClient forwards the SDK's requests to the gateway's
// in-process management API client, set once the gateway exists.
type lazyManagementClient struct{ target gateway.ManagementClient }

func (l *lazyManagementClient) Do(req *http.Request) (*http.Response, error) { return l.target.Do(req) }

// Wait blocks until the server stops.
func (e *Emulator) Wait() error { return ignoreClosed(<-e.done) }

// Shutdown closes every socket (each gets its $disconnect), stops serving,
// and closes the store, so nothing acknowledged is lost.
func (e *Emulator) Shutdown(ctx context.Context) error {
	var errs []error
	e.once.Do(func() {
		errs = append(errs, e.Gateway.Shutdown(ctx))
		errs = append(errs, e.server.Shutdown(ctx))
		errs = append(errs, e.shards.wait(ctx))
		errs = append(errs, e.closeAll())
	})
	return errors.Join(errs...)
}

func (e *Emulator) closeAll() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	e.closers = nil
	return errors.Join(errs...)
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// containerHost is how a container of `sam local start-lambda` reaches this
// machine (start it with --add-host host.docker.internal:host-gateway).
const containerHost = "host.docker.internal"

// writeSAMEnv writes the --env-vars file of `sam local start-lambda`: the
// template's environment of each function, with the AWS endpoints swapped
// for this emulator and DynamoDB Local, as a container sees them.
func writeSAMEnv(path string, routes *gateway.Routes, url, dynamoEndpoint, lambdaEndpoint string) error {
	if dynamoEndpoint == "" {
		return errors.New("emulator: SAM's containers cannot open the embedded store; use -store dynamodb with -sam-env-vars")
	}
	if lambdaEndpoint != "" {
		lambdaEndpoint = toContainer(lambdaEndpoint)
	}
	raw, err := json.MarshalIndent(functionEnv(routes, toContainer(url), toContainer(dynamoEndpoint), lambdaEndpoint), "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	return nil
}

// FunctionEnv gives each function's environment, by logical id, for a
// function process on this machine (under the Lambda Runtime Interface
// Emulator, say): the template's, with the management API at this
// emulator, the store at its DynamoDB Local and, with a LambdaEndpoint,
// the Lambda Invoke API there (for the fan-out function), by their
// loopback addresses. It needs Store "dynamodb": another process cannot
// open the embedded store.
func (e *Emulator) FunctionEnv() (map[string]map[string]string, error) {
	if e.DynamoDBEndpoint == "" {
		return nil, errors.New("emulator: function processes cannot open the embedded store; use Store \"dynamodb\"")
	}
	return functionEnv(e.Routes, e.URL, e.DynamoDBEndpoint, e.LambdaEndpoint), nil
}

// EnvLambdaEndpoint is the AWS SDK's own variable for the Lambda API's
// endpoint (a service-specific AWS_ENDPOINT_URL_<service>), which
// config.LoadDefaultConfig reads: a function invokes the fan-out function
// there instead of at AWS.
const EnvLambdaEndpoint = "AWS_ENDPOINT_URL_LAMBDA"

// functionEnv is the template's environment of each function with the AWS
// endpoints swapped for these; lambdaEndpoint may be empty (the functions
// run in this process).
func functionEnv(routes *gateway.Routes, managementEndpoint, dynamoEndpoint, lambdaEndpoint string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for id, fn := range routes.Functions {
		env := maps.Clone(fn.Env)
		env[app.EnvManagementEndpoint] = managementEndpoint
		env[app.EnvDynamoDBEndpoint] = dynamoEndpoint
		if lambdaEndpoint != "" {
			env[EnvLambdaEndpoint] = lambdaEndpoint
		}
		out[id] = env
	}
	return out
}

func toContainer(endpoint string) string {
	for _, local := range []string{"127.0.0.1", "localhost", "[::1]"} {
		endpoint = strings.Replace(endpoint, "://"+local, "://"+containerHost, 1)
	}
	return endpoint
}

// roundRobin hands each invocation to the next of several instances.
type roundRobin struct {
	instances []gateway.Invoker
	next      atomic.Uint64
}

func (r *roundRobin) Invoke(ctx context.Context, fn *gateway.Function, event []byte) ([]byte, error) {
	i := r.next.Add(1) % uint64(len(r.instances))
	return r.instances[i].Invoke(ctx, fn, event)
}
