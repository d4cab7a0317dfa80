package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// CreateUser implements store.Users.
func (st *Store) CreateUser(ctx context.Context, u store.User) error {
	it := item(key(userPK(u.Username), skProfile))
	it[attrUsername], it[attrPasswordHash], it[attrCreatedAt] = s(u.Username), s(u.PasswordHash), ts(u.CreatedAt)
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: st.table, Item: it, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	var taken *types.ConditionalCheckFailedException
	if errors.As(err, &taken) {
		return store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("dynamostore: create user: %w", err)
	}
	return nil
}

func (st *Store) get(ctx context.Context, pk, sk string) (item, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: st.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if out.Item == nil {
		return nil, store.ErrNotFound
	}
	return out.Item, nil
}

func (st *Store) delete(ctx context.Context, pk, sk string) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: st.table, Key: key(pk, sk)})
	return err
}

func wrapRead(what string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return err
	}
	return fmt.Errorf("dynamostore: read %s: %w", what, err)
}

// User implements store.Users.
func (st *Store) User(ctx context.Context, username string) (store.User, error) {
	it, err := st.get(ctx, userPK(username), skProfile)
	if err != nil {
		return store.User{}, wrapRead("user", err)
	}
	return store.User{Username: it.str(attrUsername), PasswordHash: it.str(attrPasswordHash), CreatedAt: it.time(attrCreatedAt)}, nil
}

// ExistingUsers implements store.Users.
func (st *Store) ExistingUsers(ctx context.Context, usernames []string) (map[string]bool, error) {
	seen := make(map[string]bool, len(usernames))
	keys := make([]map[string]types.AttributeValue, 0, len(usernames))
	for _, u := range usernames {
		if !seen[u] { // BatchGetItem refuses a repeated key
			seen[u] = true
			keys = append(keys, key(userPK(u), skProfile))
		}
	}
	rows, err := st.batchGet(ctx, keys, false, "#pk")
	if err != nil {
		return nil, fmt.Errorf("dynamostore: look up users: %w", err)
	}
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		out[strings.TrimPrefix(r.str(AttrPK), "USER#")] = true
	}
	return out, nil
}

// CreateSession implements store.Sessions.
func (st *Store) CreateSession(ctx context.Context, se store.Session) error {
	it := item(key(sessionPK(se.TokenHash), skSession))
	it[attrUsername], it[attrCreatedAt], it[AttrExpiresAt] = s(se.Username), ts(se.CreatedAt), n(se.ExpiresAt.Unix())
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: st.table, Item: it}); err != nil {
		return fmt.Errorf("dynamostore: create session: %w", err)
	}
	return nil
}

// Session implements store.Sessions.
func (st *Store) Session(ctx context.Context, tokenHash string) (store.Session, error) {
	it, err := st.get(ctx, sessionPK(tokenHash), skSession)
	if err != nil {
		return store.Session{}, wrapRead("session", err)
	}
	return store.Session{TokenHash: tokenHash, Username: it.str(attrUsername), CreatedAt: it.time(attrCreatedAt), ExpiresAt: it.epoch(AttrExpiresAt)}, nil
}

// DeleteSession implements store.Sessions.
func (st *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	if err := st.delete(ctx, sessionPK(tokenHash), skSession); err != nil {
		return fmt.Errorf("dynamostore: delete session: %w", err)
	}
	return nil
}

// sortKeysUnder lists the sort keys under pk that start with prefix, with
// the prefix cut off.
func (st *Store) sortKeysUnder(ctx context.Context, pk, prefix string) ([]string, error) {
	return st.keysUnder(ctx, pk, prefix, false)
}

// liveKeysUnder is sortKeysUnder without the items past their
// expires_at, which DynamoDB's TTL deletes only lazily (within days):
// every read of connections and presence treats them as gone.
func (st *Store) liveKeysUnder(ctx context.Context, pk, prefix string) ([]string, error) {
	return st.keysUnder(ctx, pk, prefix, true)
}

func (st *Store) keysUnder(ctx context.Context, pk, prefix string, live bool) ([]string, error) {
	rows, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":p": s(prefix)},
		ProjectionExpression:      aws.String("SK, #e"),
		ExpressionAttributeNames:  map[string]string{"#e": AttrExpiresAt},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		if live && expired(r, now) {
			continue
		}
		out = append(out, strings.TrimPrefix(r.str(AttrSK), prefix))
	}
	return out, nil
}

// expired reports whether an item with a TTL is past it. The filter is
// applied on the answer, not as a FilterExpression: those cost the same
// read capacity, and one clock judges every read.
func expired(it item, now time.Time) bool {
	return it[AttrExpiresAt] != nil && !now.Before(it.epoch(AttrExpiresAt))
}

// SessionConnections implements store.Sessions.
func (st *Store) SessionConnections(ctx context.Context, tokenHash string) ([]string, error) {
	out, err := st.liveKeysUnder(ctx, sessionPK(tokenHash), "CONN#")
	if err != nil {
		return nil, fmt.Errorf("dynamostore: connections of session: %w", err)
	}
	return out, nil
}

// PutConnection implements store.Connections: one transaction checks the
// session, puts the connection and its link from the session, and adds the
// connection to its user's set of open ones, at most maxPerUser long.
// The set can hold connections whose $disconnect never ran (API Gateway's
// is best effort): when it is full, those are dropped and the put tried
// once more.
//
// Then the connection joins the audience of each of the user's rooms
// (spreadConnections). If that fails the connection is deleted again and
// the error returned, so that the handshake is refused rather than open
// and deaf to its rooms.
func (st *Store) PutConnection(ctx context.Context, c store.Connection, maxPerUser int) error {
	err := st.putConnection(ctx, c, maxPerUser)
	if errors.Is(err, store.ErrLimit) {
		// Stale is judged by the clock every read of connections uses.
		_, stale, checkErr := st.checkConnections(ctx, c.Username, time.Now())
		switch {
		case checkErr != nil:
			err = checkErr
		case len(stale) > 0:
			if err = st.forgetUserConnections(ctx, c.Username, stale...); err == nil {
				err = st.putConnection(ctx, c, maxPerUser)
			}
		}
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLimit) {
		return err
	}
	if err == nil {
		if err = st.spreadConnections(ctx, c.Username, c.ID, time.Now()); err != nil {
			if undo := st.DeleteConnection(ctx, c.ID); undo != nil {
				st.logger.WarnContext(ctx, "connection left behind after a failed put", "connection_id", c.ID, "error", undo)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("dynamostore: put connection: %w", err)
	}
	return nil
}

// userConnsKey is the item holding a user's open connection ids.
func userConnsKey(username string) map[string]types.AttributeValue {
	return key(userPK(username), skUserConns)
}

func (st *Store) putConnection(ctx context.Context, c store.Connection, maxPerUser int) error {
	it := item(key(connPK(c.ID), skConn))
	it[attrUsername], it[attrSessionHash] = s(c.Username), s(c.SessionHash)
	it[attrConnectedAt], it[AttrExpiresAt] = ts(c.ConnectedAt), n(c.ExpiresAt.Unix())
	link := item(key(sessionPK(c.SessionHash), "CONN#"+c.ID))
	link[AttrExpiresAt] = n(c.ExpiresAt.Unix())
	values := map[string]types.AttributeValue{":ids": &types.AttributeValueMemberSS{Value: []string{c.ID}}, ":e": n(c.ExpiresAt.Unix())}
	var limit *string
	if maxPerUser > 0 {
		limit = aws.String("attribute_not_exists(#conns) OR contains(#conns, :id) OR size(#conns) < :max")
		values[":id"], values[":max"] = s(c.ID), n(int64(maxPerUser))
	}
	writes := []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName: st.table, Key: key(sessionPK(c.SessionHash), skSession),
			ConditionExpression:       aws.String("attribute_exists(PK) AND #e > :now"),
			ExpressionAttributeNames:  map[string]string{"#e": AttrExpiresAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(c.ConnectedAt.Unix())},
		}},
		{Update: &types.Update{
			TableName: st.table, Key: userConnsKey(c.Username),
			// The set lives as long as its newest connection may.
			UpdateExpression:          aws.String("ADD #conns :ids SET #e = :e"),
			ConditionExpression:       limit,
			ExpressionAttributeNames:  map[string]string{"#conns": attrConns, "#e": AttrExpiresAt},
			ExpressionAttributeValues: values,
		}},
		{Put: &types.Put{TableName: st.table, Item: it}},
		{Put: &types.Put{TableName: st.table, Item: link}},
	}
	// Handshakes of one user at once contend for the user's item: a
	// transaction that lost such a race is tried again.
	for attempt := 0; ; attempt++ {
		_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: writes})
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) {
			return err
		}
		raced := false
		for i, r := range cancelled.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				if i == 0 {
					return store.ErrNotFound
				}
				return store.ErrLimit
			case "TransactionConflict":
				raced = true
			}
		}
		if !raced || attempt >= maxConflictRetries {
			return err
		}
		sleep(ctx, attempt)
	}
}

// checkConnections splits the user's set of open connections into those
// that are live at now and those that no longer exist or had expired by
// then.
func (st *Store) checkConnections(ctx context.Context, username string, now time.Time) (live, stale []string, err error) {
	it, err := st.get(ctx, userPK(username), skUserConns)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	set := it.strs(attrConns)
	if len(set) == 0 {
		return nil, nil, nil
	}
	keys := make([]map[string]types.AttributeValue, len(set))
	for i, id := range set {
		keys[i] = key(connPK(id), skConn)
	}
	rows, err := st.batchGet(ctx, keys, true, "#pk, "+AttrExpiresAt)
	if err != nil {
		return nil, nil, err
	}
	alive := map[string]bool{}
	for _, r := range rows {
		if r.epoch(AttrExpiresAt).After(now) {
			alive[strings.TrimPrefix(r.str(AttrPK), "CONN#")] = true
		}
	}
	for _, id := range set {
		if alive[id] {
			live = append(live, id)
		} else {
			stale = append(stale, id)
		}
	}
	return live, stale, nil
}

// forgetUserConnections takes ids out of the user's set of open ones. A
// set already gone (its TTL passed) is left gone: an update would write
// an item of bare keys, with no expiry, in its place.
func (st *Store) forgetUserConnections(ctx context.Context, username string, ids ...string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: st.table, Key: userConnsKey(username),
		UpdateExpression:          aws.String("DELETE #conns :ids"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#conns": attrConns},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ids": &types.AttributeValueMemberSS{Value: ids}},
	})
	var gone *types.ConditionalCheckFailedException
	if errors.As(err, &gone) {
		return nil
	}
	return err
}

// Connection implements store.Connections. Every socket frame reads it, so
// it reads eventually consistently first, at half the capacity, and
// consistently only when that finds nothing. This is safe because the row
// never changes once written ($connect puts it whole): a stale read can
// only miss a row written a moment ago, which the second read finds, or
// still see one just deleted, which only a frame racing its own
// $disconnect could ask for, and every step after it tolerates a
// connection that is gone.
func (st *Store) Connection(ctx context.Context, connectionID string) (store.Connection, error) {
	c, err := st.connection(ctx, connectionID)
	if err == nil && !c.ExpiresAt.IsZero() && !time.Now().Before(c.ExpiresAt) {
		return store.Connection{}, store.ErrNotFound // past its TTL, not yet swept
	}
	return c, err
}

// connection reads the connection row, expired or not.
func (st *Store) connection(ctx context.Context, connectionID string) (store.Connection, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: st.table, Key: key(connPK(connectionID), skConn)})
	var it item
	switch {
	case err != nil:
		return store.Connection{}, wrapRead("connection", err)
	case out.Item != nil:
		it = out.Item
	default:
		if it, err = st.get(ctx, connPK(connectionID), skConn); err != nil {
			return store.Connection{}, wrapRead("connection", err)
		}
	}
	return store.Connection{ID: connectionID, Username: it.str(attrUsername), SessionHash: it.str(attrSessionHash),
		ConnectedAt: it.time(attrConnectedAt), ExpiresAt: it.epoch(AttrExpiresAt)}, nil
}

// DeleteConnection implements store.Connections. It removes the presence
// rows and the connection's id from its user's member rows before the
// connection row, so a retry after a failure still finds what is left.
func (st *Store) DeleteConnection(ctx context.Context, connectionID string) error {
	// Everything the connection left, expired or not.
	links, err := st.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(connPK(connectionID)), ":p": s("ROOM#")},
		ProjectionExpression:      aws.String("PK, SK, #shard"),
		ExpressionAttributeNames:  map[string]string{"#shard": attrShard},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("dynamostore: rooms of connection: %w", err)
	}
	if err := st.removeFromRooms(ctx, links); err != nil {
		return fmt.Errorf("dynamostore: delete connection: %w", err)
	}
	var keys []map[string]types.AttributeValue
	c, err := st.connection(ctx, connectionID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if c.SessionHash != "" {
		keys = append(keys, key(sessionPK(c.SessionHash), "CONN#"+connectionID))
	}
	if err := st.batchDelete(ctx, keys); err != nil {
		return fmt.Errorf("dynamostore: delete connection: %w", err)
	}
	if c.Username != "" {
		if err := st.withdrawConnection(ctx, c.Username, connectionID); err != nil {
			return fmt.Errorf("dynamostore: delete connection: %w", err)
		}
		if err := st.forgetUserConnections(ctx, c.Username, connectionID); err != nil {
			return fmt.Errorf("dynamostore: delete connection: %w", err)
		}
	}
	if err := st.delete(ctx, connPK(connectionID), skConn); err != nil {
		return fmt.Errorf("dynamostore: delete connection: %w", err)
	}
	return nil
}

// ConnectionRooms implements store.Connections.
func (st *Store) ConnectionRooms(ctx context.Context, connectionID string) ([]string, error) {
	out, err := st.liveKeysUnder(ctx, connPK(connectionID), "ROOM#")
	if err != nil {
		return nil, fmt.Errorf("dynamostore: rooms of connection: %w", err)
	}
	return out, nil
}

// RoomConnections implements store.Connections from the room's roster
// (roster.go): one GetItem, and one BatchGetItem past a hundred sockets.
func (st *Store) RoomConnections(ctx context.Context, roomID string) ([]store.Presence, error) {
	r, err := st.roster(ctx, roomID)
	return r.Joined, err
}

// RoomRoster implements store.Connections from the same items.
func (st *Store) RoomRoster(ctx context.Context, roomID string) (store.Roster, error) {
	return st.roster(ctx, roomID)
}

// RemovePresence implements store.Connections.
func (st *Store) RemovePresence(ctx context.Context, roomID string, connectionIDs ...string) error {
	keys := make([]map[string]types.AttributeValue, len(connectionIDs))
	for i, c := range connectionIDs {
		keys[i] = key(connPK(c), roomPK(roomID))
	}
	links, err := st.batchGet(ctx, keys, true, "")
	if err != nil {
		return fmt.Errorf("dynamostore: remove presence in room %s: %w", roomID, err)
	}
	if err := st.removeFromRooms(ctx, links); err != nil {
		return fmt.Errorf("dynamostore: remove presence in room %s: %w", roomID, err)
	}
	return nil
}

// scanKeys lists the partition keys of the items whose sort key is sk. It
// scans the whole table: for the rebuild tool, never for a request.
func (st *Store) scanKeys(ctx context.Context, sk, prefix string) ([]string, error) {
	in := &dynamodb.ScanInput{
		TableName:                 st.table,
		FilterExpression:          aws.String("SK = :sk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":sk": s(sk)},
		ProjectionExpression:      aws.String("PK"),
	}
	var out []string
	for {
		res, err := st.db.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("dynamostore: scan: %w", err)
		}
		for _, r := range res.Items {
			out = append(out, strings.TrimPrefix(item(r).str(AttrPK), prefix))
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// RoomIDs lists every stream, deleted rooms included, for the rebuild tool.
func (st *Store) RoomIDs(ctx context.Context) ([]string, error) {
	return st.scanKeys(ctx, skHead, "ROOM#")
}

// Usernames lists every account, for the rebuild tool.
func (st *Store) Usernames(ctx context.Context) ([]string, error) {
	return st.scanKeys(ctx, skProfile, "USER#")
}

// ReplaceProjection overwrites the room's head and member rows with r, the
// result of a replay: the rebuild tool's repair. The member rows are the
// user index too (through GSI1), so that is repaired with them. A member
// row that is there keeps its read position, counts and sockets (only its
// role is replaced); one that was missing starts read up to r's version,
// and gets its sockets at the user's next connect.
func (st *Store) ReplaceProjection(ctx context.Context, r *chat.Room) error {
	stored, err := st.sortKeysUnder(ctx, roomPK(r.ID), "MEMBER#")
	if err != nil {
		return fmt.Errorf("dynamostore: replace projection of room %s: %w", r.ID, err)
	}
	var writes []types.WriteRequest
	for _, u := range stored {
		if _, keep := r.Members[u]; !keep {
			writes = append(writes, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(roomPK(r.ID), memberSK(u))}})
		}
	}
	writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: headItem(r)}})
	if err := st.batchWrite(ctx, writes); err != nil {
		return fmt.Errorf("dynamostore: replace projection of room %s: %w", r.ID, err)
	}
	members := slices.Sorted(maps.Keys(r.Members))
	err = forEach(ctx, members, func(ctx context.Context, u string) error {
		p := st.rowWrite(r.ID, u, &rowPlan{op: rowUpdate, role: r.Members[u], added: &readMark{r.Version, r.Messages}}, nil)
		w := p.write.Update
		_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: w.TableName, Key: w.Key, UpdateExpression: w.UpdateExpression,
			ExpressionAttributeNames: w.ExpressionAttributeNames, ExpressionAttributeValues: w.ExpressionAttributeValues,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("dynamostore: replace projection of room %s: %w", r.ID, err)
	}
	return nil
}

func counterKey(name string) map[string]types.AttributeValue { return key("COUNTER#"+name, "COUNTER") }

// IncrementCounter implements store.Counters: one atomic ADD while the
// counter is live; an expired one that the TTL sweep has not removed yet
// is started again with a conditional put.
func (st *Store) IncrementCounter(ctx context.Context, name string, expiresAt time.Time) (int64, error) {
	now := time.Now().Unix()
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 st.table,
		Key:                       counterKey(name),
		UpdateExpression:          aws.String("ADD #c :one SET #e = :e"),
		ConditionExpression:       aws.String("attribute_not_exists(#e) OR #e > :now"),
		ExpressionAttributeNames:  map[string]string{"#c": attrCount, "#e": AttrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":e": n(expiresAt.Unix()), ":now": n(now)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	var expired *types.ConditionalCheckFailedException
	if errors.As(err, &expired) {
		it := item(counterKey(name))
		it[attrCount], it[AttrExpiresAt] = n(1), n(expiresAt.Unix())
		_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: st.table, Item: it,
			ConditionExpression:       aws.String("#e <= :now"),
			ExpressionAttributeNames:  map[string]string{"#e": AttrExpiresAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(now)},
		})
		if errors.As(err, &expired) {
			// Someone restarted it first: count on top of theirs.
			return st.IncrementCounter(ctx, name, expiresAt)
		}
		if err != nil {
			return 0, fmt.Errorf("dynamostore: restart counter: %w", err)
		}
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("dynamostore: increment counter: %w", err)
	}
	return item(out.Attributes).num(attrCount), nil
}

// Counter implements store.Counters.
func (st *Store) Counter(ctx context.Context, name string) (int64, error) {
	it, err := st.get(ctx, "COUNTER#"+name, "COUNTER")
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("dynamostore: read counter: %w", err)
	}
	if it.epoch(AttrExpiresAt).Unix() <= time.Now().Unix() {
		return 0, nil
	}
	return it.num(attrCount), nil
}

func ticketKey(hash string) map[string]types.AttributeValue { return key("TICKET#"+hash, "TICKET") }

// CreateTicket implements store.Tickets.
func (st *Store) CreateTicket(ctx context.Context, t store.Ticket) error {
	it := item(ticketKey(t.Hash))
	it[attrSessionHash], it[attrUsername], it[AttrExpiresAt] = s(t.SessionHash), s(t.Username), n(t.ExpiresAt.Unix())
	if _, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: st.table, Item: it}); err != nil {
		return fmt.Errorf("dynamostore: create ticket: %w", err)
	}
	return nil
}

// TakeTicket implements store.Tickets: one conditional DeleteItem that
// returns what it deleted, so of handshakes racing with one ticket only one
// gets it (without the condition, DynamoDB Local let two deletes both
// return the item).
func (st *Store) TakeTicket(ctx context.Context, hash string) (store.Ticket, error) {
	out, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: st.table, Key: ticketKey(hash), ReturnValues: types.ReturnValueAllOld,
		ConditionExpression: aws.String("attribute_exists(PK)"),
	})
	var taken *types.ConditionalCheckFailedException
	if errors.As(err, &taken) {
		return store.Ticket{}, store.ErrNotFound
	}
	if err != nil {
		return store.Ticket{}, fmt.Errorf("dynamostore: take ticket: %w", err)
	}
	it := item(out.Attributes)
	return store.Ticket{Hash: hash, SessionHash: it.str(attrSessionHash), Username: it.str(attrUsername), ExpiresAt: it.epoch(AttrExpiresAt)}, nil
}
