// Package chatclient speaks the wire contract from the client side: the
// HTTP API (sign up, log in, rooms, event pages) and the WebSocket API
// (connect, join, send, read frames). The load generator and the soak use
// it, so they exercise the chat exactly as any other client would.
package chatclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"
)

// Error is a non-2xx answer of the HTTP API: its status and the contract's
// error code, so callers can branch on Code.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("chatclient: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// Client is one logged-in user.
type Client struct {
	// BaseURL is the server, e.g. http://localhost:3000: the HTTP API is
	// under /api and the WebSocket API at /ws.
	BaseURL string
	// API and WebSocket, when set, are the two APIs' own URLs (a deployed
	// stack's HttpApiUrl and WebSocketUrl, see FetchEndpoints) and take
	// the place of BaseURL's /api and /ws.
	API, WebSocket string
	HTTP           *http.Client
	Username       string
	Token          string
}

// Session is the answer of signup and login.
type session struct {
	Username string `json:"username"`
	Token    string `json:"token"`
}

// SignUp creates an account and returns its client.
func SignUp(ctx context.Context, hc *http.Client, baseURL, username, password string) (*Client, error) {
	return start(ctx, hc, baseURL, "/auth/signup", username, password)
}

// LogIn opens a session for an existing account.
func LogIn(ctx context.Context, hc *http.Client, baseURL, username, password string) (*Client, error) {
	return start(ctx, hc, baseURL, "/auth/login", username, password)
}

func start(ctx context.Context, hc *http.Client, baseURL, path, username, password string) (*Client, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: hc}
	var s session
	if err := c.do(ctx, http.MethodPost, path, map[string]string{"username": username, "password": password}, &s); err != nil {
		return nil, err
	}
	c.Username, c.Token = s.Username, s.Token
	return c, nil
}

// SignUpAt is SignUp against the APIs of ep.
func SignUpAt(ctx context.Context, hc *http.Client, ep Endpoints, username, password string) (*Client, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := &Client{API: strings.TrimRight(ep.API, "/"), WebSocket: ep.WebSocket, HTTP: hc}
	var s session
	if err := c.do(ctx, http.MethodPost, "/auth/signup", map[string]string{"username": username, "password": password}, &s); err != nil {
		return nil, err
	}
	c.Username, c.Token = s.Username, s.Token
	return c, nil
}

func (c *Client) apiURL() string {
	if c.API != "" {
		return c.API
	}
	return c.BaseURL + "/api"
}

func (c *Client) webSocketURL() string {
	if c.WebSocket != "" {
		return c.WebSocket
	}
	return strings.Replace(c.BaseURL, "http", "ws", 1) + "/ws"
}

// Endpoints are the URLs of a chat's two APIs.
type Endpoints struct {
	API       string `json:"httpApiUrl"`
	WebSocket string `json:"webSocketUrl"`
}

// FetchEndpoints reads the APIs' URLs where the web client does: the
// config.json beside it (the local emulator serves one too).
func FetchEndpoints(ctx context.Context, hc *http.Client, webURL string) (Endpoints, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(webURL, "/")+"/config.json", nil)
	if err != nil {
		return Endpoints{}, fmt.Errorf("chatclient: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Endpoints{}, fmt.Errorf("chatclient: config.json: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Endpoints{}, fmt.Errorf("chatclient: config.json: HTTP %d", resp.StatusCode)
	}
	var ep Endpoints
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ep); err != nil {
		return Endpoints{}, fmt.Errorf("chatclient: config.json: %w", err)
	}
	if ep.API == "" || ep.WebSocket == "" {
		return Endpoints{}, fmt.Errorf("chatclient: config.json names no httpApiUrl or webSocketUrl")
	}
	return ep, nil
}

// DeleteRoom deletes a room the client owns.
func (c *Client) DeleteRoom(ctx context.Context, roomID string) error {
	return c.do(ctx, http.MethodDelete, "/rooms/"+url.PathEscape(roomID), nil, nil)
}

// Member is an entry of a room's member list.
type Member struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// Room is the contract's room object.
type Room struct {
	RoomID  string   `json:"room_id"`
	Name    string   `json:"name"`
	Owner   string   `json:"owner"`
	Members []Member `json:"members"`
	LastSeq int64    `json:"last_seq"`
}

// CreateRoom creates a room owned by the caller with members added.
func (c *Client) CreateRoom(ctx context.Context, name string, members []string) (Room, error) {
	var r Room
	if members == nil {
		members = []string{}
	}
	err := c.do(ctx, http.MethodPost, "/rooms", map[string]any{"name": name, "members": members}, &r)
	return r, err
}

// Room reads a room.
func (c *Client) Room(ctx context.Context, roomID string) (Room, error) {
	var r Room
	err := c.do(ctx, http.MethodGet, "/rooms/"+url.PathEscape(roomID), nil, &r)
	return r, err
}

// AddMembers adds people to a room, MaxAddPerRequest at a time.
func (c *Client) AddMembers(ctx context.Context, roomID string, usernames []string) error {
	for len(usernames) > 0 {
		n := min(len(usernames), MaxAddPerRequest)
		if err := c.do(ctx, http.MethodPost, "/rooms/"+url.PathEscape(roomID)+"/members",
			map[string]any{"usernames": usernames[:n]}, nil); err != nil {
			return err
		}
		usernames = usernames[n:]
	}
	return nil
}

// MaxAddPerRequest is how many people one request may add (docs/api.md).
const MaxAddPerRequest = 49

// Event is an event object of a room's stream. Raw keeps every field.
type Event struct {
	Seq         int64           `json:"seq"`
	Type        string          `json:"type"`
	Username    string          `json:"username"`
	ClientMsgID string          `json:"client_msg_id,omitempty"`
	Text        string          `json:"text,omitempty"`
	Raw         json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the raw object beside the decoded fields.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// EventsAfter returns the whole stream after afterSeq, paging forward.
func (c *Client) EventsAfter(ctx context.Context, roomID string, afterSeq int64) ([]Event, error) {
	var all []Event
	for {
		var page struct {
			Events  []Event `json:"events"`
			HasMore bool    `json:"has_more"`
		}
		path := "/rooms/" + url.PathEscape(roomID) + "/events?limit=200&after_seq=" + strconv.FormatInt(afterSeq, 10)
		if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Events...)
		if !page.HasMore || len(page.Events) == 0 {
			return all, nil
		}
		afterSeq = page.Events[len(page.Events)-1].Seq
	}
}

// LogOut ends the session; its sockets are closed by the server.
func (c *Client) LogOut(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/auth/logout", nil, nil)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("chatclient: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.apiURL()+path, rd)
	if err != nil {
		return fmt.Errorf("chatclient: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("chatclient: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("chatclient: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("chatclient: %s %s: answer: %w", method, path, err)
	}
	return nil
}

// Conn is one WebSocket connection.
type Conn struct {
	ws *websocket.Conn
}

// Ticket asks for a single-use ticket to open one socket with.
func (c *Client) Ticket(ctx context.Context) (string, error) {
	var out struct {
		Ticket string `json:"ticket"`
	}
	if err := c.do(ctx, http.MethodPost, "/auth/ticket", nil, &out); err != nil {
		return "", err
	}
	return out.Ticket, nil
}

// Dial opens a WebSocket connection with a fresh ticket, without
// compression (the chat's frames are small, and API Gateway does not
// negotiate it).
func (c *Client) Dial(ctx context.Context) (*Conn, error) {
	ticket, err := c.Ticket(ctx)
	if err != nil {
		return nil, err
	}
	return c.DialTicket(ctx, ticket)
}

// DialTicket opens a WebSocket connection with the ticket given.
func (c *Client) DialTicket(ctx context.Context, ticket string) (*Conn, error) {
	u := c.webSocketURL() + "?ticket=" + url.QueryEscape(ticket)
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.HTTP, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		// The HTTP client's errors quote the URL, ticket and all.
		err = hideSecret(err, url.QueryEscape(ticket))
		if resp != nil {
			return nil, fmt.Errorf("chatclient: connect: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("chatclient: connect: %w", err)
	}
	// History frames reach 128 KiB, API Gateway's limit.
	ws.SetReadLimit(256 << 10)
	return &Conn{ws: ws}, nil
}

// Send writes one client frame, e.g. JoinFrame(...).
func (c *Conn) Send(ctx context.Context, frame []byte) error {
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return fmt.Errorf("chatclient: send: %w", err)
	}
	return nil
}

// Read returns the next server frame as it came.
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	_, raw, err := c.ws.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("chatclient: read: %w", err)
	}
	return raw, nil
}

// Close closes the connection normally.
func (c *Conn) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	if err != nil && !isClosed(err) {
		return fmt.Errorf("chatclient: close: %w", err)
	}
	return nil
}

// CloseNow drops the connection without the closing handshake, as a
// client that loses its network does.
func (c *Conn) CloseNow() { _ = c.ws.CloseNow() }

func isClosed(err error) bool {
	return websocket.CloseStatus(err) != -1 || errors.Is(err, net.ErrClosed)
}

// JoinFrame is a join_room frame; afterSeq < 0 leaves after_seq out.
func JoinFrame(roomID string, afterSeq int64) []byte {
	f := map[string]any{"action": "join_room", "room_id": roomID}
	if afterSeq >= 0 {
		f["after_seq"] = afterSeq
	}
	raw, _ := json.Marshal(f)
	return raw
}

// SendFrame is a send_message frame.
func SendFrame(roomID, clientMsgID, text string) []byte {
	raw, _ := json.Marshal(map[string]string{"action": "send_message", "room_id": roomID, "client_msg_id": clientMsgID, "text": text})
	return raw
}

// LeaveFrame is a leave_room frame.
func LeaveFrame(roomID string) []byte {
	raw, _ := json.Marshal(map[string]string{"action": "leave_room", "room_id": roomID})
	return raw
}

// Frame is a server frame, decoded: the fields of every type the contract
// lists that clients branch on. History events stay in Events.
type Frame struct {
	Type        string   `json:"type"`
	RoomID      string   `json:"room_id"`
	Seq         int64    `json:"seq"`
	Username    string   `json:"username"`
	ClientMsgID string   `json:"client_msg_id"`
	Text        string   `json:"text"`
	Code        string   `json:"code"`
	Message     string   `json:"message"`
	Events      []Event  `json:"events"`
	HasMore     bool     `json:"has_more"`
	LastSeq     int64    `json:"last_seq"`
	Online      []string `json:"online"`
}

// ParseFrame decodes a server frame.
func ParseFrame(raw []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(raw, &f); err != nil {
		return f, fmt.Errorf("chatclient: frame %q: %w", truncate(raw), err)
	}
	return f, nil
}

func truncate(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// secretHidden is an error whose message no longer holds a secret; the
// error it wraps still answers errors.Is and errors.As.
type secretHidden struct {
	err error
	msg string
}

func (e *secretHidden) Error() string { return e.msg }
func (e *secretHidden) Unwrap() error { return e.err }

// hideSecret replaces secret in err's message, keeping err beneath.
func hideSecret(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &secretHidden{err: err, msg: strings.ReplaceAll(err.Error(), secret, "REDACTED")}
}
