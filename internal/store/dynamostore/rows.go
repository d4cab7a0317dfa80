package dynamostore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// rowPlan is what one append does to one member row. A transaction may
// write an item only once, and one append can touch a row several times
// (a batch of messages by one sender, or mentioning one member twice, or
// a member who sends and is mentioned), so the events' effects are folded
// into one write per row.
type rowPlan struct {
	op rowOp
	// role is set when the append gives the member a role (a new row or a
	// promotion).
	role chat.Role
	// For rowPut, the whole read state of the new row.
	readSeq, readMsgs, mentions, readMentions int64
	// For rowUpdate: added is where a member_added put the member, which
	// applies only if the row is new (a promotion keeps its state); sent
	// is the member's last message in the append, and mentionsBefore how
	// many of addMentions came before it.
	added          *readMark
	sent           *readMark
	mentionsBefore int64
	addMentions    int64
}

// readMark is a read position: the seq and the room's message count at it.
type readMark struct{ seq, msgs int64 }

type rowOp int

const (
	// rowUpdate changes the row in place: what it does not name it keeps.
	rowUpdate rowOp = iota
	// rowPut writes a new row whole (room_created, or a member removed
	// and added back within the append).
	rowPut
	rowDelete
)

// rowPlans are the member rows one append writes, with their order.
type rowPlans struct {
	plans map[string]*rowPlan
	order []string
}

// planRows folds the events' effects on member rows, in stream order:
//   - room_created puts each initial row with the read position at the
//     event and no messages read;
//   - member_added updates the row, starting its read position at the event
//     if the row is new and keeping it on a promotion;
//   - member_removed deletes the row;
//   - message_sent moves the sender's read position to the message, with
//     read_msgs the message's ordinal and read_mentions their mentions so
//     far, and adds one to the mentions of each other member it names.
func planRows(req store.AppendRequest) rowPlans {
	rows := rowPlans{plans: map[string]*rowPlan{}}
	get := func(u string) *rowPlan {
		p := rows.plans[u]
		if p == nil {
			p = &rowPlan{op: rowUpdate}
			rows.plans[u] = p
			rows.order = append(rows.order, u)
		}
		return p
	}
	msgs := req.Messages
	for _, e := range req.Events {
		switch d := e.Data.(type) {
		case chat.RoomCreated:
			for _, ch := range store.MemberChanges(e) {
				*get(ch.Username) = rowPlan{op: rowPut, role: ch.Role, readSeq: e.Seq, readMsgs: msgs}
			}
		case chat.MemberAdded:
			p := get(d.Member)
			switch {
			case p.op == rowDelete:
				*p = rowPlan{op: rowPut, role: d.Role, readSeq: e.Seq, readMsgs: msgs}
			case p.op == rowPut || p.added != nil || p.sent != nil || p.addMentions > 0:
				// In the room already (as of this append): a promotion.
				p.role = d.Role
			default:
				p.role, p.added = d.Role, &readMark{e.Seq, msgs}
			}
		case chat.MemberRemoved:
			*get(d.Member) = rowPlan{op: rowDelete}
		case chat.MessageSent:
			msgs++
			switch p := get(e.Username); p.op {
			case rowPut:
				p.readSeq, p.readMsgs, p.readMentions = e.Seq, msgs, p.mentions
			case rowUpdate:
				p.sent, p.mentionsBefore = &readMark{e.Seq, msgs}, p.addMentions
			}
			for _, u := range d.Mentions {
				if u == e.Username {
					continue // mentioning yourself is no mention
				}
				switch p := get(u); p.op {
				case rowPut:
					p.mentions++
				case rowUpdate:
					p.addMentions++
				}
			}
		}
	}
	slices.Sort(rows.order) // the same writes in the same order on a retry
	return rows
}

// joins reports whether the plan may create the row, which then starts
// with the user's open sockets.
func (p *rowPlan) joins() bool { return p.op == rowPut || p.added != nil }

// rowWrite is the one write of a member row's plan. conns seeds the
// sockets of a row the plan creates.
func (st *Store) rowWrite(roomID, username string, p *rowPlan, conns []string) part {
	k := key(roomPK(roomID), memberSK(username))
	switch p.op {
	case rowDelete:
		return part{write: types.TransactWriteItem{Delete: &types.Delete{TableName: st.table, Key: k}}}
	case rowPut:
		m := item(k)
		m[attrUsername], m[attrRole] = s(username), s(string(p.role))
		m[AttrGSI1PK], m[AttrGSI1SK] = s(userPK(username)), s(roomPK(roomID))
		m[attrReadSeq], m[attrReadMsgs] = n(p.readSeq), n(p.readMsgs)
		m[attrMentions], m[attrReadMentions] = n(p.mentions), n(p.readMentions)
		if len(conns) > 0 {
			m[attrConns] = &types.AttributeValueMemberSS{Value: conns}
		}
		return part{write: types.TransactWriteItem{Put: &types.Put{TableName: st.table, Item: m}}}
	}
	var sets, adds []string
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	if p.role != "" {
		sets = append(sets, "#role = :role", "#user = :user", "#g1pk = :g1pk", "#g1sk = :g1sk")
		names["#role"], names["#user"], names["#g1pk"], names["#g1sk"] = attrRole, attrUsername, AttrGSI1PK, AttrGSI1SK
		values[":role"], values[":user"] = s(string(p.role)), s(username)
		values[":g1pk"], values[":g1sk"] = s(userPK(username)), s(roomPK(roomID))
	}
	switch {
	case p.sent != nil:
		// read_mentions is computed from the row as it was before this
		// update, without the mentions the update adds: those that came
		// before the member's message are added on.
		sets = append(sets, "#rs = :rs", "#rm = :rm", "#rmen = if_not_exists(#men, :zero) + :mb")
		names["#rs"], names["#rm"], names["#rmen"], names["#men"] = attrReadSeq, attrReadMsgs, attrReadMentions, attrMentions
		values[":rs"], values[":rm"], values[":zero"], values[":mb"] = n(p.sent.seq), n(p.sent.msgs), n(0), n(p.mentionsBefore)
	case p.added != nil:
		sets = append(sets, "#rs = if_not_exists(#rs, :as)", "#rm = if_not_exists(#rm, :am)", "#rmen = if_not_exists(#rmen, :zero)")
		names["#rs"], names["#rm"], names["#rmen"] = attrReadSeq, attrReadMsgs, attrReadMentions
		values[":as"], values[":am"], values[":zero"] = n(p.added.seq), n(p.added.msgs), n(0)
	}
	switch {
	case p.addMentions > 0:
		adds = append(adds, "#men :k")
		names["#men"], values[":k"] = attrMentions, n(p.addMentions)
	case p.added != nil:
		sets = append(sets, "#men = if_not_exists(#men, :zero)")
		names["#men"], values[":zero"] = attrMentions, n(0)
	}
	if p.added != nil && len(conns) > 0 {
		sets = append(sets, "#conns = if_not_exists(#conns, :conns)")
		names["#conns"], values[":conns"] = attrConns, &types.AttributeValueMemberSS{Value: conns}
	}
	expr := ""
	if len(sets) > 0 {
		expr = "SET " + strings.Join(sets, ", ")
	}
	if len(adds) > 0 {
		expr = strings.TrimSpace(expr + " ADD " + strings.Join(adds, ", "))
	}
	upd := &types.Update{TableName: st.table, Key: k, UpdateExpression: aws.String(expr),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values}
	if p.added != nil {
		return part{who: username, write: types.TransactWriteItem{Update: upd}}
	}
	// Only a member_added may create the row: anything else written to a
	// row that is not there would leave a member with no role.
	upd.ConditionExpression = aws.String("attribute_exists(PK)")
	return part{kind: partMember, who: username, write: types.TransactWriteItem{Update: upd}}
}

// newMembersConnections reads the open sockets of each user the append may
// add as a member, so their new row starts with them. It reads USER#<u>
// CONNS as it is now; a socket opening at this moment may be missed, which
// the package comment explains.
func (st *Store) newMembersConnections(ctx context.Context, rows rowPlans) (map[string][]string, error) {
	var keys []map[string]types.AttributeValue
	for _, u := range rows.order {
		if rows.plans[u].joins() {
			keys = append(keys, userConnsKey(u))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	items, err := st.batchGet(ctx, keys, true, "")
	if err != nil {
		return nil, fmt.Errorf("read the sockets of new members: %w", err)
	}
	out := make(map[string][]string, len(items))
	for _, it := range items {
		if conns := it.strs(attrConns); len(conns) > 0 {
			out[strings.TrimPrefix(it.str(AttrPK), "USER#")] = conns
		}
	}
	return out, nil
}
