package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/wire"
)

// Notifier tells the connections concerned about a change made over HTTP:
// a logout closes the sockets opened with its token; a room change reaches
// the room's sockets. The WebSocket side implements it.
type Notifier interface {
	SessionEnded(ctx context.Context, id auth.Identity) error
	RoomChanged(ctx context.Context, change rooms.Change) error
	// RoomCreated puts a new room in its members' lists; ReadMoved gives
	// the user's other sockets the room's line after a read.
	RoomCreated(ctx context.Context, r *chat.Room) error
	ReadMoved(ctx context.Context, username string, line store.RoomSummary) error
}

// NewAuthAPI serves the accounts routes of the auth function.
func NewAuthAPI(a *auth.Service, notify Notifier, logger *slog.Logger) (*Handler, error) {
	h, err := newHandler(a, logger)
	if err != nil {
		return nil, err
	}
	if notify == nil {
		return nil, errors.New("httpapi: a notifier is required")
	}
	h.routes["POST /auth/signup"] = route{anonymous: true, handle: func(ctx context.Context, r *Request) (Response, error) {
		var body credentials
		if err := r.decode(&body); err != nil {
			return Response{}, err
		}
		s, err := a.Signup(ctx, body.Username, body.Password)
		return sessionResponse(http.StatusCreated, s, err)
	}}
	h.routes["POST /auth/login"] = route{anonymous: true, handle: func(ctx context.Context, r *Request) (Response, error) {
		var body credentials
		if err := r.decode(&body); err != nil {
			return Response{}, err
		}
		s, err := a.Login(ctx, body.Username, body.Password, r.Event.RequestContext.HTTP.SourceIP)
		return sessionResponse(http.StatusOK, s, err)
	}}
	h.routes["POST /auth/logout"] = route{handle: func(ctx context.Context, r *Request) (Response, error) {
		if err := a.Logout(ctx, r.Caller); err != nil {
			return Response{}, err
		}
		// The token is dead already; closing its sockets is the tidy-up.
		if err := notify.SessionEnded(ctx, r.Caller); err != nil {
			logger.WarnContext(ctx, "sockets of an ended session not closed", "request_id", r.Event.RequestContext.RequestID, "error", err.Error())
		}
		return Response{Status: http.StatusNoContent}, nil
	}}
	h.routes["POST /auth/ticket"] = route{handle: func(ctx context.Context, r *Request) (Response, error) {
		t, err := a.IssueTicket(ctx, r.Caller)
		if err != nil {
			return Response{}, err
		}
		return Response{Status: http.StatusCreated, Body: ticketBody{Ticket: t.Value, ExpiresAt: wire.Time(t.ExpiresAt)}}, nil
	}}
	h.routes["GET /me"] = route{handle: func(_ context.Context, r *Request) (Response, error) {
		return Response{Status: http.StatusOK, Body: map[string]string{"username": r.Caller.Username}}, nil
	}}
	return h, nil
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type ticketBody struct {
	Ticket    string `json:"ticket"`
	ExpiresAt string `json:"expires_at"`
}

type sessionBody struct {
	Username  string `json:"username"`
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

func sessionResponse(status int, s auth.Session, err error) (Response, error) {
	if err != nil {
		return Response{}, err
	}
	return Response{Status: status, Body: sessionBody{Username: s.Username, Token: s.Token, ExpiresAt: wire.Time(s.ExpiresAt)}}, nil
}

// NewRoomsAPI serves the room routes of the rooms function.
func NewRoomsAPI(a *auth.Service, rs *rooms.Service, notify Notifier, logger *slog.Logger) (*Handler, error) {
	h, err := newHandler(a, logger)
	if err != nil {
		return nil, err
	}
	if rs == nil || notify == nil {
		return nil, errors.New("httpapi: the rooms service and a notifier are required")
	}
	rt := &roomRoutes{rooms: rs, notify: notify, logger: logger}
	h.routes["POST /rooms"] = route{handle: rt.create}
	h.routes["GET /rooms"] = route{handle: rt.list}
	h.routes["GET /rooms/{room_id}"] = route{handle: rt.get}
	h.routes["PATCH /rooms/{room_id}"] = route{handle: rt.rename}
	h.routes["DELETE /rooms/{room_id}"] = route{handle: rt.delete}
	h.routes["POST /rooms/{room_id}/members"] = route{handle: rt.addMembers}
	h.routes["DELETE /rooms/{room_id}/members/{username}"] = route{handle: rt.removeMember}
	h.routes["GET /rooms/{room_id}/events"] = route{handle: rt.events}
	h.routes["POST /rooms/{room_id}/read"] = route{handle: rt.markRead}
	h.routes["POST /dms"] = route{handle: rt.openDirect}
	h.routes["POST /me/blocks"] = route{handle: rt.block}
	h.routes["DELETE /me/blocks/{username}"] = route{handle: rt.unblock}
	h.routes["GET /me/blocks"] = route{handle: rt.blocks}
	// API Gateway answers a path no route takes with its own bare 404;
	// these catch-alls make it the contract's route_not_found instead.
	// OPTIONS is left out so CORS preflights stay API Gateway's.
	for _, m := range CatchAllMethods {
		h.routes[m+" /{proxy+}"] = route{anonymous: true, catchAll: true, handle: func(context.Context, *Request) (Response, error) {
			return Response{}, errRouteNotFound
		}}
	}
	return h, nil
}

type roomRoutes struct {
	rooms  *rooms.Service
	notify Notifier
	logger *slog.Logger
}

func (rt *roomRoutes) create(ctx context.Context, r *Request) (Response, error) {
	var body struct {
		Name    string   `json:"name"`
		Members []string `json:"members"`
	}
	if err := r.decode(&body); err != nil {
		return Response{}, err
	}
	room, err := rt.rooms.Create(ctx, r.Caller.Username, body.Name, body.Members)
	if err != nil {
		return Response{}, err
	}
	if err := rt.notify.RoomCreated(ctx, room); err != nil {
		rt.logger.WarnContext(ctx, "new room not pushed to lists", "request_id", r.Event.RequestContext.RequestID, "room_id", room.ID, "error", err.Error())
	}
	return Response{Status: http.StatusCreated, Body: wire.NewRoom(room)}, nil
}

func (rt *roomRoutes) get(ctx context.Context, r *Request) (Response, error) {
	room, err := rt.rooms.Get(ctx, r.Caller.Username, r.Params["room_id"])
	if err != nil {
		return Response{}, err
	}
	return Response{Status: http.StatusOK, Body: wire.NewRoom(room)}, nil
}

// decodeAsMember decodes the body, but a caller who is not a member of the
// room hears room_not_found before hearing that the body is malformed.
func (rt *roomRoutes) decodeAsMember(ctx context.Context, r *Request, v any) error {
	err := r.decode(v)
	if err == nil {
		return nil
	}
	if merr := rt.rooms.CheckMember(ctx, r.Caller.Username, r.Params["room_id"]); merr != nil {
		return merr
	}
	return err
}

// changed tells the room's connections and answers with the room.
func (rt *roomRoutes) changed(ctx context.Context, r *Request, c rooms.Change, status int) (Response, error) {
	defer c.Delivery.Done() // the notifier's turn is over, pushed or not
	if len(c.Events) > 0 {
		// The change is stored; a failed push is logged, not the caller's.
		if err := rt.notify.RoomChanged(ctx, c); err != nil {
			rt.logger.WarnContext(ctx, "room change not pushed", "request_id", r.Event.RequestContext.RequestID, "room_id", c.Room.ID, "error", err.Error())
		}
	}
	if status == http.StatusNoContent {
		return Response{Status: status}, nil
	}
	return Response{Status: status, Body: wire.NewRoom(c.Room)}, nil
}

func (rt *roomRoutes) rename(ctx context.Context, r *Request) (Response, error) {
	var body struct {
		Name string `json:"name"`
	}
	if err := rt.decodeAsMember(ctx, r, &body); err != nil {
		return Response{}, err
	}
	c, err := rt.rooms.Rename(ctx, r.Caller.Username, r.Params["room_id"], body.Name)
	if err != nil {
		return Response{}, err
	}
	return rt.changed(ctx, r, c, http.StatusOK)
}

func (rt *roomRoutes) addMembers(ctx context.Context, r *Request) (Response, error) {
	var body struct {
		Usernames []string `json:"usernames"`
		Admin     bool     `json:"admin"`
	}
	if err := rt.decodeAsMember(ctx, r, &body); err != nil {
		return Response{}, err
	}
	c, err := rt.rooms.AddMembers(ctx, r.Caller.Username, r.Params["room_id"], body.Usernames, body.Admin)
	if err != nil {
		return Response{}, err
	}
	return rt.changed(ctx, r, c, http.StatusOK)
}

func (rt *roomRoutes) removeMember(ctx context.Context, r *Request) (Response, error) {
	c, err := rt.rooms.RemoveMember(ctx, r.Caller.Username, r.Params["room_id"], r.Params["username"])
	if err != nil {
		return Response{}, err
	}
	return rt.changed(ctx, r, c, http.StatusNoContent)
}

func (rt *roomRoutes) delete(ctx context.Context, r *Request) (Response, error) {
	c, err := rt.rooms.Delete(ctx, r.Caller.Username, r.Params["room_id"])
	if err != nil {
		return Response{}, err
	}
	return rt.changed(ctx, r, c, http.StatusNoContent)
}

// CatchAllMethods are the methods whose unknown paths reach the rooms
// function through its /{proxy+} routes.
var CatchAllMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// Page sizes of GET /rooms/{id}/events.
const (
	defaultPageLimit = 50
	maxPageLimit     = 200
)

func (rt *roomRoutes) events(ctx context.Context, r *Request) (Response, error) {
	roomID := r.Params["room_id"]
	page, qerr := parsePage(r.Event.QueryStringParameters)
	if qerr != nil {
		if err := rt.rooms.CheckMember(ctx, r.Caller.Username, roomID); err != nil {
			return Response{}, err
		}
		return Response{}, qerr
	}
	p, err := rt.rooms.Events(ctx, r.Caller.Username, roomID, page)
	if err != nil {
		return Response{}, err
	}
	events := p.Events
	if events == nil {
		events = []chat.Event{}
	}
	return Response{Status: http.StatusOK, Body: map[string]any{"events": events, "has_more": p.HasMore}}, nil
}

func invalidQuery(msg string) error { return &chat.Error{Code: codeInvalidQuery, Message: msg} }

func parsePage(q map[string]string) (rooms.Page, error) {
	p := rooms.Page{Limit: defaultPageLimit}
	cursor := func(name string) (int64, bool, error) {
		raw, ok := q[name]
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 {
			return 0, false, invalidQuery(name + " must be a non-negative integer")
		}
		return n, true, nil
	}
	before, hasBefore, err := cursor("before_seq")
	if err != nil {
		return p, err
	}
	after, hasAfter, err := cursor("after_seq")
	if err != nil {
		return p, err
	}
	if hasBefore && hasAfter {
		return p, invalidQuery("give before_seq or after_seq, not both")
	}
	if raw, ok := q["limit"]; ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageLimit {
			return p, invalidQuery("limit must be an integer from 1 to 200")
		}
		p.Limit = n
	}
	if hasAfter {
		p.After = &after
	}
	if hasBefore {
		p.Before = &before
	}
	return p, nil
}

// markRead moves the caller's read position: POST /rooms/{room_id}/read
// {"seq": N}.
func (rt *roomRoutes) markRead(ctx context.Context, r *Request) (Response, error) {
	var body struct {
		Seq json.RawMessage `json:"seq"`
	}
	roomID := r.Params["room_id"]
	if err := rt.decodeAsMember(ctx, r, &body); err != nil {
		return Response{}, err
	}
	seq, err := strconv.ParseInt(string(body.Seq), 10, 64)
	if err != nil || seq < 0 {
		if merr := rt.rooms.CheckMember(ctx, r.Caller.Username, roomID); merr != nil {
			return Response{}, merr
		}
		return Response{}, invalidQuery("seq must be a non-negative integer")
	}
	res, err := rt.rooms.MarkRead(ctx, r.Caller.Username, roomID, seq)
	if err != nil {
		return Response{}, err
	}
	if res.Moved {
		if err := rt.notify.ReadMoved(ctx, r.Caller.Username, res.Summary); err != nil {
			rt.logger.WarnContext(ctx, "read position not pushed", "request_id", r.Event.RequestContext.RequestID, "room_id", roomID, "error", err.Error())
		}
	}
	return Response{Status: http.StatusNoContent}, nil
}

// openDirect finds or starts the caller's direct room with someone: POST
// /dms {"username"}, 201 when it is new, 200 when it was there.
func (rt *roomRoutes) openDirect(ctx context.Context, r *Request) (Response, error) {
	var body struct {
		Username string `json:"username"`
	}
	if err := r.decode(&body); err != nil {
		return Response{}, err
	}
	d, err := rt.rooms.OpenDirect(ctx, r.Caller.Username, body.Username)
	if err != nil {
		return Response{}, err
	}
	status := http.StatusOK
	if d.Created {
		status = http.StatusCreated
	}
	return rt.changed(ctx, r, d.Change, status)
}
