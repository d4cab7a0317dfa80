package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/store"
)

// Blocks live in the blocker's partition:
//
//	USER#<user>   BLOCK#<blocked>   one block
//	USER#<user>   BLOCKS            how many BLOCK# rows there are
//
// "Did any of these people block me?" is then a BatchGetItem of
// USER#<each>/BLOCK#<me>, and "whom did I block?" one Query.
const (
	blockPrefix  = "BLOCK#"
	skBlockCount = "BLOCKS"
)

func blockSK(u string) string { return blockPrefix + u }

// Block implements store.Blocking: the row and the count move together in
// one transaction, the row's condition making a repeat change nothing and
// the count's refusing the block past the limit.
func (st *Store) Block(ctx context.Context, blocker, blocked string, limit int) error {
	if limit < 1 {
		return fmt.Errorf("dynamostore: block limit %d is below 1", limit)
	}
	row := item(key(userPK(blocker), blockSK(blocked)))
	row[attrUsername] = s(blocked)
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: st.table, Item: row, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Update: &types.Update{
			TableName: st.table, Key: key(userPK(blocker), skBlockCount),
			UpdateExpression:          aws.String("ADD #c :one"),
			ConditionExpression:       aws.String("attribute_not_exists(#c) OR #c < :limit"),
			ExpressionAttributeNames:  map[string]string{"#c": attrCount},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":limit": n(int64(limit))},
		}},
	}}
	err := st.transactBlock(ctx, in, func(reasons []types.CancellationReason) (bool, error) {
		switch {
		case failedCondition(reasons, 0):
			return true, nil // blocked already
		case failedCondition(reasons, 1):
			return true, store.ErrLimit
		}
		return false, nil
	})
	if err != nil && !errors.Is(err, store.ErrLimit) {
		return fmt.Errorf("dynamostore: block: %w", err)
	}
	return err
}

// Unblock implements store.Blocking.
func (st *Store) Unblock(ctx context.Context, blocker, blocked string) error {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: st.table, Key: key(userPK(blocker), blockSK(blocked)), ConditionExpression: aws.String("attribute_exists(PK)")}},
		{Update: &types.Update{
			TableName: st.table, Key: key(userPK(blocker), skBlockCount),
			UpdateExpression:          aws.String("ADD #c :minus"),
			ExpressionAttributeNames:  map[string]string{"#c": attrCount},
			ExpressionAttributeValues: map[string]types.AttributeValue{":minus": n(-1)},
		}},
	}}
	err := st.transactBlock(ctx, in, func(reasons []types.CancellationReason) (bool, error) {
		return failedCondition(reasons, 0), nil // not blocked: nothing to do
	})
	if err != nil {
		return fmt.Errorf("dynamostore: unblock: %w", err)
	}
	return nil
}

// transactBlock runs a block's transaction, trying it again while it only
// lost a race with another transaction on the same items. decided says
// what a cancellation means when it is not such a race: whether it
// settles the request, and with which answer.
func (st *Store) transactBlock(ctx context.Context, in *dynamodb.TransactWriteItemsInput, decided func([]types.CancellationReason) (bool, error)) error {
	for attempt := 0; ; attempt++ {
		_, err := st.db.TransactWriteItems(ctx, in)
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) {
			return err
		}
		if settled, answer := decided(canceled.CancellationReasons); settled {
			return answer
		}
		if !raced(canceled.CancellationReasons) || attempt >= maxBlockRetries {
			return err
		}
		sleep(ctx, min(attempt, 6))
	}
}

// maxBlockRetries bounds the retries of one person's blocks racing each
// other: several tabs at once, not a crowd.
const maxBlockRetries = 10

func failedCondition(reasons []types.CancellationReason, at int) bool {
	return at < len(reasons) && aws.ToString(reasons[at].Code) == "ConditionalCheckFailed"
}

func raced(reasons []types.CancellationReason) bool {
	for _, r := range reasons {
		if aws.ToString(r.Code) == "TransactionConflict" {
			return true
		}
	}
	return false
}

// Blocks implements store.Blocking: one Query, in sort key order, which is
// username order.
func (st *Store) Blocks(ctx context.Context, blocker string) ([]string, error) {
	out, err := st.sortKeysUnder(ctx, userPK(blocker), blockPrefix)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: blocks of %s: %w", blocker, err)
	}
	return out, nil
}

// BlockersAmong implements store.Blocking with one BatchGetItem per
// hundred names, read consistently: a block just made must hold.
func (st *Store) BlockersAmong(ctx context.Context, target string, usernames []string) (map[string]bool, error) {
	seen := make(map[string]bool, len(usernames))
	keys := make([]map[string]types.AttributeValue, 0, len(usernames))
	for _, u := range usernames {
		if !seen[u] { // BatchGetItem refuses a repeated key
			seen[u] = true
			keys = append(keys, key(userPK(u), blockSK(target)))
		}
	}
	rows, err := st.batchGet(ctx, keys, true, "#pk")
	if err != nil {
		return nil, fmt.Errorf("dynamostore: who blocked %s: %w", target, err)
	}
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		out[strings.TrimPrefix(r.str(AttrPK), "USER#")] = true
	}
	return out, nil
}
