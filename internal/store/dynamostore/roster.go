package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/store"
)

// A room's joined connections live in roster items, about a hundred
// connections each, so that a message reads its recipients in one
// GetItem (a BatchGetItem in a room of more than a hundred sockets)
// instead of one item per connection: at 100 sockets that is one read
// unit where the per-connection items cost three, and the count of items
// grows a hundred times slower than the room.
//
// The room's head counts each shard's entries (r<k>) and how many shards
// the room uses (shards), in the same transactions that join and leave:
// a join reads the head, picks the lowest shard with room, and the
// version check keeps the counts true. Shard 0 repeats the number of
// shards for readers, who need not read the head. A connection keeps its
// shard from join to leave, so no entry ever moves; since joins fill the
// lowest shards, the highest ones empty once a big room's crowd has
// gone, and shrinkRoster then lowers the number, so that a message stops
// paying a read unit for each shard the room once needed.
// Each connection is one top-level attribute, C<connection id> =
// "<expires epoch> <username>", so a join and a leave touch their own
// attribute and nothing else.
//
// The roster has a partition of its own (ROSTER#<room>): it is read on
// every message, and a room's hot partition is left to the writes.
//
// The connection's own link to the room (CONN#<id>, ROOM#<room>) says
// which shard holds it; leaving and forgetting read it there.
const (
	attrShards = "shards"
	attrShard  = "shard"
	// rosterShardSize keeps a shard of short ids and names within one
	// 4 KB read unit.
	rosterShardSize = 100
	// maxRosterShards bounds a room at 25,600 joined sockets: more than
	// its 1,000 members' 20 sockets each.
	maxRosterShards = 256
	entryPrefix     = "C"
	// awayPrefix names a member's open sockets that are not joined to the
	// room, on shard 0: A<username> is a string set.
	awayPrefix = "A"
)

// shardCountAttr names the head's count of the shard's entries.
func shardCountAttr(shard int) string { return "r" + strconv.Itoa(shard) }

// errRosterFull is a room past maxRosterShards, which its member and
// socket limits make impossible.
var errRosterFull = fmt.Errorf("dynamostore: the room's roster is full (%d connections): %w", rosterShardSize*maxRosterShards, store.ErrLimit)

func rosterPK(room string) string { return "ROSTER#" + room }
func rosterSK(shard int) string   { return "R#" + strconv.Itoa(shard) }

// shardNumber is the shard a roster item holds, from its sort key.
func shardNumber(it item) int {
	k, _ := strconv.Atoi(strings.TrimPrefix(it.str(AttrSK), "R#"))
	return k
}

func rosterKey(room string, shard int) map[string]types.AttributeValue {
	return key(rosterPK(room), rosterSK(shard))
}

// rosterEntry is an entry's value: when it lapses, and whose it is.
func rosterEntry(p store.Presence) string {
	return strconv.FormatInt(p.ExpiresAt.Unix(), 10) + " " + p.Username
}

// parseRoster reads a shard's entries.
func parseRoster(it item, now time.Time) (live []store.Presence, lapsed map[string]string) {
	for name, v := range it {
		id, ok := strings.CutPrefix(name, entryPrefix)
		sv, isStr := v.(*types.AttributeValueMemberS)
		if !ok || !isStr {
			continue
		}
		at, user, _ := strings.Cut(sv.Value, " ")
		sec, err := strconv.ParseInt(at, 10, 64)
		if err == nil && !now.Before(time.Unix(sec, 0)) {
			if lapsed == nil {
				lapsed = map[string]string{}
			}
			lapsed[id] = sv.Value
			continue
		}
		live = append(live, store.Presence{ConnectionID: id, Username: user, ExpiresAt: time.Unix(sec, 0)})
	}
	return live, lapsed
}

// spot is where a joining connection goes: its shard, whether it is new
// there (a rejoin keeps its entry and its count), and how many shards the
// room had; shard == shards opens a new one. read is the head's shards
// attribute as the placement read it (0 when absent): the join holds only
// while it is unchanged, since a shrink may have taken the shard away.
type spot struct {
	shard  int
	fresh  bool
	shards int
	read   int64
}

// placeJoin decides the shard of a joining connection: the one it
// already has, else the lowest with room, so that joins fill what leaves
// free and the highest shards can empty; a new shard when all are full.
func (st *Store) placeJoin(ctx context.Context, roomID, connectionID string) (spot, error) {
	link, err := st.get(ctx, connPK(connectionID), roomPK(roomID))
	switch {
	case err == nil && link[attrShard] != nil:
		return spot{shard: int(link.num(attrShard)), shards: -1}, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return spot{}, fmt.Errorf("dynamostore: connection's link to room %s: %w", roomID, err)
	}
	head, err := st.get(ctx, roomPK(roomID), skHead)
	if err != nil {
		return spot{}, wrapRead("room head", err)
	}
	read := head.num(attrShards)
	shards := max(1, int(read))
	for k := range shards {
		if head.num(shardCountAttr(k)) < rosterShardSize {
			return spot{shard: k, fresh: true, shards: shards, read: read}, nil
		}
	}
	if shards >= maxRosterShards {
		return spot{}, errRosterFull
	}
	return spot{shard: shards, fresh: true, shards: shards, read: read}, nil
}

// shardsUnchanged is the head's condition for a join placed at sp: the
// number of shards is still what the placement read, since a shrink in
// between may have taken the shard away. name is the placeholder of the
// shards attribute and value makes one for a value. A rejoin keeps its
// shard, which its own entry keeps from shrinking, and needs none.
func shardsUnchanged(sp spot, name string, value func(types.AttributeValue) string) string {
	switch {
	case !sp.fresh:
		return ""
	case sp.read == 0:
		return "attribute_not_exists(" + name + ")"
	default:
		return name + " = " + value(n(sp.read))
	}
}

// rosterParts are an append's writes to the room's roster: a joining
// connection's entry and its link to the room, a leaving one's, and the
// away sockets of the members the append joins, adds or removes. Shard 0
// is written once, whatever falls on it.
func (st *Store) rosterParts(req store.AppendRequest, rows rowPlans, conns map[string][]string, pres presenceChange) []part {
	zero := newItemUpdate()
	zeroKind := partOther
	var parts []part
	shardUpdate := func(shard int) *itemUpdate {
		if shard == 0 {
			return zero
		}
		return newItemUpdate()
	}
	emit := func(shard int, u *itemUpdate, kind partKind) {
		if shard != 0 {
			parts = append(parts, part{kind: kind, write: types.TransactWriteItem{Update: u.write(st.table, rosterKey(req.RoomID, shard))}})
		} else if kind != partOther {
			zeroKind = kind
		}
	}
	if j := req.Join; j != nil {
		sp := pres.join
		u := shardUpdate(sp.shard)
		u.set(entryPrefix+j.ConnectionID, s(rosterEntry(*j)))
		if !sp.fresh {
			// A rejoin counts on its entry still being there: one taken
			// out meanwhile (its socket gone) would come back uncounted,
			// and a shrink trusts the counts. The append then fails as a
			// conflict, and the next placement finds the link gone too.
			u.require("attribute_exists(" + u.name(entryPrefix+j.ConnectionID) + ")")
		}
		emit(sp.shard, u, partOther)
		if sp.fresh && (sp.shard == 0 || sp.shard == sp.shards) {
			// Shard 0 tells readers how many shards to read.
			zero.set(attrShards, n(int64(max(sp.shards, sp.shard+1))))
		}
		zero.del(awayPrefix+j.Username, j.ConnectionID)
		link := item(key(connPK(j.ConnectionID), roomPK(req.RoomID)))
		link[AttrExpiresAt], link[attrShard] = n(j.ExpiresAt.Unix()), n(int64(sp.shard))
		parts = append(parts, part{write: types.TransactWriteItem{Put: &types.Put{TableName: st.table, Item: link}}})
	}
	if l := req.Leave; l != nil {
		u := shardUpdate(pres.leaveShard)
		u.remove(entryPrefix + l.ConnectionID)
		u.require("attribute_exists(" + u.name(entryPrefix+l.ConnectionID) + ")")
		emit(pres.leaveShard, u, partLeave)
		// The socket stays open (a $disconnect takes it off afterwards).
		zero.addTo(awayPrefix+l.Username, l.ConnectionID)
		parts = append(parts, part{write: types.TransactWriteItem{Delete: &types.Delete{TableName: st.table, Key: key(connPK(l.ConnectionID), roomPK(req.RoomID))}}})
	}
	for _, u := range rows.order {
		switch p := rows.plans[u]; {
		case p.op == rowDelete:
			zero.remove(awayPrefix + u)
		case p.joins() && len(conns[u]) > 0:
			zero.addTo(awayPrefix+u, conns[u]...)
		}
	}
	if !zero.empty() {
		parts = append(parts, part{kind: zeroKind, write: types.TransactWriteItem{Update: zero.write(st.table, rosterKey(req.RoomID, 0))}})
	}
	return parts
}

// rosterHead is what a join or leave changes on the room's head: the
// count of its shard's entries, by delta (attr empty when none), and the
// number of shards when a join opens one (0 when not).
func rosterHead(req store.AppendRequest, pres presenceChange) (attr string, delta, shards int64) {
	switch {
	case req.Join != nil:
		if pres.join.fresh {
			attr, delta = shardCountAttr(pres.join.shard), 1
		}
		if pres.join.shard == pres.join.shards {
			shards = int64(pres.join.shards + 1)
		}
	case req.Leave != nil:
		attr, delta = shardCountAttr(pres.leaveShard), -1
	}
	return attr, delta, shards
}

// conflicted reports whether a cancelled transaction lost a race with
// another on the same items, rather than failing a condition.
func conflicted(c *types.TransactionCanceledException) bool {
	return slices.ContainsFunc(c.CancellationReasons, func(r types.CancellationReason) bool { return aws.ToString(r.Code) == "TransactionConflict" })
}

// itemUpdate builds one UpdateItem's expression, clause by clause.
type itemUpdate struct {
	sets, adds, dels, removes []string
	names                     map[string]string
	values                    map[string]types.AttributeValue
	cond                      string
}

func newItemUpdate() *itemUpdate {
	return &itemUpdate{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

func (u *itemUpdate) name(attr string) string {
	for ph, a := range u.names {
		if a == attr {
			return ph
		}
	}
	ph := "#a" + strconv.Itoa(len(u.names))
	u.names[ph] = attr
	return ph
}

func (u *itemUpdate) value(v types.AttributeValue) string {
	ph := ":v" + strconv.Itoa(len(u.values))
	u.values[ph] = v
	return ph
}

func (u *itemUpdate) set(attr string, v types.AttributeValue) {
	u.sets = append(u.sets, u.name(attr)+" = "+u.value(v))
}
func (u *itemUpdate) addTo(attr string, ids ...string) {
	u.adds = append(u.adds, u.name(attr)+" "+u.value(&types.AttributeValueMemberSS{Value: ids}))
}
func (u *itemUpdate) del(attr string, ids ...string) {
	u.dels = append(u.dels, u.name(attr)+" "+u.value(&types.AttributeValueMemberSS{Value: ids}))
}
func (u *itemUpdate) remove(attr string) { u.removes = append(u.removes, u.name(attr)) }

// require adds a condition, and-ed with those before it.
func (u *itemUpdate) require(cond string) {
	if u.cond != "" {
		cond = u.cond + " AND " + cond
	}
	u.cond = cond
}

func (u *itemUpdate) empty() bool {
	return len(u.sets)+len(u.adds)+len(u.dels)+len(u.removes) == 0
}

func (u *itemUpdate) write(table *string, k map[string]types.AttributeValue) *types.Update {
	var clauses []string
	for _, c := range []struct {
		verb  string
		parts []string
	}{{"SET", u.sets}, {"ADD", u.adds}, {"DELETE", u.dels}, {"REMOVE", u.removes}} {
		if len(c.parts) > 0 {
			clauses = append(clauses, c.verb+" "+strings.Join(c.parts, ", "))
		}
	}
	out := &types.Update{TableName: table, Key: k, UpdateExpression: aws.String(strings.Join(clauses, " ")), ExpressionAttributeNames: u.names}
	if len(u.values) > 0 {
		out.ExpressionAttributeValues = u.values
	}
	if u.cond != "" {
		out.ConditionExpression = aws.String(u.cond)
	}
	return out
}

// noteAway ADDs ids to, or DELETEs them from, the user's away sockets in
// the room: a socket opened or closed, as changeRowConnections does on the
// member row. A failure is logged, not returned: the away sockets only
// carry the room list lines, which the next list brings anyway, and a
// socket must not fail to open because of them (shard 0 of a room of a
// thousand members with twenty sockets each nears DynamoDB's 400 KB item).
func (st *Store) noteAway(ctx context.Context, room, username, op string, ids []string) {
	if err := st.changeAway(ctx, room, username, op, ids); err != nil {
		st.logger.WarnContext(ctx, "away sockets not noted", "room_id", room, "username", username, "error", err.Error())
	}
}

func (st *Store) changeAway(ctx context.Context, room, username, op string, ids []string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: st.table, Key: rosterKey(room, 0),
		UpdateExpression:          aws.String(op + " #a :ids"),
		ExpressionAttributeNames:  map[string]string{"#a": awayPrefix + username},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ids": &types.AttributeValueMemberSS{Value: ids}},
	})
	if err != nil {
		return fmt.Errorf("away sockets of %s in room %s: %w", username, room, err)
	}
	return nil
}

// shardOf reads which shard holds the connection in the room; ErrNotPresent
// when it has not joined it.
func (st *Store) shardOf(ctx context.Context, roomID, connectionID string) (int, error) {
	link, err := st.get(ctx, connPK(connectionID), roomPK(roomID))
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && link[attrShard] == nil:
		return 0, store.ErrNotPresent
	case err != nil:
		return 0, fmt.Errorf("dynamostore: connection's link to room %s: %w", roomID, err)
	}
	return int(link.num(attrShard)), nil
}

// dropEntry takes one entry out of a shard without an event, counts it
// out on the head and deletes the connection's link to the room, together:
// when want is set, only if the entry still holds that value (a lapsed
// entry, not one a rejoin refreshed). An entry already gone is no error.
// Without its link, a later join of the same connection is placed afresh
// and counted, where a rejoin would have found no entry to keep.
func (st *Store) dropEntry(ctx context.Context, roomID string, shard int, connectionID, want string) error {
	names := map[string]string{"#c": entryPrefix + connectionID}
	var values map[string]types.AttributeValue
	cond := "attribute_exists(#c)"
	if want != "" {
		cond, values = "#c = :want", map[string]types.AttributeValue{":want": s(want)}
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: st.table, Key: rosterKey(roomID, shard), UpdateExpression: aws.String("REMOVE #c"),
			ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values}},
		{Update: &types.Update{TableName: st.table, Key: key(roomPK(roomID), skHead), UpdateExpression: aws.String("ADD #rc :minus"),
			ConditionExpression:       aws.String("attribute_exists(PK)"),
			ExpressionAttributeNames:  map[string]string{"#rc": shardCountAttr(shard)},
			ExpressionAttributeValues: map[string]types.AttributeValue{":minus": n(-1)}}},
		{Delete: &types.Delete{TableName: st.table, Key: key(connPK(connectionID), roomPK(roomID))}},
	}}
	for attempt := 0; ; attempt++ {
		_, err := st.db.TransactWriteItems(ctx, in)
		var canceled *types.TransactionCanceledException
		switch {
		case err == nil:
			if shard > 0 {
				st.tidyRoster(ctx, roomID)
			}
			return nil
		case !errors.As(err, &canceled):
			return fmt.Errorf("dynamostore: take %s out of room %s: %w", connectionID, roomID, err)
		case !conflicted(canceled):
			return nil // gone already, or the room is
		case attempt == maxConflictRetries:
			return fmt.Errorf("dynamostore: take %s out of room %s: %w", connectionID, roomID, err)
		}
		// A message's append held the head: try again.
		sleep(ctx, attempt)
	}
}

// maxShrinkStep bounds the shards one shrink takes away, so that its
// condition, one clause a shard, stays well within DynamoDB's 4 KB
// expression limit; a bigger shrink takes several steps.
const maxShrinkStep = 32

// tidyRoster shrinks the room's roster after an entry left a shard past
// the first; a failure is logged, not returned: the leave is done, and an
// unneeded shard costs a read unit a message until the next leave.
func (st *Store) tidyRoster(ctx context.Context, roomID string) {
	if err := st.shrinkRoster(ctx, roomID); err != nil {
		st.logger.WarnContext(ctx, "roster not shrunk", "room_id", roomID, "error", err.Error())
	}
}

// shrinkRoster lowers the room's number of shards to one past the highest
// that holds an entry, on the head and on shard 0 together, conditioned
// on the number being unchanged and every shard given up still empty. A
// join placed on the old number fails its own condition (shardsUnchanged)
// and is placed again. Losing a race to a join is no error: the shard is
// in use again.
func (st *Store) shrinkRoster(ctx context.Context, roomID string) error {
	head, err := st.get(ctx, roomPK(roomID), skHead)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("dynamostore: read the head of room %s: %w", roomID, err)
	}
	shards := int(head.num(attrShards))
	keep := 1
	for k := shards - 1; k >= 1; k-- {
		if head.num(shardCountAttr(k)) > 0 {
			keep = k + 1
			break
		}
	}
	if keep >= shards {
		return nil
	}
	// The counts say the shards past keep are empty; their items must
	// agree, or an entry counted wrong (by an older version, say) would
	// be hidden from every message. A join after this read counts itself
	// on the head, which the condition below sees.
	var keys []map[string]types.AttributeValue
	for k := keep; k < shards; k++ {
		keys = append(keys, rosterKey(roomID, k))
	}
	items, err := st.batchGet(ctx, keys, true, "")
	if err != nil {
		return fmt.Errorf("dynamostore: read the shards room %s may give up: %w", roomID, err)
	}
	for _, it := range items {
		if k := shardNumber(it); k >= keep && holdsEntries(it) {
			keep = k + 1
		}
	}
	for shards > keep {
		lower := max(keep, shards-maxShrinkStep)
		h := newItemUpdate()
		h.set(attrShards, n(int64(lower)))
		h.require(h.name(attrShards) + " = " + h.value(n(int64(shards))))
		zero := h.value(n(0))
		for k := lower; k < shards; k++ {
			c := h.name(shardCountAttr(k))
			h.require("(attribute_not_exists(" + c + ") OR " + c + " = " + zero + ")")
			h.remove(shardCountAttr(k))
		}
		z := newItemUpdate()
		z.set(attrShards, n(int64(lower)))
		_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: h.write(st.table, key(roomPK(roomID), skHead))},
			{Update: z.write(st.table, rosterKey(roomID, 0))},
		}})
		var canceled *types.TransactionCanceledException
		switch {
		case errors.As(err, &canceled):
			return nil
		case err != nil:
			return fmt.Errorf("dynamostore: shrink the roster of room %s: %w", roomID, err)
		}
		shards = lower
	}
	return nil
}

// holdsEntries reports whether a shard item holds any entry, lapsed or
// not.
func holdsEntries(it item) bool {
	for name := range it {
		if strings.HasPrefix(name, entryPrefix) {
			return true
		}
	}
	return false
}

// roster reads the room's roster: shard 0, then the others it names in
// one BatchGetItem. Lapsed entries (a connection whose $disconnect never
// ran) are skipped and cleared.
func (st *Store) roster(ctx context.Context, roomID string) (store.Roster, error) {
	first, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: st.table, Key: rosterKey(roomID, 0), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return store.Roster{}, fmt.Errorf("dynamostore: roster of room %s: %w", roomID, err)
	}
	shards := []item{first.Item}
	if count := int(item(first.Item).num(attrShards)); count > 1 {
		keys := make([]map[string]types.AttributeValue, 0, count-1)
		for k := 1; k < count; k++ {
			keys = append(keys, rosterKey(roomID, k))
		}
		rest, err := st.batchGet(ctx, keys, true, "")
		if err != nil {
			return store.Roster{}, fmt.Errorf("dynamostore: roster of room %s: %w", roomID, err)
		}
		shards = append(shards, rest...)
	}
	now := time.Now()
	var out store.Roster
	for _, sh := range shards {
		live, lapsed := parseRoster(sh, now)
		out.Joined = append(out.Joined, live...)
		if len(lapsed) == 0 {
			continue
		}
		shard := shardNumber(sh)
		for id, v := range lapsed {
			if err := st.dropEntry(ctx, roomID, shard, id, v); err != nil {
				st.logger.WarnContext(ctx, "lapsed connection left in the roster", "room_id", roomID, "connection_id", id, "error", err.Error())
			}
		}
	}
	joined := make(map[string]bool, len(out.Joined))
	for _, p := range out.Joined {
		joined[p.ConnectionID] = true
	}
	for name := range first.Item {
		user, ok := strings.CutPrefix(name, awayPrefix)
		if !ok {
			continue
		}
		// A socket can be both when the user's other socket opening put
		// all of them here; joined wins.
		if ids := slices.DeleteFunc(item(first.Item).strs(name), func(id string) bool { return joined[id] }); len(ids) > 0 {
			if out.Away == nil {
				out.Away = map[string][]string{}
			}
			out.Away[user] = ids
		}
	}
	return out, nil
}

// removeFromRooms takes connections out of the rooms their links name
// (each link's PK, SK and shard), entries first and links after, so a
// retry after a failure still finds what is left.
func (st *Store) removeFromRooms(ctx context.Context, links []item) error {
	keys := make([]map[string]types.AttributeValue, 0, len(links))
	for _, l := range links {
		connectionID := strings.TrimPrefix(l.str(AttrPK), "CONN#")
		roomID := strings.TrimPrefix(l.str(AttrSK), "ROOM#")
		if l[attrShard] != nil {
			if err := st.dropEntry(ctx, roomID, int(l.num(attrShard)), connectionID, ""); err != nil {
				return err
			}
		}
		keys = append(keys, key(l.str(AttrPK), l.str(AttrSK)))
	}
	return st.batchDelete(ctx, keys)
}
