package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/store"
)

// MigratePresence moves presence written before the roster (one item per
// joined connection, ROOM#<room> / CONN#<id>, which nothing reads any more)
// into the rooms' rosters, so that a deployment upgraded across the change
// keeps pushing to the sockets joined before it. Each item moves in one
// transaction with the roster entry, the head's count and the
// connection's link, conditioned on the old item still being there, so a
// second run, or one racing a leave or a $disconnect, moves nothing twice.
// Lapsed items are deleted. It scans the whole table: for the rebuild
// tool, never for a request.
func (st *Store) MigratePresence(ctx context.Context) (moved, dropped int, err error) {
	in := &dynamodb.ScanInput{
		TableName:                 st.table,
		FilterExpression:          aws.String("begins_with(PK, :room) AND begins_with(SK, :conn)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":room": s("ROOM#"), ":conn": s("CONN#")},
	}
	now := time.Now()
	for {
		res, err := st.db.Scan(ctx, in)
		if err != nil {
			return moved, dropped, fmt.Errorf("dynamostore: scan for presence: %w", err)
		}
		for _, raw := range res.Items {
			old := item(raw)
			roomID, connID := strings.TrimPrefix(old.str(AttrPK), "ROOM#"), strings.TrimPrefix(old.str(AttrSK), "CONN#")
			if expired(old, now) {
				if err := st.batchDelete(ctx, []map[string]types.AttributeValue{key(old.str(AttrPK), old.str(AttrSK)), key(connPK(connID), roomPK(roomID))}); err != nil {
					return moved, dropped, fmt.Errorf("dynamostore: drop lapsed presence: %w", err)
				}
				dropped++
				continue
			}
			ok, err := st.migrateOne(ctx, roomID, store.Presence{ConnectionID: connID, Username: old.str(attrUsername), ExpiresAt: old.epoch(AttrExpiresAt)})
			if err != nil {
				return moved, dropped, err
			}
			if ok {
				moved++
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return moved, dropped, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// migrateOne moves one connection's presence; false when another path
// took it first.
func (st *Store) migrateOne(ctx context.Context, roomID string, p store.Presence) (bool, error) {
	for attempt := 0; ; attempt++ {
		sp, err := st.placeJoin(ctx, roomID, p.ConnectionID)
		if err != nil {
			return false, err
		}
		req, pres := store.AppendRequest{RoomID: roomID, Join: &p}, presenceChange{join: sp}
		parts := st.rosterParts(req, rowPlans{}, nil, pres)
		head := newItemUpdate()
		attr, delta, shards := rosterHead(req, pres)
		if attr != "" {
			head.adds = append(head.adds, head.name(attr)+" "+head.value(n(delta)))
		}
		if shards > 0 {
			head.set(attrShards, n(shards))
		}
		head.require("attribute_exists(PK)")
		if c := shardsUnchanged(sp, head.name(attrShards), head.value); c != "" {
			head.require(c)
		}
		headAt := -1
		if !head.empty() {
			headAt = len(parts)
			parts = append(parts, part{write: types.TransactWriteItem{Update: head.write(st.table, key(roomPK(roomID), skHead))}})
		}
		parts = append(parts, part{write: types.TransactWriteItem{Delete: &types.Delete{TableName: st.table,
			Key: key(roomPK(roomID), "CONN#"+p.ConnectionID), ConditionExpression: aws.String("attribute_exists(PK)")}}})
		in := &dynamodb.TransactWriteItemsInput{}
		for _, pt := range parts {
			in.TransactItems = append(in.TransactItems, pt.write)
		}
		_, err = st.db.TransactWriteItems(ctx, in)
		var canceled *types.TransactionCanceledException
		switch {
		case err == nil:
			return true, nil
		case !errors.As(err, &canceled):
			return false, fmt.Errorf("dynamostore: move presence of %s in room %s: %w", p.ConnectionID, roomID, err)
		}
		// A head that fails its condition had its shards change under
		// the placement: place again.
		moved := headAt >= 0 && headAt < len(canceled.CancellationReasons) &&
			aws.ToString(canceled.CancellationReasons[headAt].Code) == "ConditionalCheckFailed"
		if !conflicted(canceled) && !moved || attempt == maxConflictRetries {
			// The old item is gone (a leave or $disconnect took it), or
			// the room is.
			return false, nil
		}
		sleep(ctx, attempt)
	}
}
