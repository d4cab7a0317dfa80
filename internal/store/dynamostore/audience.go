package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// maxParallelWrites bounds the single-item writes one call runs at once
// when it changes a row in each of a user's rooms (a connect, a
// disconnect) or each member row of a room (a repair): the rest wait for
// a free slot, so a user in many rooms takes longer rather than bursting
// the partition or the client's connection pool.
const maxParallelWrites = 8

// forEach runs fn on each of items, at most maxParallelWrites at once, and
// returns the first error.
func forEach[T any](ctx context.Context, items []T, fn func(context.Context, T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelWrites)
	for _, it := range items {
		g.Go(func() error { return fn(ctx, it) })
	}
	return g.Wait()
}

// spreadConnections makes each member row of the user hold the user's
// live connections, as Audience reads them. It adds every live id to each
// row the index lists (a conditional ADD, so that the row of a member
// removed since is not brought back), and when a row turns out to hold an
// id that is gone (a $disconnect that never ran, or one that missed a row
// GSI1 did not show yet) it takes that id off. The opened socket, not yet
// joined anywhere, joins the user's away sockets in each room's roster.
func (st *Store) spreadConnections(ctx context.Context, username, opened string, now time.Time) error {
	live, stale, err := st.checkConnections(ctx, username, now)
	if err != nil {
		return fmt.Errorf("connections of %s: %w", username, err)
	}
	if len(stale) > 0 {
		if err := st.forgetUserConnections(ctx, username, stale...); err != nil {
			return fmt.Errorf("forget closed connections of %s: %w", username, err)
		}
	}
	if len(live) == 0 {
		return nil
	}
	rooms, err := st.roomsOfUser(ctx, username)
	if err != nil {
		return fmt.Errorf("rooms of %s: %w", username, err)
	}
	var mu sync.Mutex
	odd := map[string][]string{} // room: ids on its row that are not live
	err = forEach(ctx, rooms, func(ctx context.Context, room string) error {
		out, err := st.changeRowConnections(ctx, room, username, "ADD", live, types.ReturnValueUpdatedNew)
		if err != nil || out == nil {
			return err
		}
		if slices.Contains(live, opened) {
			st.noteAway(ctx, room, username, "ADD", []string{opened})
		}
		if extra := without(item(out).strs(attrConns), live); len(extra) > 0 {
			mu.Lock()
			odd[room] = extra
			mu.Unlock()
		}
		return nil
	})
	if err != nil || len(odd) == 0 {
		return err
	}
	// Read the live set again: a connection that opened after the first
	// read may have put its id on a row already, and must keep it. One
	// whose id was on a row before that row's update had put its id in the
	// set before, so this read has every live one.
	live, _, err = st.checkConnections(ctx, username, now)
	if err != nil {
		return fmt.Errorf("connections of %s: %w", username, err)
	}
	return forEach(ctx, slices.Sorted(maps.Keys(odd)), func(ctx context.Context, room string) error {
		if gone := without(odd[room], live); len(gone) > 0 {
			if _, err := st.changeRowConnections(ctx, room, username, "DELETE", gone, types.ReturnValueNone); err != nil {
				return err
			}
			st.noteAway(ctx, room, username, "DELETE", gone)
			return nil
		}
		return nil
	})
}

// withdrawConnection takes a closed connection off each member row of the
// user, and off the user's away sockets in each room.
func (st *Store) withdrawConnection(ctx context.Context, username, connectionID string) error {
	rooms, err := st.roomsOfUser(ctx, username)
	if err != nil {
		return fmt.Errorf("rooms of %s: %w", username, err)
	}
	return forEach(ctx, rooms, func(ctx context.Context, room string) error {
		if _, err := st.changeRowConnections(ctx, room, username, "DELETE", []string{connectionID}, types.ReturnValueNone); err != nil {
			return err
		}
		st.noteAway(ctx, room, username, "DELETE", []string{connectionID})
		return nil
	})
}

// roomsOfUser lists the rooms of the user's member rows, from GSI1.
func (st *Store) roomsOfUser(ctx context.Context, username string) ([]string, error) {
	rows, err := st.memberRowsOf(ctx, username)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.TrimPrefix(r.str(AttrPK), "ROOM#")
	}
	return out, nil
}

// changeRowConnections ADDs ids to, or DELETEs them from, the conns of the
// user's member row in room, if the row is there. It returns what the
// update asked for, nil for a row that is not there.
func (st *Store) changeRowConnections(ctx context.Context, room, username, op string, ids []string, ret types.ReturnValue) (map[string]types.AttributeValue, error) {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: st.table, Key: key(roomPK(room), memberSK(username)),
		UpdateExpression:          aws.String(op + " #conns :ids"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#conns": attrConns},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ids": &types.AttributeValueMemberSS{Value: ids}},
		ReturnValues:              ret,
	})
	var gone *types.ConditionalCheckFailedException
	if errors.As(err, &gone) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("connections on the row of %s in room %s: %w", username, room, err)
	}
	if out.Attributes == nil {
		return map[string]types.AttributeValue{}, nil
	}
	return out.Attributes, nil
}

// without returns the elements of list that are not in drop.
func without(list, drop []string) []string {
	var out []string
	for _, v := range list {
		if !slices.Contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}
