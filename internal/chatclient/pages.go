package chatclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// Page is one page of a room's stream, ascending; HasMore says whether
// more events lie beyond it in the direction it was read.
type Page struct {
	Events  []Event `json:"events"`
	HasMore bool    `json:"has_more"`
}

// EventsPage reads one page forward: up to limit events after afterSeq.
// A client resuming a room pages this way up to the history's last_seq,
// and no further, since what follows arrives live.
func (c *Client) EventsPage(ctx context.Context, roomID string, afterSeq int64, limit int) (Page, error) {
	var page Page
	path := "/rooms/" + url.PathEscape(roomID) + "/events?limit=" + strconv.Itoa(limit) + "&after_seq=" + strconv.FormatInt(afterSeq, 10)
	err := c.do(ctx, http.MethodGet, path, nil, &page)
	return page, err
}

// TypingFrame is a typing frame. Sent on a connection that has not joined
// the room (or has just left it), it is answered not_joined to the sender
// alone, after every frame sent before it: a cheap way to learn that the
// server has handled those.
func TypingFrame(roomID string) []byte {
	raw, _ := json.Marshal(map[string]string{"action": "typing", "room_id": roomID})
	return raw
}
