package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/store"
)

// A room's delivery marks (store.DeliveryMarks) are one small item in a
// partition of their own: they are written once per event, and need not
// take a share of the room partition's thousand write units a second.
// Each mark is a conditional update that only raises it, so a late
// deliverer never lowers what a later one recorded. The item expires a
// month after its last mark; a room silent that long has nothing in
// flight, and no item means nothing to wait for.

const (
	skDelivered   = "DELIVERED"
	attrAll       = "all"
	attrHandedOff = "handed"
	markLifetime  = 30 * 24 * time.Hour
	slotAttrStart = "s"
)

func deliveredKey(roomID string) map[string]types.AttributeValue {
	return key("DELIVERED#"+roomID, skDelivered)
}

// Delivered implements store.DeliveryMarks.
func (st *Store) Delivered(ctx context.Context, roomID string, consistent bool) (store.Delivered, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: st.table, Key: deliveredKey(roomID), ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		return store.Delivered{}, fmt.Errorf("dynamostore: read delivery marks of room %s: %w", roomID, err)
	}
	if out.Item == nil {
		return store.Delivered{}, store.ErrNotFound
	}
	it := item(out.Item)
	d := store.Delivered{All: it.num(attrAll), HandedOff: it.num(attrHandedOff)}
	for name := range it {
		k, ok := slotOfAttr(name)
		if !ok {
			continue
		}
		if v := it.num(name); v > d.All {
			if d.Slot == nil {
				d.Slot = map[int]int64{}
			}
			d.Slot[k] = v
		}
	}
	return d, nil
}

func slotAttr(k int) string { return slotAttrStart + strconv.Itoa(k) }

func slotOfAttr(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, slotAttrStart)
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	return k, err == nil && k >= 0 && k < store.DeliverySlots
}

// MarkDelivered implements store.DeliveryMarks.
func (st *Store) MarkDelivered(ctx context.Context, roomID string, slots store.Slots, seq int64) error {
	var attrs []string
	if slots.Whole() {
		attrs = []string{attrAll}
	} else {
		for k := max(slots.From, 0); k < min(slots.To, store.DeliverySlots); k++ {
			attrs = append(attrs, slotAttr(k))
		}
	}
	if err := st.raise(ctx, roomID, attrs, seq); err == nil || !isConditionFailed(err) {
		return err
	}
	if len(attrs) == 1 {
		return nil // already at or past seq
	}
	// Some slot was already past seq (its deliverer gave up waiting for
	// this one): raise the others one by one.
	var errs []error
	for _, a := range attrs {
		if err := st.raise(ctx, roomID, []string{a}, seq); err != nil && !isConditionFailed(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// MarkHandedOff implements store.DeliveryMarks.
func (st *Store) MarkHandedOff(ctx context.Context, roomID string, seq int64) error {
	if err := st.raise(ctx, roomID, []string{attrHandedOff}, seq); err != nil && !isConditionFailed(err) {
		return err
	}
	return nil
}

// raise sets each attribute to seq if every one of them is below it.
func (st *Store) raise(ctx context.Context, roomID string, attrs []string, seq int64) error {
	names := map[string]string{"#exp": AttrExpiresAt}
	set := []string{"#exp = :exp"}
	var cond []string
	for i, a := range attrs {
		ref := "#a" + strconv.Itoa(i)
		names[ref] = a
		set = append(set, ref+" = :seq")
		cond = append(cond, "(attribute_not_exists("+ref+") OR "+ref+" < :seq)")
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: st.table, Key: deliveredKey(roomID),
		UpdateExpression:         aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:      aws.String(strings.Join(cond, " AND ")),
		ExpressionAttributeNames: names,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":seq": n(seq), ":exp": n(time.Now().Add(markLifetime).Unix()),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("dynamostore: mark room %s delivered up to %d: %w", roomID, seq, err)
	}
	return err
}

func isConditionFailed(err error) bool {
	var failed *types.ConditionalCheckFailedException
	return errors.As(err, &failed)
}
