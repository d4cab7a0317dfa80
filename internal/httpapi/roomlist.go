package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/wire"
)

// Page sizes of GET /rooms.
const (
	defaultRoomPage = 100
	maxRoomPage     = 200
	// maxCursorLen bounds what a cursor's decoding may cost: a real one is
	// under 80 characters.
	maxCursorLen = 256
)

type roomListBody struct {
	Rooms []wire.RoomSummary `json:"rooms"`
	// Next is null on the last page.
	Next *string `json:"next"`
}

func (rt *roomRoutes) list(ctx context.Context, r *Request) (Response, error) {
	q, err := parseRoomListQuery(r.Event.QueryStringParameters)
	if err != nil {
		return Response{}, err
	}
	page, err := rt.rooms.ListPage(ctx, r.Caller.Username, q)
	if err != nil {
		return Response{}, err
	}
	body := roomListBody{Rooms: wire.NewRoomSummaries(page.Rooms)}
	if page.Next != nil {
		c := encodeCursor(*page.Next)
		body.Next = &c
	}
	return Response{Status: http.StatusOK, Body: body}, nil
}

func parseRoomListQuery(q map[string]string) (rooms.ListQuery, error) {
	lq := rooms.ListQuery{Limit: defaultRoomPage}
	if raw, ok := q["limit"]; ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxRoomPage {
			return lq, invalidQuery("limit must be an integer from 1 to 200")
		}
		lq.Limit = n
	}
	if raw, ok := q["cursor"]; ok {
		p, ok := decodeCursor(raw)
		if !ok {
			return lq, invalidQuery("cursor is not one this API gave out; start again without it")
		}
		lq.After = &p
	}
	return lq, nil
}

// A cursor is the position of a page's last room, base64url so it is one
// opaque token in a URL. Clients must not read it; the server may change
// what it holds.
func encodeCursor(p rooms.ListPosition) string {
	return base64.RawURLEncoding.EncodeToString([]byte(p.LastActivityAt.UTC().Format(time.RFC3339Nano) + " " + p.RoomID))
}

func decodeCursor(s string) (rooms.ListPosition, bool) {
	if s == "" || len(s) > maxCursorLen {
		return rooms.ListPosition{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return rooms.ListPosition{}, false
	}
	at, id, ok := strings.Cut(string(raw), " ")
	if !ok || id == "" || strings.IndexFunc(id, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' }) >= 0 {
		return rooms.ListPosition{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return rooms.ListPosition{}, false
	}
	return rooms.ListPosition{LastActivityAt: t.UTC(), RoomID: id}, true
}
