// Command rebuild replays every room stream and reports each projection
// (room head, members, a user's room list) that differs from the replay;
// with -repair it overwrites them with the replay.
//
//	go run ./infra/rebuild -data .data -verify
//	go run ./infra/rebuild -store dynamodb -table chat -repair
//
// It exits 1 when -verify finds differences. Run it while the chat is
// stopped: a repair racing live appends may write a stale head.
//
// -migrate-presence (DynamoDB) moves the presence of sockets joined before
// the rooms' rosters existed into them, once, after deploying the roster;
// it is safe beside live traffic.
//
//	go run ./infra/rebuild -store dynamodb -table chat -migrate-presence
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/chatroom/chat/internal/dynamolocal"
	"github.com/chatroom/chat/internal/rebuild"
	"github.com/chatroom/chat/internal/store/boltstore"
	"github.com/chatroom/chat/internal/store/dynamostore"
)

func main() {
	kind := flag.String("store", "bolt", "bolt (the embedded file) or dynamodb")
	data := flag.String("data", ".data", "the embedded store's directory")
	table := flag.String("table", "chat", "the DynamoDB table")
	endpoint := flag.String("endpoint", "", "a DynamoDB Local endpoint, e.g. http://127.0.0.1:8000 (default: AWS, credentials from the environment)")
	verify := flag.Bool("verify", false, "report differences only")
	repair := flag.Bool("repair", false, "report and repair differences")
	migrate := flag.Bool("migrate-presence", false, "DynamoDB: move presence written before the rooms' rosters into them")
	flag.Parse()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if *migrate {
		if err := migratePresence(context.Background(), logger, *kind, *table, *endpoint); err != nil {
			logger.Error("presence not moved", "error", err)
			os.Exit(1)
		}
		return
	}
	if *verify == *repair {
		fmt.Fprintln(os.Stderr, "rebuild: give exactly one of -verify and -repair")
		os.Exit(2)
	}
	code, err := run(context.Background(), logger, *kind, *data, *table, *endpoint, *repair)
	if err != nil {
		logger.Error("rebuild failed", "error", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(ctx context.Context, logger *slog.Logger, kind, data, table, endpoint string, repair bool) (int, error) {
	var s interface {
		rebuild.Store
		Close() error
	}
	switch kind {
	case "bolt":
		b, err := boltstore.Open(filepath.Join(data, boltstore.DefaultFile))
		if err != nil {
			return 0, err
		}
		s = b
	case "dynamodb":
		d, err := openDynamo(ctx, logger, table, endpoint)
		if err != nil {
			return 0, err
		}
		s = d
	default:
		return 0, fmt.Errorf("unknown store %q: use bolt or dynamodb", kind)
	}
	defer s.Close()
	rep, err := rebuild.Run(ctx, s, repair)
	for _, d := range rep.Differences {
		fmt.Println(d)
	}
	fmt.Printf("%d rooms, %d events, %d users: %d differences, %d rooms repaired\n", rep.Rooms, rep.Events, rep.Users, len(rep.Differences), rep.Repaired)
	if err != nil {
		return 0, err
	}
	if !repair && len(rep.Differences) > 0 {
		return 1, nil
	}
	return 0, nil
}

func openDynamo(ctx context.Context, logger *slog.Logger, table, endpoint string) (*dynamostore.Store, error) {
	var client *dynamodb.Client
	if endpoint != "" {
		client = dynamolocal.NewClient(endpoint)
	} else {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS config: %w", err)
		}
		client = dynamodb.NewFromConfig(cfg)
	}
	return dynamostore.New(client, table, logger)
}

func migratePresence(ctx context.Context, logger *slog.Logger, kind, table, endpoint string) error {
	if kind != "dynamodb" {
		return fmt.Errorf("-migrate-presence is for -store dynamodb: the embedded store keeps presence in memory")
	}
	d, err := openDynamo(ctx, logger, table, endpoint)
	if err != nil {
		return err
	}
	done, err := d.MigratePresence(ctx)
	fmt.Printf("%d sockets moved into rosters, %d lapsed ones dropped, %d noted as away from rooms they have not joined\n", done.Moved, done.Dropped, done.Away)
	return err
}
