// Package app is the composition root: it builds the store, the push
// client, the use cases and the handlers, once per process. NewCloud wires
// them for Lambda from the environment (DynamoDB, the API Gateway
// management API, the fan-out function's Invoke API); NewLocal wires the
// same core around a store and a pusher the caller already has (the local
// emulator, tests).
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/awsmeter"
	"github.com/chatroom/chat/internal/dynamolocal"
	"github.com/chatroom/chat/internal/fanout"
	"github.com/chatroom/chat/internal/httpapi"
	"github.com/chatroom/chat/internal/iamactions"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/sdkhttp"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/dynamostore"
	"github.com/chatroom/chat/internal/wsapi"
)

// Environment variables the functions read; template.yaml sets them.
const (
	EnvTableName          = "TABLE_NAME"
	EnvManagementEndpoint = "WS_MANAGEMENT_ENDPOINT"
	// EnvFanoutFunction names the fan-out function, which big rooms'
	// frames are handed to in shards; without it (an older stack, the
	// fan-out function itself) a function pushes every frame itself.
	// Locally the Lambda SDK finds the Invoke API through its own
	// AWS_ENDPOINT_URL_LAMBDA.
	EnvFanoutFunction = "FANOUT_FUNCTION"
	// EnvDynamoDBEndpoint points the store at DynamoDB Local instead of AWS.
	EnvDynamoDBEndpoint = "DYNAMODB_ENDPOINT"
	EnvLogLevel         = "LOG_LEVEL"
	// EnvFunctionName is set by Lambda itself.
	EnvFunctionName = "AWS_LAMBDA_FUNCTION_NAME"
	// EnvActionsLog, for tests only, names a file that records the IAM
	// actions the function's DynamoDB calls need (internal/iamactions).
	EnvActionsLog = "CHAT_ACTIONS_LOG"
	// EnvMeterDir, for the simulated cloud only, names a directory where
	// the process writes, every 100 ms while they change, the requests,
	// DynamoDB capacity and posts it has used (internal/awsmeter), in a
	// file of its own.
	EnvMeterDir = "CHAT_METER_DIR"
)

// Config is what a function needs from its environment.
type Config struct {
	TableName          string
	ManagementEndpoint string
	DynamoDBEndpoint   string
	// FanoutFunction, when set, is the function big rooms are pushed by
	// in shards.
	FanoutFunction string
	// FunctionName names the function in its metrics; empty outside
	// Lambda.
	FunctionName string
	// ActionsLog, when set, records the IAM actions of every DynamoDB
	// call there.
	ActionsLog string
	// MeterDir, when set, receives what the process asked of AWS.
	MeterDir string
	LogLevel slog.Level
}

// ConfigFromEnv reads the configuration and reports every problem at once.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TableName:          getenv(EnvTableName),
		ManagementEndpoint: getenv(EnvManagementEndpoint),
		DynamoDBEndpoint:   getenv(EnvDynamoDBEndpoint),
		FanoutFunction:     getenv(EnvFanoutFunction),
		FunctionName:       getenv(EnvFunctionName),
		ActionsLog:         getenv(EnvActionsLog),
		MeterDir:           getenv(EnvMeterDir),
	}
	var errs []error
	if c.TableName == "" {
		errs = append(errs, fmt.Errorf("%s is not set", EnvTableName))
	}
	if c.ManagementEndpoint == "" {
		errs = append(errs, fmt.Errorf("%s is not set", EnvManagementEndpoint))
	} else if !strings.HasPrefix(c.ManagementEndpoint, "https://") && !strings.HasPrefix(c.ManagementEndpoint, "http://") {
		errs = append(errs, fmt.Errorf("%s must be an http(s) URL", EnvManagementEndpoint))
	}
	if lvl := getenv(EnvLogLevel); lvl != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvLogLevel, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("app: configuration: %w", err)
	}
	return c, nil
}

// meterInterval is how often a metered process writes its counts.
const meterInterval = 100 * time.Millisecond

// App holds everything a process serves with.
type App struct {
	Store    store.Store
	Auth     *auth.Service
	Rooms    *rooms.Service
	Notifier *wsapi.Notifier
	Sockets  *wsapi.Handlers
	Logger   *slog.Logger
}

// NewCloud wires the app for Lambda: DynamoDB, the management API and,
// when the configuration names it, the fan-out function.
func NewCloud(ctx context.Context, c Config, logger *slog.Logger) (*App, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("app: AWS configuration: %w", err)
	}
	awsCfg.HTTPClient = sdkhttp.Wrap(awsCfg.HTTPClient)
	var dbOpts []func(*dynamodb.Options)
	var lambdaOpts []func(*awslambda.Options)
	if c.ActionsLog != "" {
		rec, err := iamactions.NewRecorder(c.ActionsLog)
		if err != nil {
			return nil, err
		}
		dbOpts = append(dbOpts, rec.DynamoDB)
		lambdaOpts = append(lambdaOpts, rec.Lambda)
	}
	var mgmtOpts []func(*apigatewaymanagementapi.Options)
	if c.MeterDir != "" {
		// Instances of one function share the directory, and each may
		// have its own pid namespace: a random name keeps them apart.
		path := filepath.Join(c.MeterDir, rand.Text()+".json")
		// Billed as DynamoDB bills, not as DynamoDB Local reports.
		meter := awsmeter.New(awsmeter.Config{TransactWritesFromItemSizes: true})
		dbOpts = append(dbOpts, meter.DynamoDB)
		mgmtOpts = append(mgmtOpts, meter.ManagementAPI)
		// The process lives as long as Lambda keeps it; so does this.
		go meter.WriteEvery(context.WithoutCancel(ctx), path, meterInterval, func(err error) {
			logger.Warn("cannot write the meter file", "error", err.Error())
		})
	}
	var db *dynamodb.Client
	if c.DynamoDBEndpoint != "" {
		db = dynamolocal.NewClient(c.DynamoDBEndpoint, dbOpts...)
	} else {
		db = dynamodb.NewFromConfig(awsCfg, dbOpts...)
	}
	st, err := dynamostore.New(db, c.TableName, logger)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(c.ManagementEndpoint, "http://") {
		// A local endpoint (the emulator) wants a signed call, as API
		// Gateway does, but checks no key: a developer's machine may
		// have no AWS credentials at all.
		awsCfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
		if awsCfg.Region == "" {
			awsCfg.Region = "us-east-1"
		}
	}
	pusher, err := push.NewManagementAPI(push.NewClient(awsCfg, c.ManagementEndpoint, mgmtOpts...), logger)
	if err != nil {
		return nil, err
	}
	// Lambda names the function in the environment; the push metrics
	// carry it as their Function dimension.
	pusher.ForFunction(c.FunctionName)
	var opts []wsapi.Option
	if c.FanoutFunction != "" {
		// The endpoint is the SDK's to find: AWS's by default, the local
		// router's where AWS_ENDPOINT_URL_LAMBDA says so.
		d, err := fanout.NewLambda(awslambda.NewFromConfig(awsCfg, lambdaOpts...), c.FanoutFunction)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		opts = append(opts, wsapi.WithFanout(d, 0))
	}
	return NewLocal(st, pusher, auth.DefaultConfig(), logger, opts...)
}

// NewLocal wires the app around a store and a pusher; opts tune the
// WebSocket handlers.
func NewLocal(st store.Store, p push.Pusher, authCfg auth.Config, logger *slog.Logger, opts ...wsapi.Option) (*App, error) {
	a, err := auth.NewService(st, authCfg, logger)
	if err != nil {
		return nil, err
	}
	rs, err := rooms.NewService(st, logger, authCfg.Now, nil)
	if err != nil {
		return nil, err
	}
	ws, err := wsapi.New(a, rs, st, p, logger, authCfg.Now, opts...)
	if err != nil {
		return nil, err
	}
	n, err := wsapi.NewNotifier(ws)
	if err != nil {
		return nil, err
	}
	return &App{Store: st, Auth: a, Rooms: rs, Notifier: n, Sockets: ws, Logger: logger}, nil
}

// AuthAPI is the auth function's handler.
func (a *App) AuthAPI() (*httpapi.Handler, error) {
	return httpapi.NewAuthAPI(a.Auth, a.Notifier, a.Logger)
}

// RoomsAPI is the rooms function's handler.
func (a *App) RoomsAPI() (*httpapi.Handler, error) {
	return httpapi.NewRoomsAPI(a.Auth, a.Rooms, a.Notifier, a.Logger)
}

// NewLogger is the functions' logger: JSON lines on stdout, which Lambda
// sends to CloudWatch.
func NewLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
}

// Functions names every Lambda function of the stack by its directory
// under functions/, with the handler it serves. The functions' main.go
// and the local emulator both take their handlers from here, so the two
// cannot drift apart.
func (a *App) Functions() (map[string]any, error) {
	authAPI, err := a.AuthAPI()
	if err != nil {
		return nil, err
	}
	roomsAPI, err := a.RoomsAPI()
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"auth":         authAPI.Handle,
		"rooms":        roomsAPI.Handle,
		"connect":      a.Sockets.Connect,
		"disconnect":   a.Sockets.Disconnect,
		"join_room":    a.Sockets.JoinRoom,
		"send_message": a.Sockets.Messages,
		"leave_room":   a.Sockets.LeaveRoom,
		"default":      a.Sockets.Default,
		"fanout":       a.Sockets.DeliverShard,
	}, nil
}

// Start is a function's main: it wires the app from the environment and
// serves Lambda invocations with the named function's handler. A
// configuration error ends the process with one log line saying what.
func Start(function string) {
	ctx := context.Background()
	c, err := ConfigFromEnv(os.Getenv)
	logger := NewLogger(c.LogLevel).With("function", function)
	if err != nil {
		logger.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	a, err := NewCloud(ctx, c, logger)
	if err != nil {
		logger.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	handlers, err := a.Functions()
	if err != nil {
		logger.Error("cannot start", "error", err.Error())
		os.Exit(1)
	}
	h, ok := handlers[function]
	if !ok {
		logger.Error("cannot start: no such function")
		os.Exit(1)
	}
	lambda.Start(h)
}
