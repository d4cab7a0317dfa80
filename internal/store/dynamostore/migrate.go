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

// PresenceMigration counts what MigratePresence did: presence items moved
// into rosters, lapsed ones dropped, and open sockets noted as away in
// rooms they have not joined.
type PresenceMigration struct{ Moved, Dropped, Away int }

// MigratePresence moves presence written before the roster (one item per
// joined connection, ROOM#<room> / CONN#<id>, which nothing reads any more)
// into the rooms' rosters, so that a deployment upgraded across the change
// keeps pushing to the sockets joined before it. Each item moves in one
// transaction with the roster entry, the head's count and the
// connection's link, conditioned on the old item still being there, so a
// second run, or one racing a leave or a $disconnect, moves nothing twice.
// Lapsed items are deleted. It also notes each member's open sockets that
// are not joined to a room in that room's away sockets, which the roster
// keeps from now on but nothing wrote before, so that the room list lines
// reach them before they reconnect. It scans the whole table: for the
// rebuild tool, never for a request.
func (st *Store) MigratePresence(ctx context.Context) (PresenceMigration, error) {
	in := &dynamodb.ScanInput{
		TableName:                 st.table,
		FilterExpression:          aws.String("begins_with(PK, :room) AND (begins_with(SK, :conn) OR begins_with(SK, :member) AND attribute_exists(#conns))"),
		ExpressionAttributeNames:  map[string]string{"#conns": attrConns},
		ExpressionAttributeValues: map[string]types.AttributeValue{":room": s("ROOM#"), ":conn": s("CONN#"), ":member": s("MEMBER#")},
	}
	now := time.Now()
	var done PresenceMigration
	for {
		res, err := st.db.Scan(ctx, in)
		if err != nil {
			return done, fmt.Errorf("dynamostore: scan for presence: %w", err)
		}
		for _, raw := range res.Items {
			old := item(raw)
			roomID := strings.TrimPrefix(old.str(AttrPK), "ROOM#")
			if strings.HasPrefix(old.str(AttrSK), "MEMBER#") {
				n, err := st.restoreAway(ctx, roomID, old.str(attrUsername), old.strs(attrConns))
				if err != nil {
					return done, err
				}
				done.Away += n
				continue
			}
			connID := strings.TrimPrefix(old.str(AttrSK), "CONN#")
			if expired(old, now) {
				if err := st.batchDelete(ctx, []map[string]types.AttributeValue{key(old.str(AttrPK), old.str(AttrSK)), key(connPK(connID), roomPK(roomID))}); err != nil {
					return done, fmt.Errorf("dynamostore: drop lapsed presence: %w", err)
				}
				done.Dropped++
				continue
			}
			ok, err := st.migrateOne(ctx, roomID, store.Presence{ConnectionID: connID, Username: old.str(attrUsername), ExpiresAt: old.epoch(AttrExpiresAt)})
			if err != nil {
				return done, err
			}
			if ok {
				done.Moved++
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return done, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// restoreAway notes in the room's away sockets those of the member's
// sockets (as the member row lists them) that are open and not joined to
// the room. A socket that joins meanwhile may be noted too, which the
// roster's readers resolve (joined wins); one that closes meanwhile is
// taken off by its $disconnect or, at worst, costs one push that finds it
// gone.
func (st *Store) restoreAway(ctx context.Context, roomID, username string, conns []string) (int, error) {
	var away []string
	for _, id := range conns {
		if _, err := st.Connection(ctx, id); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return 0, fmt.Errorf("dynamostore: socket %s of %s: %w", id, username, err)
		}
		if _, err := st.shardOf(ctx, roomID, id); !errors.Is(err, store.ErrNotPresent) {
			if err != nil {
				return 0, err
			}
			continue // joined
		}
		away = append(away, id)
	}
	if len(away) == 0 {
		return 0, nil
	}
	if err := st.changeAway(ctx, roomID, username, "ADD", away); err != nil {
		return 0, fmt.Errorf("dynamostore: %w", err)
	}
	return len(away), nil
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
