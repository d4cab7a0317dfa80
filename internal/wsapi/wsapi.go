// Package wsapi is the WebSocket side of the wire contract: one handler per
// API Gateway WebSocket route ($connect, $disconnect, join_room,
// send_message, leave_room, $default), each taking the route's event,
// appending to the room's stream through the rooms use cases, and then
// pushing frames to the room's connections through the push port.
//
// Append before broadcast: a frame is only ever sent for an event that is
// stored, so a client that resumes from the last seq it saw misses nothing
// even when a push fails half way.
package wsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/wire/strictjson"
)

// Store is what the socket handlers need of the store beside the rooms
// use cases.
type Store interface {
	PutConnection(ctx context.Context, c store.Connection, maxPerUser int) error
	Connection(ctx context.Context, connectionID string) (store.Connection, error)
	DeleteConnection(ctx context.Context, connectionID string) error
	ConnectionRooms(ctx context.Context, connectionID string) ([]string, error)
	RoomConnections(ctx context.Context, roomID string) ([]store.Presence, error)
	RemovePresence(ctx context.Context, roomID string, connectionIDs ...string) error
	SessionConnections(ctx context.Context, tokenHash string) ([]string, error)
	IncrementCounter(ctx context.Context, name string, expiresAt time.Time) (int64, error)
	Audience(ctx context.Context, roomID string) ([]store.Membership, error)
	Memberships(ctx context.Context, roomID string, usernames []string) ([]store.Membership, error)
	UserConnections(ctx context.Context, username string) ([]string, error)
	store.DeliveryMarks
}

// ConnectGrace is how long after its $connect a connection that a push
// finds gone is left to its own $disconnect rather than forgotten: API
// Gateway's integrations time out after 29 s, so no handshake takes
// longer.
const ConnectGrace = 30 * time.Second

// ConnectionTTL is how long connection and presence items outlive a
// connection that never ran $disconnect: API Gateway ends every connection
// within two hours.
const ConnectionTTL = 2*time.Hour + 10*time.Minute

// Handlers serve the WebSocket routes.
type Handlers struct {
	auth   *auth.Service
	rooms  *rooms.Service
	store  Store
	push   push.Pusher
	conns  *connCache
	logger *slog.Logger
	now    func() time.Time
	// sendRate is each connection's messages a second; 0 is unlimited.
	sendRate int
	// connectGrace is ConnectGrace unless a test shortened it.
	connectGrace time.Duration
	// fanout, when set, takes the shards of rooms of more than shardSize
	// connections (fanout.go).
	fanout    Dispatcher
	shardSize int
}

// Option tunes the handlers.
type Option func(*Handlers)

// WithSendRate sets each connection's send limit in messages a second
// (bursts of twice that); 0 turns the limit off, which load tests of
// throughput need and nothing else should.
func WithSendRate(perSecond int) Option {
	return func(h *Handlers) { h.sendRate = max(perSecond, 0) }
}

// WithConnectGrace replaces ConnectGrace: tests of a socket lost right
// after its handshake use a short one rather than wait it out.
func WithConnectGrace(d time.Duration) Option {
	return func(h *Handlers) { h.connectGrace = d }
}

// New returns the handlers. now may be nil for the system clock.
func New(a *auth.Service, rs *rooms.Service, s Store, p push.Pusher, logger *slog.Logger, now func() time.Time, opts ...Option) (*Handlers, error) {
	if a == nil || rs == nil || s == nil || p == nil || logger == nil {
		return nil, errors.New("wsapi: auth, rooms, store, pusher and logger are all required")
	}
	if now == nil {
		now = time.Now
	}
	h := &Handlers{auth: a, rooms: rs, store: s, push: p, logger: logger, now: now, sendRate: SendRate, connectGrace: ConnectGrace, conns: newConnCache()}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

// Event and Response are the Lambda types of a WebSocket route.
type (
	Event    = events.APIGatewayWebsocketProxyRequest
	Response = events.APIGatewayProxyResponse
)

var ok = Response{StatusCode: http.StatusOK}

// MaxConnectionsPerUser bounds a user's open sockets, across sessions.
const MaxConnectionsPerUser = 20

// Connect redeems the ticket query parameter and records the connection.
// Any answer but 2xx makes API Gateway refuse the handshake: 401 for a
// missing, unknown, used or expired ticket or an ended session, 429 past
// MaxConnectionsPerUser. A session token is not accepted: it would travel
// in the URL, where logs and histories keep it.
func (h *Handlers) Connect(ctx context.Context, ev Event) (resp Response, _ error) {
	defer h.recover(ctx, &ev, &resp)
	id, err := h.auth.RedeemTicket(ctx, ev.QueryStringParameters["ticket"])
	if errors.Is(err, auth.ErrUnauthenticated) {
		return Response{StatusCode: http.StatusUnauthorized}, nil
	}
	if err != nil {
		return h.failed(ctx, &ev, err), nil
	}
	now := h.now().UTC()
	c := store.Connection{ID: ev.RequestContext.ConnectionID, Username: id.Username, SessionHash: id.TokenHash, ConnectedAt: now, ExpiresAt: now.Add(ConnectionTTL)}
	// The store checks that the session is still live as it records the
	// connection: a logout deleting the session at this moment either
	// comes first, and the handshake fails, or finds the connection and
	// closes it.
	switch err := h.store.PutConnection(ctx, c, MaxConnectionsPerUser); {
	case errors.Is(err, store.ErrNotFound):
		return Response{StatusCode: http.StatusUnauthorized}, nil
	case errors.Is(err, store.ErrLimit):
		return Response{StatusCode: http.StatusTooManyRequests}, nil
	case err != nil:
		return h.failed(ctx, &ev, err), nil
	}
	return ok, nil
}

// Disconnect leaves every room the connection joined, announcing it to
// the others, then forgets the connection.
func (h *Handlers) Disconnect(ctx context.Context, ev Event) (resp Response, _ error) {
	defer h.recover(ctx, &ev, &resp)
	connID := ev.RequestContext.ConnectionID
	h.conns.forget(connID)
	c, err := h.store.Connection(ctx, connID)
	if errors.Is(err, store.ErrNotFound) {
		// Never recorded, or already cleaned up by a push that found it
		// gone: but a join that was still running then may have put it in
		// a room since, and nothing else would take it out.
		if err := h.store.DeleteConnection(ctx, connID); err != nil {
			return h.failed(ctx, &ev, err), nil
		}
		return ok, nil
	}
	if err != nil {
		return h.failed(ctx, &ev, err), nil
	}
	joined, err := h.store.ConnectionRooms(ctx, connID)
	if err != nil {
		return h.failed(ctx, &ev, err), nil
	}
	var errs []error
	for _, roomID := range joined {
		if err := h.leave(ctx, c, roomID, false, true); err != nil {
			errs = append(errs, err)
		}
	}
	if err := h.store.DeleteConnection(ctx, connID); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return h.failed(ctx, &ev, err), nil
	}
	return ok, nil
}

// request is a client frame, its fields kept raw so a wrongly typed one
// can be told from a missing one.
type request struct {
	action string
	obj    *strictjson.Object
}

// frameFields are the fields each action reads. A frame is refused as
// invalid_json when another member holds invalid UTF-8 or a lone surrogate
// (strictjson.CheckOthers); the fields themselves are judged by str and
// optionalSeq, whose refusal is the action's (unknown_action for action,
// invalid_message for the rest). An action missing here is still read
// strictly field by field.
var frameFields = map[string][]string{
	"join_room":      {"action", "room_id", "after_seq"},
	"send_message":   {"action", "room_id", "client_msg_id", "text"},
	"leave_room":     {"action", "room_id"},
	"typing":         {"action", "room_id"},
	"edit_message":   {"action", "room_id", "message_id", "text"},
	"delete_message": {"action", "room_id", "message_id"},
}

var actionOnly = []string{"action"}

// parse reads a frame strictly (internal/wire/strictjson). A frame that is
// not one JSON object is invalid_json; one whose action is missing, not a
// string, given twice, under another case or not valid UTF-8 has action
// "", which is unknown_action.
func parse(body string) (*request, error) {
	obj, err := strictjson.Parse(body)
	if err != nil {
		return nil, err
	}
	r := &request{obj: obj}
	r.action, _ = r.str("action")
	known, ok := frameFields[r.action]
	if !ok {
		known = actionOnly
	}
	if err := obj.CheckOthers(known...); err != nil {
		return nil, err
	}
	return r, nil
}

// str reads a required, non-empty string field. A field given twice, under
// another case, or holding invalid UTF-8 or a lone surrogate is refused,
// never rewritten.
func (r *request) str(name string) (string, bool) {
	s, ok, err := r.obj.String(name)
	if err != nil || !ok || s == "" {
		return "", false
	}
	return s, true
}

// optionalSeq reads an optional integer field from 0 to 2^63-1, as strictly
// as str. (A JSON integer is its own text: ParseInt reads it as
// encoding/json would.)
func (r *request) optionalSeq(name string) (*int64, bool) {
	raw, present, err := r.obj.Field(name)
	if err != nil {
		return nil, false
	}
	if !present || raw == "null" {
		return nil, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return nil, false
	}
	return &n, true
}

func invalid(msg string) error { return &chat.Error{Code: chat.CodeInvalidMessage, Message: msg} }

// Each connection may send SendRate messages a second on average, in
// bursts of up to twice that: counted per two-second window in the store,
// so the limit holds whichever Lambda instance takes the message.
const (
	SendRate   = 20
	sendWindow = 2 * time.Second
)

var (
	errNotJoined     = rooms.ErrNotJoined
	errUnknownAction = &chat.Error{Code: codeUnknownAction, Message: "unknown action"}
	errInvalidJSON   = &chat.Error{Code: codeInvalidJSON, Message: "a frame must be one JSON object"}
)

// route runs an action handler: it parses the frame, finds who is on the
// connection, and turns a refused request into an error frame to the
// caller alone.
func (h *Handlers) route(ctx context.Context, ev *Event, want string, handle func(ctx context.Context, c store.Connection, r *request) error) (resp Response, _ error) {
	return h.routeWith(ctx, ev, want, false, handle)
}

// routeWith is route, taking the connection from the process's cache when
// cached (connCache says when that is safe).
func (h *Handlers) routeWith(ctx context.Context, ev *Event, want string, cached bool, handle func(ctx context.Context, c store.Connection, r *request) error) (resp Response, _ error) {
	connID := ev.RequestContext.ConnectionID
	defer func() {
		// The client waits for an answer: a panic still gets it one.
		if p := recover(); p != nil {
			resp = h.refuse(ctx, ev, connID, nil, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
		}
	}()
	r, err := parse(ev.Body)
	if err != nil {
		return h.refuse(ctx, ev, connID, nil, errInvalidJSON), nil
	}
	if want != "" && r.action != want || want == "" && r.action != "typing" {
		return h.refuse(ctx, ev, connID, r, errUnknownAction), nil
	}
	c, known := store.Connection{}, false
	if cached {
		c, known = h.conns.get(connID, time.Now()) // the store's clock, as Connection judges expiry
	}
	if !known {
		c, err = h.store.Connection(ctx, connID)
		if err == nil && cached {
			h.conns.put(c)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		// Its $disconnect ran first (a frame read just before the socket
		// closed), or its session ended while its handshake was still
		// under way, before API Gateway would let it be closed. Either
		// way the socket must not stay open: close it, answering nothing.
		h.logger.InfoContext(ctx, "frame from an unknown connection: closing it", "connection_id", connID, "action", r.action)
		if err := h.push.Disconnect(ctx, connID); err != nil && !errors.Is(err, push.ErrGone) {
			h.logger.WarnContext(ctx, "unknown connection not closed", "connection_id", connID, "error", err.Error())
		}
		return ok, nil
	}
	if err != nil {
		return h.refuse(ctx, ev, connID, r, fmt.Errorf("wsapi: connection %s: %w", connID, err)), nil
	}
	if err := handle(ctx, c, r); err != nil {
		return h.refuse(ctx, ev, connID, r, err), nil
	}
	return ok, nil
}

// refuse sends the caller an error frame. A rule of the contract goes out
// with its code; anything else is logged and goes out as internal.
func (h *Handlers) refuse(ctx context.Context, ev *Event, connID string, r *request, err error) Response {
	f := errorFrame{Type: "error"}
	var ce *chat.Error
	if errors.As(err, &ce) {
		f.Code, f.Message = string(ce.Code), ce.Message
	} else {
		h.logFailure(ctx, ev, err)
		f.Code, f.Message = string(codeInternal), "something went wrong on our side; try again"
	}
	if r != nil {
		f.Action = r.action
		f.RoomID, _ = r.str("room_id")
		f.ClientMsgID, _ = r.str("client_msg_id")
	}
	h.send(ctx, []string{connID}, encode(f))
	return ok
}

// JoinRoom joins the connection to a room: user_joined is appended with the
// presence, the caller alone gets the history it missed, then everyone in
// the room, the caller included, gets the announcement.
func (h *Handlers) JoinRoom(ctx context.Context, ev Event) (Response, error) {
	return h.route(ctx, &ev, "join_room", func(ctx context.Context, c store.Connection, r *request) error {
		roomID, okID := r.str("room_id")
		after, okSeq := r.optionalSeq("after_seq")
		if !okID || !okSeq {
			return invalid("join_room needs room_id and, optionally, after_seq as a non-negative integer")
		}
		if err := h.limitJoins(ctx, c.ID); err != nil {
			return err
		}
		change, err := h.rooms.Join(ctx, c.Username, roomID, store.Presence{ConnectionID: c.ID, Username: c.Username, ExpiresAt: h.now().Add(ConnectionTTL)})
		if err != nil {
			return err
		}
		defer change.Delivery.Done()
		joined := change.Events[0]
		page, err := h.rooms.History(ctx, roomID, joined.Seq, after)
		if err != nil {
			return err
		}
		if change.PresentErr != nil {
			return change.PresentErr
		}
		present := change.Present
		history := historyFrame{Type: "history", RoomID: roomID, Events: page.Events, HasMore: page.HasMore, LastSeq: joined.Seq - 1, Online: online(present)}
		if history.Events == nil {
			history.Events = []chat.Event{}
		}
		fitHistory(&history, after != nil)
		gone := h.post(ctx, []string{c.ID}, encode(history))
		// The history goes first, the joiner's alone; the announcement
		// waits its turn among the room's frames.
		gone = append(gone, h.pushChange(ctx, change, eventFrame(joined), nil, true)...)
		change.Delivery.Done()
		h.forgetAll(ctx, gone, true)
		return nil
	})
}

// maxHistoryBytes keeps a history frame under API Gateway's 128 KiB limit
// on a posted message, with room for the frame's other fields: 100 long
// messages would not fit.
const maxHistoryBytes = 120 << 10

// fitHistory drops events until the frame fits, and says more remain: the
// oldest of a newest page (the client pages back with before_seq), the
// newest of a resume (it pages forward with after_seq, as for has_more).
func fitHistory(f *historyFrame, resume bool) {
	total := 0
	sizes := make([]int, len(f.Events))
	for i, e := range f.Events {
		raw, err := json.Marshal(e)
		if err != nil {
			continue // encode reports it
		}
		sizes[i] = len(raw) + 1
		total += sizes[i]
	}
	for total > maxHistoryBytes && len(f.Events) > 0 {
		if resume {
			total -= sizes[len(sizes)-1]
			sizes, f.Events = sizes[:len(sizes)-1], f.Events[:len(f.Events)-1]
		} else {
			total -= sizes[0]
			sizes, f.Events = sizes[1:], f.Events[1:]
		}
		f.HasMore = true
	}
}

func online(present []store.Presence) []string {
	var names []string
	for _, p := range present {
		names = append(names, p.Username)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// joined reports whether the connection has joined the room.
func (h *Handlers) joined(ctx context.Context, c store.Connection, roomID string) error {
	rooms, err := h.store.ConnectionRooms(ctx, c.ID)
	if err != nil {
		return err
	}
	if !slices.Contains(rooms, roomID) {
		return errNotJoined
	}
	return nil
}

// SendMessage appends a message and pushes it to everyone in the room, the
// sender included. A repeated client_msg_id gets the original back, to
// this connection alone.
func (h *Handlers) SendMessage(ctx context.Context, ev Event) (Response, error) {
	return h.routeWith(ctx, &ev, "send_message", true, func(ctx context.Context, c store.Connection, r *request) error {
		roomID, okID := r.str("room_id")
		cmid, okCmid := r.str("client_msg_id")
		text, okText := r.str("text")
		if !okID || !okCmid || !okText {
			return invalid("send_message needs room_id, client_msg_id and text as non-empty strings")
		}
		if err := chat.ValidateClientMsgID(cmid); err != nil {
			return err
		}
		if _, err := chat.NormalizeMessageText(text); err != nil {
			return err
		}
		if err := h.limitSends(ctx, c.ID); err != nil {
			return err
		}
		// The rooms service checks the connection is joined, in the read
		// of the room's roster the message needs anyway.
		change, err := h.rooms.SendFrom(ctx, c.ID, c.Username, roomID, cmid, text)
		if err != nil {
			return err
		}
		defer change.Delivery.Done()
		if change.Duplicate {
			h.send(ctx, []string{c.ID}, encode(eventFrame(change.Events[0])))
			return nil
		}
		gone := h.pushChange(ctx, change, eventFrame(change.Events[0]), nil, true)
		change.Delivery.Done()
		gone = append(gone, h.tellUnread(ctx, change)...)
		h.forgetAll(ctx, gone, true)
		return nil
	})
}

// tellUnread gives the room's members the room's new line of their list
// on each socket that is not joined to it, where the message itself does
// not go: with the message, a socket of an online member gets one frame
// either way. The sender's line says their read position moved. The
// roster read with the recipients names those sockets, so only their
// owners' rows are read: nothing at all when everyone online is in the
// room.
func (h *Handlers) tellUnread(ctx context.Context, change rooms.Change) (gone []string) {
	if len(change.Away) == 0 {
		return nil
	}
	audience, err := h.store.Memberships(ctx, change.Room.ID, slices.Sorted(maps.Keys(change.Away)))
	if err != nil {
		// The message is stored and pushed; the badges catch up at the
		// next list.
		h.logger.WarnContext(ctx, "room list lines not pushed", "room_id", change.Room.ID, "error", err.Error())
		return nil
	}
	joined := make(map[string]bool, len(change.Present))
	for _, p := range change.Present {
		joined[p.ConnectionID] = true
	}
	for _, m := range audience {
		ids := slices.DeleteFunc(slices.Clone(change.Away[m.Username]), func(id string) bool { return joined[id] })
		if len(ids) > 0 {
			gone = append(gone, h.post(ctx, ids, summaryFrame(store.Summarize(change.Room, m)))...)
		}
	}
	return gone
}

// EditMessage replaces the text of the caller's own message and pushes
// message_edited to everyone in the room.
func (h *Handlers) EditMessage(ctx context.Context, ev Event) (Response, error) {
	return h.route(ctx, &ev, "edit_message", func(ctx context.Context, c store.Connection, r *request) error {
		roomID, okID := r.str("room_id")
		messageID, okMsg := r.str("message_id")
		text, okText := r.str("text")
		if !okID || !okMsg || !okText {
			return invalid("edit_message needs room_id, message_id and text as non-empty strings")
		}
		if _, err := chat.NormalizeMessageText(text); err != nil {
			return err
		}
		return h.changeMessage(ctx, c, roomID, func() (rooms.Change, error) {
			return h.rooms.EditMessage(ctx, c.Username, roomID, messageID, text)
		})
	})
}

// DeleteMessage takes a message back, erasing its text, and pushes
// message_deleted to everyone in the room.
func (h *Handlers) DeleteMessage(ctx context.Context, ev Event) (Response, error) {
	return h.route(ctx, &ev, "delete_message", func(ctx context.Context, c store.Connection, r *request) error {
		roomID, okID := r.str("room_id")
		messageID, okMsg := r.str("message_id")
		if !okID || !okMsg {
			return invalid("delete_message needs room_id and message_id as non-empty strings")
		}
		return h.changeMessage(ctx, c, roomID, func() (rooms.Change, error) {
			return h.rooms.DeleteMessage(ctx, c.Username, roomID, messageID)
		})
	})
}

// changeMessage runs an edit or a deletion from a joined connection, under
// the send limit, and broadcasts its event.
func (h *Handlers) changeMessage(ctx context.Context, c store.Connection, roomID string, run func() (rooms.Change, error)) error {
	if err := h.joined(ctx, c, roomID); err != nil {
		return err
	}
	if err := h.limitSends(ctx, c.ID); err != nil {
		return err
	}
	change, err := run()
	if err != nil {
		return err
	}
	defer change.Delivery.Done()
	gone := h.pushChange(ctx, change, eventFrame(change.Events[0]), nil, true)
	change.Delivery.Done()
	h.forgetAll(ctx, gone, true)
	return nil
}

// limitSends counts a send against the connection's window and refuses it
// past the burst.
func (h *Handlers) limitSends(ctx context.Context, connID string) error {
	if h.sendRate == 0 {
		return nil
	}
	over, err := h.overLimit(ctx, "sends", connID, sendWindow, int64(2*h.sendRate))
	if err != nil {
		return err
	}
	if over {
		return &chat.Error{Code: codeRateLimited, Message: fmt.Sprintf("slow down: at most %d messages a second", h.sendRate)}
	}
	return nil
}

// Joins and leaves append events that everyone in the room receives and
// that fill the history, so a connection may make few: at most
// MaxJoinsAndLeaves in each window of joinLeaveWindow.
const (
	MaxJoinsAndLeaves = 10
	joinLeaveWindow   = 10 * time.Second
)

var errTooManyJoins = &chat.Error{Code: codeRateLimited, Message: fmt.Sprintf("slow down: at most %d joins and leaves in %s", MaxJoinsAndLeaves, joinLeaveWindow)}

// limitJoins counts a join or leave against the connection's window.
func (h *Handlers) limitJoins(ctx context.Context, connID string) error {
	over, err := h.overLimit(ctx, "joins", connID, joinLeaveWindow, MaxJoinsAndLeaves)
	if err != nil {
		return err
	}
	if over {
		return errTooManyJoins
	}
	return nil
}

// MaxTypingPerSecond is how many typing frames a connection may send a
// second; past it they are dropped unanswered, as a typing frame is.
const MaxTypingPerSecond = 2

// overLimit counts one more of what against the connection's current
// window, in the store so that the limit holds whichever Lambda instance
// takes the frame, and reports whether the count has passed max.
func (h *Handlers) overLimit(ctx context.Context, what, connID string, window time.Duration, max int64) (bool, error) {
	n := h.now().UnixNano() / int64(window)
	// The store judges expiry by its own clock, not the handlers' one.
	// The counter's name holds its window, so keeping it longer than the
	// window never merges two; keeping it a minute more means a process
	// that stalls between two frames does not start the count over.
	count, err := h.store.IncrementCounter(ctx, what+":"+connID+":"+strconv.FormatInt(n, 10), time.Now().Add(3*window+time.Minute))
	if err != nil {
		return false, err
	}
	return count > max, nil
}

// LeaveRoom takes the connection out of a room and tells everyone in it,
// the leaver included.
func (h *Handlers) LeaveRoom(ctx context.Context, ev Event) (Response, error) {
	return h.route(ctx, &ev, "leave_room", func(ctx context.Context, c store.Connection, r *request) error {
		roomID, okID := r.str("room_id")
		if !okID {
			return invalid("leave_room needs room_id")
		}
		if err := h.joined(ctx, c, roomID); err != nil {
			return err
		}
		if err := h.limitJoins(ctx, c.ID); err != nil {
			return err
		}
		return h.leave(ctx, c, roomID, true, true)
	})
}

// leave appends user_left with the presence removal and announces it; the
// leaver's connection hears it too when tellLeaver and it is still open.
// Connections the announcement finds gone are forgotten, their own leaves
// announced only when announceGone: a leave made for a gone connection
// drops the others it finds, so one broadcast does bounded work.
func (h *Handlers) leave(ctx context.Context, c store.Connection, roomID string, tellLeaver, announceGone bool) error {
	p := store.Presence{ConnectionID: c.ID, Username: c.Username}
	change, err := h.rooms.Leave(ctx, c.Username, roomID, p)
	switch {
	case errors.Is(err, store.ErrNotPresent):
		return nil // another path (a racing $disconnect, a gone push) left first
	case errors.Is(err, chat.ErrRoomNotFound):
		// No longer a member (removed, or the room deleted): nothing to
		// announce, just forget the presence.
		return h.store.RemovePresence(ctx, roomID, c.ID)
	case err != nil:
		return err
	}
	defer change.Delivery.Done()
	var extra []string
	if tellLeaver {
		extra = []string{c.ID}
	}
	gone := h.pushChange(ctx, change, eventFrame(change.Events[0]), extra, announceGone)
	change.Delivery.Done()
	h.forgetAll(ctx, gone, announceGone)
	return nil
}

// Default answers frames no route took: typing, which is not stored, and
// anything else, which is unknown_action (or invalid_json).
func (h *Handlers) Default(ctx context.Context, ev Event) (Response, error) {
	return h.route(ctx, &ev, "", func(ctx context.Context, c store.Connection, r *request) error {
		roomID, okID := r.str("room_id")
		if !okID {
			return invalid("typing needs room_id")
		}
		if err := h.joined(ctx, c, roomID); err != nil {
			return err
		}
		if over, err := h.overLimit(ctx, "typing", c.ID, time.Second, MaxTypingPerSecond); err != nil || over {
			return err
		}
		present, err := h.store.RoomConnections(ctx, roomID)
		if err != nil {
			return err
		}
		others := slices.DeleteFunc(present, func(p store.Presence) bool { return p.ConnectionID == c.ID })
		h.forgetAll(ctx, h.deliver(ctx, others, typingFrame{Type: "typing", RoomID: roomID, Username: c.Username}, nil), true)
		return nil
	})
}

// awaitTurn waits until the room's earlier frames in this process are
// pushed (rooms.Delivery), so connections get live frames in seq order.
func (h *Handlers) awaitTurn(ctx context.Context, roomID string, d *rooms.Delivery) {
	if !d.Wait(ctx) && ctx.Err() == nil {
		h.logger.WarnContext(ctx, "pushing out of turn: an earlier frame of the room is stuck", "room_id", roomID)
	}
}

func (h *Handlers) deliver(ctx context.Context, present []store.Presence, frame any, extra []string) (gone []string) {
	return h.post(ctx, recipients(present, extra), encode(frame))
}

// send posts a frame and forgets the connections that are gone.
func (h *Handlers) send(ctx context.Context, ids []string, frame []byte) {
	h.forgetAll(ctx, h.post(ctx, ids, frame), true)
}

// post posts a frame and returns the connections that are gone. A change's
// pushes forget those only once its delivery is done: forgetting appends
// leaves to the same rooms, whose deliveries queue behind it.
func (h *Handlers) post(ctx context.Context, ids []string, frame []byte) (gone []string) {
	return h.push.Post(ctx, ids, frame).Gone
}

func (h *Handlers) forgetAll(ctx context.Context, gone []string, announce bool) {
	for _, id := range gone {
		h.forget(ctx, id, announce)
	}
}

// forget handles a connection the management API says is gone. Its
// $disconnect may never come, or may be running now: either way it leaves
// its rooms as $disconnect would, announced to the others (a leave already
// made by the other path appends nothing, see store.ErrNotPresent), and is
// then dropped. Announcing can find more gone connections; those are
// dropped without announcing further, so one broadcast does bounded work.
func (h *Handlers) forget(ctx context.Context, id string, announce bool) {
	h.conns.forget(id)
	c, err := h.store.Connection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// $disconnect or another push got there first; what a join still
		// running then left in a room is swept (the push that found the
		// connection gone may be one to that room).
		if err := h.store.DeleteConnection(ctx, id); err != nil {
			h.logger.WarnContext(ctx, "gone connection not cleanly removed", "connection_id", id, "error", err.Error())
		}
		return
	}
	if err == nil && h.now().Sub(c.ConnectedAt) < h.connectGrace {
		// API Gateway lists a socket only once its $connect has answered,
		// and $connect records it before that: a push in between finds it
		// gone. Forgetting it then would leave the client a socket the
		// chat knows nothing of, closed at its first frame. A socket that
		// did close this young gets its $disconnect.
		h.logger.InfoContext(ctx, "gone connection too young to forget: its handshake may be under way", "connection_id", id)
		return
	}
	if err == nil && announce {
		var joined []string
		if joined, err = h.store.ConnectionRooms(ctx, id); err == nil {
			for _, roomID := range joined {
				if lerr := h.leave(ctx, c, roomID, false, false); lerr != nil {
					err = lerr
				}
			}
		}
	}
	if derr := h.store.DeleteConnection(ctx, id); derr != nil || err != nil {
		h.logger.WarnContext(ctx, "gone connection not cleanly removed", "connection_id", id, "error", errors.Join(err, derr).Error())
	}
}

func (h *Handlers) failed(ctx context.Context, ev *Event, err error) Response {
	h.logFailure(ctx, ev, err)
	return Response{StatusCode: http.StatusInternalServerError}
}

func (h *Handlers) logFailure(ctx context.Context, ev *Event, err error) {
	h.logger.ErrorContext(ctx, "request failed",
		"request_id", ev.RequestContext.RequestID,
		"route", ev.RequestContext.RouteKey,
		"connection_id", ev.RequestContext.ConnectionID,
		"error", err.Error())
}

func (h *Handlers) recover(ctx context.Context, ev *Event, resp *Response) {
	if p := recover(); p != nil {
		*resp = h.failed(ctx, ev, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
	}
}

// Messages serves the routes that write messages, send_message,
// edit_message and delete_message, which share one function: the same
// permissions, and one pool of warm instances.
func (h *Handlers) Messages(ctx context.Context, ev Event) (Response, error) {
	switch ev.RequestContext.RouteKey {
	case "edit_message":
		return h.EditMessage(ctx, ev)
	case "delete_message":
		return h.DeleteMessage(ctx, ev)
	}
	return h.SendMessage(ctx, ev)
}
