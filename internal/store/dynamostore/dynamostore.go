// Package dynamostore is the cloud store: the single-table DynamoDB design
// of the architecture, written with aws-sdk-go-v2.
//
// Items, by partition:
//
//	ROOM#<id>     HEAD                      name, owner, version, last activity, deleted,
//	                                        msgs (its message count), and for a direct
//	                                        room kind "direct" and pair (creator first)
//	ROOM#<id>     EVT#<seq, 20 digits>      one event of the stream (its JSON)
//	ROOM#<id>     MEMBER#<user>             role; read_seq and read_msgs (the read position
//	                                        and the message count at it); mentions and
//	                                        read_mentions; conns (the user's open sockets);
//	                                        GSI1 = USER#<user> / ROOM#<id>, projecting role
//	                                        and the four read fields
//	ROOM#<id>     MSG#<message id>          seq, author, edits (their seqs), deleted
//	ROOM#<id>     CONN#<connection>         presence, with a TTL
//	USER#<user>   PROFILE                   password hash
//	USER#<user>   CONNS                     the user's open connection ids, with a TTL
//	USER#<user>   BLOCK#<blocked>           someone the user blocked (blocks.go)
//	USER#<user>   BLOCKS                    how many people the user blocked
//	SESSION#<h>   SESSION                   username, with a TTL
//	SESSION#<h>   CONN#<connection>         connections opened with the session
//	CONN#<id>     CONN                      username, session, with a TTL
//	CONN#<id>     ROOM#<room>               rooms the connection joined
//	COUNTER#<n>   COUNTER                   a rate-limit count, with a TTL
//	DELIVERED#<room> DELIVERED              how far the room's events are pushed: all,
//	                                        and s<k> for slots pushed further (delivered.go)
//
// An append is one TransactWriteItems: the events, the head's version
// check-and-set, the member rows and message items, the erasure of a
// deleted message's text, and the presence change, so the projections
// never disagree with the stream. A transaction touches an item once, so
// what several events of one append do to a member row is folded into one
// write (rows.go).
//
// A message's item is keyed by chat.MessageID of the room, the sender and
// the client_msg_id: the one conditional put that records a message also
// recognises a resend, and edits and deletions find it by the same id.
//
// A room's audience (its members with open sockets) is one Query of its
// member rows, because each row carries its member's connection ids
// (audience.go). $connect adds the id to every member row of the user,
// found through GSI1, $disconnect takes it off them, and a new member row
// starts with the ids in USER#<user> CONNS. GSI1 is eventually consistent,
// so a connect or disconnect at the moment its user is added to a room
// can miss that room's new row: it lists the user's rooms before the row
// shows in the index, while the append read CONNS just before the change.
// The row then lacks a socket that is open (which gets no pushes about
// that room) or keeps one that closed (a push to it finds it gone). Both
// heal at the user's next connect, which puts every live id on each of
// the user's rows and takes off the ids of connections that are gone.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

var _ store.Store = (*Store)(nil)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is a DynamoDB-backed store.Store.
type Store struct {
	db     API
	table  *string
	logger *slog.Logger
}

// New returns a store on the named table.
func New(db API, table string, logger *slog.Logger) (*Store, error) {
	var errs []error
	if db == nil {
		errs = append(errs, errors.New("no DynamoDB client"))
	}
	if table == "" {
		errs = append(errs, errors.New("no table name"))
	}
	if logger == nil {
		errs = append(errs, errors.New("no logger"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("dynamostore: %w", err)
	}
	return &Store{db: db, table: aws.String(table), logger: logger}, nil
}

// Close releases nothing: the client belongs to the caller.
func (s *Store) Close() error { return nil }

// Attribute names besides the keys.
const (
	attrName         = "name"
	attrOwner        = "owner"
	attrCreatedAt    = "created_at"
	attrLastActivity = "last_activity_at"
	attrVersion      = "version"
	attrDeleted      = "deleted"
	attrSeq          = "seq"
	attrEvent        = "event"
	attrRole         = "role"
	attrUsername     = "username"
	attrPasswordHash = "password_hash"
	attrSessionHash  = "session_hash"
	attrConnectedAt  = "connected_at"
	attrCount        = "count"
	attrConns        = "conns"
	// The head's message count, and what makes a room direct.
	attrMsgs = "msgs"
	attrKind = "kind"
	attrPair = "pair"
	// A member row's read position and counts (store.Membership).
	attrReadSeq      = "read_seq"
	attrReadMsgs     = "read_msgs"
	attrMentions     = "mentions"
	attrReadMentions = "read_mentions"
	// A message item's author and the seqs of its edits.
	attrAuthor = "author"
	attrEdits  = "edits"
)

const (
	skHead    = "HEAD"
	skProfile = "PROFILE"
	skSession = "SESSION"
	skConn    = "CONN"
	// skUserConns holds the set of a user's open connection ids.
	skUserConns = "CONNS"
	// A transaction holds at most 100 writes.
	maxTransactItems = 100
	// BatchWriteItem takes 25 writes, BatchGetItem 100 keys.
	maxBatchWrite = 25
	maxBatchGet   = 100
	// How often an append retries a transaction that lost a race with
	// another transaction on the same items (not a version conflict).
	maxConflictRetries = 6
)

func roomPK(id string) string    { return "ROOM#" + id }
func userPK(u string) string     { return "USER#" + u }
func sessionPK(h string) string  { return "SESSION#" + h }
func connPK(id string) string    { return "CONN#" + id }
func memberSK(u string) string   { return "MEMBER#" + u }
func eventSK(seq int64) string   { return fmt.Sprintf("EVT#%020d", seq) }
func messageSK(id string) string { return "MSG#" + id }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func ts(t time.Time) types.AttributeValue {
	return s(t.UTC().Format(chat.TimeFormat))
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s(pk), AttrSK: s(sk)}
}

type item map[string]types.AttributeValue

func (it item) str(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (it item) num(name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func (it item) bool(name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func (it item) time(name string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, it.str(name))
	return t.UTC()
}

// strs reads a string set or a list of strings.
func (it item) strs(name string) []string {
	switch v := it[name].(type) {
	case *types.AttributeValueMemberSS:
		return v.Value
	case *types.AttributeValueMemberL:
		out := make([]string, 0, len(v.Value))
		for _, e := range v.Value {
			if s, ok := e.(*types.AttributeValueMemberS); ok {
				out = append(out, s.Value)
			}
		}
		return out
	}
	return nil
}

// nums reads a list of numbers.
func (it item) nums(name string) []int64 {
	l, _ := it[name].(*types.AttributeValueMemberL)
	if l == nil {
		return nil
	}
	out := make([]int64, 0, len(l.Value))
	for _, e := range l.Value {
		out = append(out, item{"n": e}.num("n"))
	}
	return out
}

func (it item) epoch(name string) time.Time {
	if it[name] == nil {
		return time.Time{}
	}
	return time.Unix(it.num(name), 0).UTC()
}

// part is one write of an append's transaction, with what a failed
// condition on it means.
type part struct {
	write types.TransactWriteItem
	kind  partKind
	// who is the member of a partMember write.
	who string
}

type partKind int

const (
	partOther partKind = iota
	partHead
	// partMessageSent records a new message; its condition fails on a
	// resend.
	partMessageSent
	// partMessage changes a message that must be there and not deleted.
	partMessage
	// partMember changes a member row that must be there.
	partMember
	partLeave
)

// presenceChange is where an append's join or leave finds its connection
// in the room's roster (roster.go).
type presenceChange struct {
	join       spot
	leaveShard int
}

// Append implements store.Rooms. Before the transaction it reads what the
// writes are built from but the events do not say: the open sockets of
// people who become members, and the events a deletion erases.
func (st *Store) Append(ctx context.Context, req store.AppendRequest) (store.AppendResult, error) {
	if err := store.CheckAppend(req); err != nil {
		return store.AppendResult{}, err
	}
	rows := planRows(req)
	conns, err := st.newMembersConnections(ctx, rows)
	if err != nil {
		return store.AppendResult{}, fmt.Errorf("dynamostore: append to room %s: %w", req.RoomID, err)
	}
	erase, err := st.erasures(ctx, req)
	if err != nil {
		return store.AppendResult{}, fmt.Errorf("dynamostore: append to room %s: %w", req.RoomID, err)
	}
	var pres presenceChange
	if j := req.Join; j != nil {
		if pres.join, err = st.placeJoin(ctx, req.RoomID, j.ConnectionID); err != nil {
			return store.AppendResult{}, err
		}
	}
	if l := req.Leave; l != nil {
		if pres.leaveShard, err = st.shardOf(ctx, req.RoomID, l.ConnectionID); err != nil {
			return store.AppendResult{}, err
		}
	}
	parts, err := st.appendParts(req, rows, conns, erase, pres)
	if err != nil {
		return store.AppendResult{}, err
	}
	if len(parts) > maxTransactItems {
		return store.AppendResult{}, fmt.Errorf("dynamostore: append to room %s needs %d writes and a transaction holds %d: append fewer events at once",
			req.RoomID, len(parts), maxTransactItems)
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: make([]types.TransactWriteItem, len(parts))}
	for i, p := range parts {
		in.TransactItems[i] = p.write
	}
	for attempt := 0; ; attempt++ {
		_, err = st.db.TransactWriteItems(ctx, in)
		if err == nil {
			break
		}
		var canceled *types.TransactionCanceledException
		if !errors.As(err, &canceled) {
			return store.AppendResult{}, fmt.Errorf("dynamostore: append to room %s: %w", req.RoomID, err)
		}
		switch why, at := cancellation(canceled.CancellationReasons, parts); why {
		case cancelDuplicate:
			return st.duplicate(ctx, req.RoomID, item(canceled.CancellationReasons[at].Item), parts[at].write.Put.Item)
		case cancelVersion:
			return store.AppendResult{}, store.ErrConcurrency
		case cancelNotPresent:
			return store.AppendResult{}, store.ErrNotPresent
		case cancelMissingRow:
			// The head is at the expected version, so no append raced
			// this one: the caller decided on a member row read a moment
			// old (RecentRoomAs), or the projection lost the row, which
			// the rebuild tool restores. Either way a consistent read
			// decides again.
			return store.AppendResult{}, fmt.Errorf("dynamostore: append to room %s: the member row of %s is not there: %w", req.RoomID, parts[at].who, store.ErrConcurrency)
		case cancelRaced:
			if attempt < maxConflictRetries {
				sleep(ctx, attempt)
				continue
			}
			return store.AppendResult{}, store.ErrConcurrency
		default:
			return store.AppendResult{}, fmt.Errorf("dynamostore: append to room %s: %w", req.RoomID, err)
		}
	}
	if req.Leave != nil && pres.leaveShard > 0 {
		st.tidyRoster(ctx, req.RoomID)
	}
	if _, ok := req.Events[len(req.Events)-1].Data.(chat.RoomDeleted); ok {
		// The head now says deleted, and every reader checks it; the
		// member rows of a large room would overflow the transaction, so
		// they go afterwards. What is left by a crash here is harmless
		// and the rebuild tool removes it.
		if err := st.deleteMembers(ctx, req.RoomID); err != nil {
			st.logger.WarnContext(ctx, "member rows of a deleted room left behind", "room_id", req.RoomID, "error", err)
		}
	}
	return store.AppendResult{Events: req.Events}, nil
}

// cancelReason is why a transaction was cancelled, the more telling
// reasons greater.
type cancelReason int

const (
	cancelOther cancelReason = iota
	// Another transaction held one of the items: nothing was decided, try
	// the same write again.
	cancelRaced
	// A member row the append changes is not there although the head is
	// at the expected version.
	cancelMissingRow
	// The head moved (or, belt and braces, the event slot was taken, or
	// the message edited or deleted is gone): someone appended first.
	cancelVersion
	// The leaving connection is not in the room any more.
	cancelNotPresent
	// The sender's client_msg_id is already in the room.
	cancelDuplicate
)

// cancellation tells why a transaction was cancelled, the most telling
// reason first, and at which part.
func cancellation(reasons []types.CancellationReason, parts []part) (cancelReason, int) {
	why, at := cancelOther, -1
	for i, r := range reasons {
		if i >= len(parts) {
			break
		}
		var this cancelReason
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			switch parts[i].kind {
			case partMessageSent:
				this = cancelDuplicate
			case partLeave:
				this = cancelNotPresent
			case partMember:
				this = cancelMissingRow
			default:
				this = cancelVersion
			}
		case "TransactionConflict":
			this = cancelRaced
		default:
			continue
		}
		if this > why {
			why, at = this, i
		}
	}
	return why, at
}

func sleep(ctx context.Context, attempt int) {
	d := time.Duration(1<<attempt)*5*time.Millisecond + time.Duration(rand.IntN(10))*time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (st *Store) appendParts(req store.AppendRequest, rows rowPlans, conns map[string][]string, erase []erasure, pres presenceChange) ([]part, error) {
	pk := roomPK(req.RoomID)
	var parts []part
	created := req.ExpectedVersion == 0
	if created && (req.Join != nil || req.Leave != nil) {
		return nil, fmt.Errorf("dynamostore: the append that creates room %s cannot also join or leave it", req.RoomID)
	}
	last := req.Events[len(req.Events)-1]
	if created {
		r := chat.NewRoom(req.RoomID)
		for _, e := range req.Events {
			if err := r.Apply(e); err != nil {
				return nil, fmt.Errorf("dynamostore: %w", err)
			}
		}
		parts = append(parts, part{kind: partHead, write: types.TransactWriteItem{Put: &types.Put{
			TableName: st.table, Item: headItem(r), ConditionExpression: aws.String("attribute_not_exists(PK)"),
		}}})
	}
	set := []string{"#v = :v"}
	names := map[string]string{"#v": attrVersion}
	values := map[string]types.AttributeValue{":v": n(last.Seq), ":expected": n(req.ExpectedVersion)}
	var sent int64
	// A transaction writes an item once: an append that changes one
	// message twice is refused before it is sent.
	changed := map[string]bool{}
	message := func(id string) error {
		if changed[id] {
			return fmt.Errorf("dynamostore: append to room %s changes message %s twice: append those events one at a time", req.RoomID, id)
		}
		changed[id] = true
		return nil
	}
	for _, e := range req.Events {
		if e.IsActivity() {
			if _, ok := names["#la"]; !ok {
				set = append(set, "#la = :la")
			}
			names["#la"], values[":la"] = attrLastActivity, ts(e.At)
		}
		raw, err := e.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("dynamostore: encode event %d: %w", e.Seq, err)
		}
		ev := item(key(pk, eventSK(e.Seq)))
		ev[attrSeq], ev[attrEvent] = n(e.Seq), s(string(raw))
		parts = append(parts, part{write: types.TransactWriteItem{Put: &types.Put{
			TableName: st.table, Item: ev, ConditionExpression: aws.String("attribute_not_exists(PK)"),
		}}})
		switch d := e.Data.(type) {
		case chat.MessageSent:
			sent++
			// Keyed by what the id is derived from, not by the id the
			// event carries, so a resend is recognised whatever id its
			// caller drew.
			id := chat.MessageID(req.RoomID, e.Username, d.ClientMsgID)
			if err := message(id); err != nil {
				return nil, err
			}
			m := item(key(pk, messageSK(id)))
			m[attrSeq], m[attrAuthor] = n(e.Seq), s(e.Username)
			parts = append(parts, part{kind: partMessageSent, write: types.TransactWriteItem{Put: &types.Put{
				TableName: st.table, Item: m, ConditionExpression: aws.String("attribute_not_exists(PK)"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}}})
		case chat.MessageEdited:
			if err := message(d.MessageID); err != nil {
				return nil, err
			}
			parts = append(parts, st.messageChange(pk, d.MessageID, "SET #x = list_append(if_not_exists(#x, :none), :seq)", attrEdits,
				map[string]types.AttributeValue{":none": &types.AttributeValueMemberL{}, ":seq": &types.AttributeValueMemberL{Value: []types.AttributeValue{n(e.Seq)}}}))
		case chat.MessageDeleted:
			if err := message(d.MessageID); err != nil {
				return nil, err
			}
			parts = append(parts, st.messageChange(pk, d.MessageID, "SET #del = :true", "",
				map[string]types.AttributeValue{":true": &types.AttributeValueMemberBOOL{Value: true}}))
		case chat.RoomRenamed:
			if _, ok := names["#n"]; !ok {
				set = append(set, "#n = :n")
			}
			names["#n"], values[":n"] = attrName, s(d.Name)
		case chat.RoomDeleted:
			set = append(set, "#d = :d")
			names["#d"], values[":d"] = attrDeleted, &types.AttributeValueMemberBOOL{Value: true}
		}
	}
	for _, x := range erase {
		ev := item(key(pk, eventSK(x.seq)))
		ev[attrSeq], ev[attrEvent] = n(x.seq), s(x.raw)
		parts = append(parts, part{write: types.TransactWriteItem{Put: &types.Put{
			TableName: st.table, Item: ev, ConditionExpression: aws.String("attribute_exists(PK)"),
		}}})
	}
	for _, u := range rows.order {
		parts = append(parts, st.rowWrite(req.RoomID, u, rows.plans[u], conns[u]))
	}
	var adds []string
	parts = append(parts, st.rosterParts(req, rows, conns, pres)...)
	attr, delta, shards := rosterHead(req, pres)
	if attr != "" {
		adds = append(adds, "#rc :rc")
		names["#rc"], values[":rc"] = attr, n(delta)
	}
	if shards > 0 {
		set = append(set, "#rs = :rs")
		names["#rs"], values[":rs"] = attrShards, n(shards)
	}
	cond := "#v = :expected"
	if req.Join != nil {
		if c := shardsUnchanged(pres.join, "#rs", func(v types.AttributeValue) string { values[":rsread"] = v; return ":rsread" }); c != "" {
			names["#rs"] = attrShards
			cond += " AND " + c
		}
	}
	if !created {
		update := "SET " + strings.Join(set, ", ")
		if sent > 0 {
			// Added rather than set from req.Messages, so the head's count
			// holds even for a caller that got its count wrong; the
			// caller's count only numbers the read positions.
			adds = append(adds, "#msgs :sent")
			names["#msgs"], values[":sent"] = attrMsgs, n(sent)
		}
		if len(adds) > 0 {
			update += " ADD " + strings.Join(adds, ", ")
		}
		parts = append(parts, part{kind: partHead, write: types.TransactWriteItem{Update: &types.Update{
			TableName: st.table, Key: key(pk, skHead),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}}})
	}
	return parts, nil
}

// messageChange updates a message item that must exist and not be
// deleted; in the update #del names the deleted flag and #x attr.
func (st *Store) messageChange(pk, id, update, attr string, values map[string]types.AttributeValue) part {
	names := map[string]string{"#del": attrDeleted}
	if attr != "" {
		names["#x"] = attr
	}
	return part{kind: partMessage, write: types.TransactWriteItem{Update: &types.Update{
		TableName: st.table, Key: key(pk, messageSK(id)),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_exists(PK) AND attribute_not_exists(#del)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}}}
}

// headItem is the whole head of the room r.
func headItem(r *chat.Room) item {
	head := item(key(roomPK(r.ID), skHead))
	head[attrName], head[attrOwner], head[attrCreatedAt] = s(r.Name), s(r.Owner), ts(r.CreatedAt)
	head[attrVersion], head[attrLastActivity], head[attrMsgs] = n(r.Version), ts(r.LastActivityAt), n(r.Messages)
	if r.Deleted {
		head[attrDeleted] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if r.Kind == chat.KindDirect {
		head[attrKind] = s(string(chat.KindDirect))
		head[attrPair] = &types.AttributeValueMemberL{Value: []types.AttributeValue{s(r.Pair[0]), s(r.Pair[1])}}
	}
	return head
}

// duplicate answers a send whose client_msg_id the room already holds: it
// returns the stored original, erased if it was deleted since.
func (st *Store) duplicate(ctx context.Context, roomID string, old, attempted item) (store.AppendResult, error) {
	seq := old.num(attrSeq)
	if seq == 0 {
		// Not every DynamoDB returns the item with the cancellation.
		out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: st.table, Key: key(attempted.str(AttrPK), attempted.str(AttrSK)), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return store.AppendResult{}, fmt.Errorf("dynamostore: read message: %w", err)
		}
		seq = item(out.Item).num(attrSeq)
	}
	page, err := st.readEvents(ctx, roomID, seq, seq, 1, true)
	if err != nil {
		return store.AppendResult{}, err
	}
	if len(page.Events) != 1 {
		return store.AppendResult{}, fmt.Errorf("dynamostore: room %s: message item points at missing event %d", roomID, seq)
	}
	return store.AppendResult{Events: page.Events, Duplicate: true}, nil
}

func (st *Store) deleteMembers(ctx context.Context, roomID string) error {
	rows, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sk)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(roomPK(roomID)), ":sk": s("MEMBER#")},
		ProjectionExpression:      aws.String("PK, SK"),
	})
	if err != nil {
		return err
	}
	keys := make([]map[string]types.AttributeValue, len(rows))
	for i, r := range rows {
		keys[i] = key(r.str(AttrPK), r.str(AttrSK))
	}
	return st.batchDelete(ctx, keys)
}

// query runs a Query on the table to its end, following pages.
func (st *Store) query(ctx context.Context, in *dynamodb.QueryInput) ([]item, error) {
	in.TableName = st.table
	var out []item
	for {
		res, err := st.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("dynamostore: query: %w", err)
		}
		for _, it := range res.Items {
			out = append(out, it)
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

func (st *Store) batchDelete(ctx context.Context, keys []map[string]types.AttributeValue) error {
	var writes []types.WriteRequest
	for _, k := range keys {
		writes = append(writes, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	return st.batchWrite(ctx, writes)
}

func (st *Store) batchWrite(ctx context.Context, writes []types.WriteRequest) error {
	for len(writes) > 0 {
		chunk := writes[:min(maxBatchWrite, len(writes))]
		writes = writes[len(chunk):]
		for attempt := 0; len(chunk) > 0; attempt++ {
			out, err := st.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{*st.table: chunk}})
			if err != nil {
				return fmt.Errorf("dynamostore: batch write: %w", err)
			}
			chunk = out.UnprocessedItems[*st.table]
			if len(chunk) > 0 {
				sleep(ctx, min(attempt, 6))
			}
		}
	}
	return nil
}

// batchGet reads the keys (any number), consistently when asked.
func (st *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, consistent bool, projection string) ([]item, error) {
	var out []item
	for len(keys) > 0 {
		chunk := keys[:min(maxBatchGet, len(keys))]
		keys = keys[len(chunk):]
		ka := &types.KeysAndAttributes{Keys: chunk, ConsistentRead: aws.Bool(consistent)}
		if projection != "" {
			ka.ProjectionExpression = aws.String(projection)
			ka.ExpressionAttributeNames = map[string]string{"#pk": AttrPK}
		}
		req := map[string]types.KeysAndAttributes{*st.table: *ka}
		for attempt := 0; len(req) > 0; attempt++ {
			res, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("dynamostore: batch get: %w", err)
			}
			for _, it := range res.Responses[*st.table] {
				out = append(out, it)
			}
			req = res.UnprocessedKeys
			if len(req) > 0 {
				sleep(ctx, min(attempt, 6))
			}
		}
	}
	return out, nil
}

func roomFromHead(roomID string, head item) *chat.Room {
	r := &chat.Room{
		ID: roomID, Name: head.str(attrName), Owner: head.str(attrOwner),
		CreatedAt: head.time(attrCreatedAt), LastActivityAt: head.time(attrLastActivity),
		Version: head.num(attrVersion), Deleted: head.bool(attrDeleted), Members: map[string]chat.Role{},
		Messages: head.num(attrMsgs),
	}
	if chat.RoomKind(head.str(attrKind)) == chat.KindDirect {
		r.Kind = chat.KindDirect
		copy(r.Pair[:], head.strs(attrPair))
	}
	return r
}

// Room implements store.Rooms with one Query: the head and the member rows
// sort next to each other ("HEAD" < "MEMBER#..." < "MSG#...").
func (st *Store) Room(ctx context.Context, roomID string) (*chat.Room, error) {
	rows, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(roomPK(roomID)), ":from": s(skHead), ":to": s("MEMBER$")},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: read room %s: %w", roomID, err)
	}
	if len(rows) == 0 || rows[0].str(AttrSK) != skHead {
		return nil, store.ErrNotFound
	}
	r := roomFromHead(roomID, rows[0])
	if r.Deleted {
		return r, nil // member rows may linger until the cleanup runs
	}
	for _, m := range rows[1:] {
		r.Members[m.str(attrUsername)] = chat.Role(m.str(attrRole))
	}
	return r, nil
}

// RoomAs implements store.Rooms: the head and the named member rows, in
// one BatchGetItem per hundred.
func (st *Store) RoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error) {
	return st.roomAs(ctx, roomID, true, usernames)
}

// RecentRoomAs implements store.Rooms: RoomAs read eventually consistent,
// at half the read units.
func (st *Store) RecentRoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error) {
	return st.roomAs(ctx, roomID, false, usernames)
}

func (st *Store) roomAs(ctx context.Context, roomID string, consistent bool, usernames []string) (*chat.Room, error) {
	pk := roomPK(roomID)
	keys := []map[string]types.AttributeValue{key(pk, skHead)}
	seen := make(map[string]bool, len(usernames))
	for _, u := range usernames {
		if !seen[u] { // BatchGetItem refuses a repeated key
			seen[u] = true
			keys = append(keys, key(pk, memberSK(u)))
		}
	}
	rows, err := st.batchGet(ctx, keys, consistent, "")
	if err != nil {
		return nil, fmt.Errorf("dynamostore: read room %s: %w", roomID, err)
	}
	var r *chat.Room
	roles := make(map[string]chat.Role, len(rows))
	for _, row := range rows {
		if row.str(AttrSK) == skHead {
			r = roomFromHead(roomID, row)
		} else {
			roles[row.str(attrUsername)] = chat.Role(row.str(attrRole))
		}
	}
	if r == nil {
		return nil, store.ErrNotFound
	}
	if !r.Deleted {
		r.Members = roles
	}
	return r, nil
}

// readEvents reads events with from <= seq <= to in one direction, stopping
// after limit of them; HasMore says whether the range held more.
func (st *Store) readEvents(ctx context.Context, roomID string, from, to int64, limit int, forward bool) (store.Page, error) {
	var page store.Page
	if from > to {
		return page, nil
	}
	in := &dynamodb.QueryInput{
		TableName:              st.table,
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(roomPK(roomID)), ":from": s(eventSK(from)), ":to": s(eventSK(to)),
		},
		ProjectionExpression:     aws.String("#e"),
		ExpressionAttributeNames: map[string]string{"#e": attrEvent},
		ConsistentRead:           aws.Bool(true),
		ScanIndexForward:         aws.Bool(forward),
	}
	for {
		// One more than asked tells whether there is more.
		in.Limit = aws.Int32(int32(limit + 1 - len(page.Events)))
		res, err := st.db.Query(ctx, in)
		if err != nil {
			return store.Page{}, fmt.Errorf("dynamostore: read room %s: %w", roomID, err)
		}
		for _, row := range res.Items {
			if len(page.Events) == limit {
				page.HasMore = true
				break
			}
			var e chat.Event
			if err := e.UnmarshalJSON([]byte(item(row).str(attrEvent))); err != nil {
				return store.Page{}, fmt.Errorf("dynamostore: room %s: %w", roomID, err)
			}
			e.RoomID = roomID
			page.Events = append(page.Events, e)
		}
		if page.HasMore || len(res.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
	if !forward {
		for i, j := 0, len(page.Events)-1; i < j; i, j = i+1, j-1 {
			page.Events[i], page.Events[j] = page.Events[j], page.Events[i]
		}
	}
	return page, nil
}

const maxSeq = 1<<63 - 1

// ReadForward implements store.Rooms.
func (st *Store) ReadForward(ctx context.Context, roomID string, afterSeq int64, limit int) (store.Page, error) {
	if err := store.CheckLimit(limit); err != nil {
		return store.Page{}, err
	}
	if afterSeq >= maxSeq {
		// Nothing can come after the largest seq, and afterSeq+1 would
		// wrap round to the smallest and read from the first event.
		return store.Page{}, nil
	}
	return st.readEvents(ctx, roomID, max(afterSeq, 0)+1, maxSeq, limit, true)
}

// ReadBackward implements store.Rooms.
func (st *Store) ReadBackward(ctx context.Context, roomID string, beforeSeq int64, limit int) (store.Page, error) {
	if err := store.CheckLimit(limit); err != nil {
		return store.Page{}, err
	}
	to := int64(maxSeq)
	if beforeSeq > 0 {
		to = beforeSeq - 1
	}
	return st.readEvents(ctx, roomID, 1, to, limit, false)
}

// RoomsOf implements store.Rooms: the index gives the user's member rows
// with their read fields, the heads give names, activity, kind and message
// counts, and a deleted head drops the room.
func (st *Store) RoomsOf(ctx context.Context, username string) ([]store.RoomSummary, error) {
	rows, err := st.memberRowsOf(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: rooms of %s: %w", username, err)
	}
	members := make(map[string]store.Membership, len(rows))
	keys := make([]map[string]types.AttributeValue, 0, len(rows))
	for _, r := range rows {
		m := membershipOf(r)
		m.Username = username // the index does not project it
		members[r.str(AttrPK)] = m
		keys = append(keys, key(r.str(AttrPK), skHead))
	}
	heads, err := st.batchGet(ctx, keys, false, "")
	if err != nil {
		return nil, fmt.Errorf("dynamostore: rooms of %s: %w", username, err)
	}
	out := make([]store.RoomSummary, 0, len(heads))
	for _, h := range heads {
		if h.bool(attrDeleted) {
			continue
		}
		pk := h.str(AttrPK)
		out = append(out, store.Summarize(roomFromHead(strings.TrimPrefix(pk, "ROOM#"), h), members[pk]))
	}
	store.SortSummaries(out)
	return out, nil
}

// memberRowsOf lists the user's member rows through GSI1, with what the
// index projects: the keys, role and the read fields.
func (st *Store) memberRowsOf(ctx context.Context, username string) ([]item, error) {
	return st.query(ctx, &dynamodb.QueryInput{
		IndexName:                 aws.String(IndexUserRoom),
		KeyConditionExpression:    aws.String("GSI1PK = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(userPK(username))},
	})
}
