package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// Message implements store.Reading: one consistent GetItem, so an edit or
// a deletion decides on the message as the last append left it.
func (st *Store) Message(ctx context.Context, roomID, messageID string) (store.Message, error) {
	it, err := st.get(ctx, roomPK(roomID), messageSK(messageID))
	if err != nil {
		return store.Message{}, wrapRead("message", err)
	}
	return store.Message{
		ID: messageID, Seq: it.num(attrSeq), Author: it.str(attrAuthor),
		Deleted: it.bool(attrDeleted), Edits: it.nums(attrEdits),
	}, nil
}

func membershipOf(it item) store.Membership {
	return store.Membership{
		Username: it.str(attrUsername), Role: chat.Role(it.str(attrRole)),
		ReadSeq: it.num(attrReadSeq), ReadMessages: it.num(attrReadMsgs),
		Mentions: it.num(attrMentions), ReadMentions: it.num(attrReadMentions),
		Connections: it.strs(attrConns),
	}
}

// Membership implements store.Reading with one consistent GetItem of the
// member row. A deleted room's rows go right after its room_deleted
// (Append), so only in that moment, or after a crash there that the
// rebuild tool repairs, is a row of a deleted room found.
func (st *Store) Membership(ctx context.Context, roomID, username string) (store.Membership, error) {
	it, err := st.get(ctx, roomPK(roomID), memberSK(username))
	if err != nil {
		return store.Membership{}, wrapRead("membership", err)
	}
	m := membershipOf(it)
	m.Connections = nil // Audience's to fill
	return m, nil
}

// SetReadPosition implements store.Reading with one conditional
// UpdateItem; when the condition fails, the row as it was tells which of
// its three parts did.
func (st *Store) SetReadPosition(ctx context.Context, roomID, username string, p store.ReadPosition, mentionsSeen int64) (bool, error) {
	// A row that never had a mention has no mentions attribute: it counts
	// as 0.
	mentions := "#men = :seen"
	if mentionsSeen == 0 {
		mentions = "(attribute_not_exists(#men) OR #men = :seen)"
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: st.table, Key: key(roomPK(roomID), memberSK(username)),
		UpdateExpression:    aws.String("SET #rs = :rs, #rm = :rm, #rmen = :rmen"),
		ConditionExpression: aws.String("attribute_exists(PK) AND (attribute_not_exists(#rs) OR #rs < :rs) AND " + mentions),
		ExpressionAttributeNames: map[string]string{
			"#rs": attrReadSeq, "#rm": attrReadMsgs, "#rmen": attrReadMentions, "#men": attrMentions,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":rs": n(p.Seq), ":rm": n(p.Messages), ":rmen": n(p.Mentions), ":seen": n(mentionsSeen),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		if err != nil {
			return false, fmt.Errorf("dynamostore: set read position: %w", err)
		}
		return true, nil
	}
	old := item(failed.Item)
	if old == nil {
		// Not every DynamoDB returns the item with the failure; a row
		// that is there always has its keys.
		old, err = st.get(ctx, roomPK(roomID), memberSK(username))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, fmt.Errorf("dynamostore: set read position: %w", err)
		}
	}
	switch {
	case old == nil:
		return false, store.ErrNotFound
	case old.num(attrReadSeq) >= p.Seq:
		return false, nil
	}
	return false, store.ErrConcurrency
}

// Audience implements store.Reading with one Query of the room's member
// rows, read consistently so that a member removed a moment ago gets
// nothing more. The filter saves the transfer of rows with no sockets but
// not their read capacity: the query pays for every member row.
func (st *Store) Audience(ctx context.Context, roomID string) ([]store.Membership, error) {
	rows, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		FilterExpression:          aws.String("attribute_exists(#conns)"),
		ExpressionAttributeNames:  map[string]string{"#conns": attrConns},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(roomPK(roomID)), ":p": s("MEMBER#")},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: audience of room %s: %w", roomID, err)
	}
	return membershipsOf(rows), nil
}

func membershipsOf(rows []item) []store.Membership {
	out := make([]store.Membership, len(rows))
	for i, r := range rows {
		out[i] = membershipOf(r)
	}
	return out
}

// Memberships implements store.Reading with one consistent BatchGetItem
// of the rows.
func (st *Store) Memberships(ctx context.Context, roomID string, usernames []string) ([]store.Membership, error) {
	keys := make([]map[string]types.AttributeValue, len(usernames))
	for i, u := range usernames {
		keys[i] = key(roomPK(roomID), memberSK(u))
	}
	rows, err := st.batchGet(ctx, keys, true, "")
	if err != nil {
		return nil, fmt.Errorf("dynamostore: members of room %s: %w", roomID, err)
	}
	return membershipsOf(rows), nil
}

// UserConnections implements store.Reading: the user's set of open
// connections, which may still name one whose $disconnect never ran.
func (st *Store) UserConnections(ctx context.Context, username string) ([]string, error) {
	it, err := st.get(ctx, userPK(username), skUserConns)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dynamostore: connections of %s: %w", username, err)
	}
	return it.strs(attrConns), nil
}

// erasure is an event item to overwrite with its erased form.
type erasure struct {
	seq int64
	raw string
}

// erasures reads the events whose text the append's message_deleted
// events erase: those req.Erase names, and those the deleted messages'
// items name (the same, unless the caller's copy is wrong). Both were read
// at or after ExpectedVersion, and an edit since would fail the append's
// version check, so the list is complete when the append succeeds.
func (st *Store) erasures(ctx context.Context, req store.AppendRequest) ([]erasure, error) {
	deleted := map[string]bool{}
	for _, e := range req.Events {
		if d, ok := e.Data.(chat.MessageDeleted); ok {
			deleted[d.MessageID] = true
		}
	}
	if len(deleted) == 0 {
		if len(req.Erase) > 0 {
			return nil, errors.New("erase without a message_deleted event")
		}
		return nil, nil
	}
	pk := roomPK(req.RoomID)
	var keys []map[string]types.AttributeValue
	for _, id := range slices.Sorted(maps.Keys(deleted)) {
		keys = append(keys, key(pk, messageSK(id)))
	}
	msgs, err := st.batchGet(ctx, keys, true, "")
	if err != nil {
		return nil, fmt.Errorf("read the deleted messages: %w", err)
	}
	seqs := map[int64]bool{}
	for _, seq := range req.Erase {
		seqs[seq] = true
	}
	for _, m := range msgs {
		seqs[m.num(attrSeq)] = true
		for _, seq := range m.nums(attrEdits) {
			seqs[seq] = true
		}
	}
	if len(seqs) > maxTransactItems {
		return nil, fmt.Errorf("erasing %d events is more than one transaction holds", len(seqs))
	}
	keys = make([]map[string]types.AttributeValue, 0, len(seqs))
	for seq := range seqs {
		if seq < 1 || seq > req.ExpectedVersion {
			return nil, fmt.Errorf("erase names seq %d, which is not before the append", seq)
		}
		keys = append(keys, key(pk, eventSK(seq)))
	}
	rows, err := st.batchGet(ctx, keys, true, "")
	if err != nil {
		return nil, fmt.Errorf("read the events to erase: %w", err)
	}
	events := make(map[int64]chat.Event, len(rows))
	for _, row := range rows {
		var e chat.Event
		if err := e.UnmarshalJSON([]byte(row.str(attrEvent))); err != nil {
			return nil, fmt.Errorf("read the events to erase: %w", err)
		}
		e.RoomID = req.RoomID
		events[e.Seq] = e
	}
	var out []erasure
	for _, seq := range slices.Sorted(maps.Keys(seqs)) {
		e, ok := events[seq]
		if !ok {
			return nil, fmt.Errorf("erase names event %d, which the room does not hold", seq)
		}
		if !ofMessage(e, deleted) {
			return nil, fmt.Errorf("erase names event %d, a %s that is not of a deleted message", seq, e.Type())
		}
		if erased(e) {
			continue
		}
		raw, err := chat.ErasedJSON(e)
		if err != nil {
			return nil, err
		}
		out = append(out, erasure{seq: seq, raw: string(raw)})
	}
	return out, nil
}

// ofMessage reports whether e is the message_sent or a message_edited of
// one of the messages ids names. A message_sent is known by the id it
// carries or by the id its item is keyed by (Append).
func ofMessage(e chat.Event, ids map[string]bool) bool {
	switch d := e.Data.(type) {
	case chat.MessageSent:
		return ids[d.MessageID] || ids[chat.MessageID(e.RoomID, e.Username, d.ClientMsgID)]
	case chat.MessageEdited:
		return ids[d.MessageID]
	}
	return false
}

func erased(e chat.Event) bool {
	switch d := e.Data.(type) {
	case chat.MessageSent:
		return d.Deleted && d.Text == "" && len(d.Mentions) == 0
	case chat.MessageEdited:
		return d.Deleted && d.Text == "" && len(d.Mentions) == 0
	}
	return false
}
