// Package abuse tries, against a running chat, what a hostile user would:
// racing handshakes against a logout, flooding a room with joins, leaves
// and typing, guessing passwords all at once or to lock an owner out,
// adding someone to hundreds of rooms, hoarding sockets, and sending input
// that decoders rewrite. Each probe reports what it did and what the
// server let through, beside what the contract allows, so a run is the
// before and after of the security work in figures.
//
// It speaks the wire contract only (internal/chatclient), so it runs
// against `make run`, DynamoDB Local or a deployed stack alike. Probes
// that need several client addresses bind loopback addresses
// (127.0.0.2, ...) and are skipped against a server elsewhere.
package abuse

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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/chatclient"
)

// Config says where to probe and how hard.
type Config struct {
	BaseURL string // e.g. http://127.0.0.1:3000
	// Prefix makes the run's usernames its own, so runs do not collide.
	Prefix string
	// RaceRounds and RaceHandshakes size the logout race.
	RaceRounds, RaceHandshakes int
	// FloodFor is how long the join/leave flood runs.
	FloodFor time.Duration
	// TypingFrames is how many typing frames the flood sends.
	TypingFrames int
	// Guesses is how many wrong passwords are sent at once.
	Guesses int
	// SpamRooms is how many rooms the spammer tries to add the victim to.
	SpamRooms int
	// Sockets is how many sockets one person tries to open.
	Sockets int
}

// Default is a full run, the figures of the security notes.
func Default(baseURL, prefix string) Config {
	return Config{BaseURL: baseURL, Prefix: prefix, RaceRounds: 30, RaceHandshakes: 8, FloodFor: 10 * time.Second,
		TypingFrames: 2000, Guesses: 40, SpamRooms: 600, Sockets: 300}
}

// Result is one probe's outcome.
type Result struct {
	Probe string `json:"probe"`
	// Tried says what the probe did; Got what the server let through.
	Tried string `json:"tried"`
	Got   string `json:"got"`
	// Held says whether the server held to the contract.
	Held    bool   `json:"held"`
	Skipped string `json:"skipped,omitempty"`
}

// Run runs every probe in turn and returns their results; an error means
// a probe could not run at all (the server unreachable, say).
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	p := &prober{cfg: cfg, hc: &http.Client{Timeout: 30 * time.Second}}
	probes := []func(context.Context) (Result, error){
		p.logoutRace, p.joinLeaveFlood, p.typingFlood, p.concurrentGuesses, p.ownerLockout,
		p.roomSpam, p.socketHoarding, p.strictInput,
	}
	var out []Result
	for _, probe := range probes {
		r, err := probe(ctx)
		if err != nil {
			return out, fmt.Errorf("abuse: %s: %w", r.Probe, err)
		}
		out = append(out, r)
	}
	return out, nil
}

type prober struct {
	cfg Config
	hc  *http.Client
	n   atomic.Int64
}

const password = "correct horse battery"

// user signs up a fresh person of the run.
func (p *prober) user(ctx context.Context, role string) (*chatclient.Client, error) {
	name := fmt.Sprintf("%s%s%d", p.cfg.Prefix, role, p.n.Add(1))
	return chatclient.SignUp(ctx, p.hc, p.cfg.BaseURL, name, password)
}

// logoutRace races handshakes with the logout of their session; after the
// logout answers, a socket that can still join or hear the room is a leak.
func (p *prober) logoutRace(ctx context.Context) (Result, error) {
	r := Result{Probe: "logout race", Tried: fmt.Sprintf("%d rounds of %d handshakes racing POST /auth/logout", p.cfg.RaceRounds, p.cfg.RaceHandshakes)}
	owner, err := p.user(ctx, "racer")
	if err != nil {
		return r, err
	}
	peer, err := p.user(ctx, "peer")
	if err != nil {
		return r, err
	}
	room, err := peer.CreateRoom(ctx, "race", []string{owner.Username})
	if err != nil {
		return r, err
	}
	var opened, leaked int
	for round := range p.cfg.RaceRounds {
		session, err := chatclient.LogIn(ctx, p.hc, p.cfg.BaseURL, owner.Username, password)
		if err != nil {
			return r, err
		}
		tickets := make([]string, p.cfg.RaceHandshakes)
		for i := range tickets {
			if tickets[i], err = session.Ticket(ctx); err != nil {
				return r, err
			}
		}
		conns := make([]*chatclient.Conn, len(tickets))
		var wg sync.WaitGroup
		for i, t := range tickets {
			wg.Go(func() { conns[i], _ = session.DialTicket(ctx, t) })
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		if err := session.LogOut(ctx); err != nil {
			return r, err
		}
		wg.Wait()
		for _, c := range conns {
			if c == nil {
				continue
			}
			opened++
			if p.socketLives(ctx, c, room.RoomID) {
				leaked++
			}
			c.CloseNow()
		}
	}
	r.Got = fmt.Sprintf("%d sockets opened, %d could still join or receive after logout answered", opened, leaked)
	r.Held = leaked == 0
	return r, nil
}

// socketLives reports whether a socket answers a join within a second.
func (p *prober) socketLives(ctx context.Context, c *chatclient.Conn, roomID string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if c.Send(ctx, chatclient.JoinFrame(roomID, -1)) != nil {
		return false
	}
	raw, err := c.Read(ctx)
	return err == nil && len(raw) > 0
}

// joinLeaveFlood has a member join and leave from four sockets as fast as
// the server lets them, and counts the events that reached the room.
func (p *prober) joinLeaveFlood(ctx context.Context) (Result, error) {
	r := Result{Probe: "join/leave flood", Tried: fmt.Sprintf("4 sockets of one member joining and leaving for %s", p.cfg.FloodFor)}
	owner, err := p.user(ctx, "owner")
	if err != nil {
		return r, err
	}
	flooder, err := p.user(ctx, "flooder")
	if err != nil {
		return r, err
	}
	room, err := owner.CreateRoom(ctx, "flooded", []string{flooder.Username})
	if err != nil {
		return r, err
	}
	fctx, cancel := context.WithTimeout(ctx, p.cfg.FloodFor)
	defer cancel()
	var refused atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		c, err := flooder.Dial(ctx)
		if err != nil {
			return r, err
		}
		defer c.CloseNow()
		wg.Go(func() { refused.Add(flood(fctx, c, room.RoomID)) })
	}
	wg.Wait()
	events, err := owner.EventsAfter(ctx, room.RoomID, 1)
	if err != nil {
		return r, err
	}
	// The limit counts in fixed 10-second windows, and a flood of any
	// length can straddle one more window than it fills.
	const window = 10 * time.Second
	windows := int((p.cfg.FloodFor+window-1)/window) + 1
	allowed := 4 * 10 * windows
	r.Got = fmt.Sprintf("%d join/leave events appended (%d refused with rate_limited); the contract allows at most %d", len(events), refused.Load(), allowed)
	r.Held = len(events) <= allowed
	return r, nil
}

// flood alternates join and leave frames, each sent after the answer to
// the one before, and returns how many were refused.
func flood(ctx context.Context, c *chatclient.Conn, roomID string) (refused int64) {
	frames := [][]byte{chatclient.JoinFrame(roomID, -1), chatclient.LeaveFrame(roomID)}
	want := []string{"join_room_announcement", "leave_room_announcement"}
	for i := 0; ctx.Err() == nil; i++ {
		if c.Send(ctx, frames[i%2]) != nil {
			return refused
		}
		for {
			raw, err := c.Read(ctx)
			if err != nil {
				return refused
			}
			f, _ := chatclient.ParseFrame(raw)
			if f.Type == "error" {
				refused++
				if f.Code == "not_joined" {
					i++ // a refused join: the next frame joins again
				}
				break
			}
			if f.Type == want[i%2] {
				break
			}
		}
	}
	return refused
}

// typingFlood sends typing frames as fast as a socket takes them and
// counts what another member hears.
func (p *prober) typingFlood(ctx context.Context) (Result, error) {
	r := Result{Probe: "typing flood", Tried: fmt.Sprintf("%d typing frames from one socket", p.cfg.TypingFrames)}
	typer, err := p.user(ctx, "typer")
	if err != nil {
		return r, err
	}
	victim, err := p.user(ctx, "victim")
	if err != nil {
		return r, err
	}
	room, err := typer.CreateRoom(ctx, "typing", []string{victim.Username})
	if err != nil {
		return r, err
	}
	t, err := typer.Dial(ctx)
	if err != nil {
		return r, err
	}
	defer t.CloseNow()
	v, err := victim.Dial(ctx)
	if err != nil {
		return r, err
	}
	defer v.CloseNow()
	for _, c := range []*chatclient.Conn{t, v} {
		if err := join(ctx, c, room.RoomID); err != nil {
			return r, err
		}
	}
	start := time.Now()
	for range p.cfg.TypingFrames {
		if err := t.Send(ctx, chatclient.TypingFrame(room.RoomID)); err != nil {
			return r, err
		}
	}
	heard := 0
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for {
		raw, err := v.Read(rctx)
		if err != nil {
			break
		}
		if f, _ := chatclient.ParseFrame(raw); f.Type == "typing" {
			heard++
		}
	}
	seconds := int(time.Since(start)/time.Second) + 1
	r.Got = fmt.Sprintf("the other member heard %d of them over %d s; the contract allows 2 a second", heard, seconds)
	r.Held = heard <= 2*(seconds+1)
	return r, nil
}

func join(ctx context.Context, c *chatclient.Conn, roomID string) error {
	if err := c.Send(ctx, chatclient.JoinFrame(roomID, -1)); err != nil {
		return err
	}
	for {
		raw, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if f, _ := chatclient.ParseFrame(raw); f.Type == "join_room_announcement" {
			return nil
		}
	}
}

// concurrentGuesses sends wrong passwords all at once from one address.
func (p *prober) concurrentGuesses(ctx context.Context) (Result, error) {
	r := Result{Probe: "concurrent guesses", Tried: fmt.Sprintf("%d wrong passwords for one account at once, from one address", p.cfg.Guesses)}
	victim, err := p.user(ctx, "guessed")
	if err != nil {
		return r, err
	}
	statuses := make([]int, p.cfg.Guesses)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() { statuses[i] = p.login(ctx, p.hc, victim.Username, "wrong password") })
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	r.Got = fmt.Sprintf("%d checked (401), %d refused unchecked (429), %d other", count[401], count[429], len(statuses)-count[401]-count[429])
	r.Held = count[401] <= 10 && count[401]+count[429] == len(statuses)
	return r, nil
}

// login posts a login and returns the status.
func (p *prober) login(ctx context.Context, hc *http.Client, username, pw string) int {
	body, _ := json.Marshal(map[string]string{"username": username, "password": pw})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.BaseURL+"/api/auth/login", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// ownerLockout guesses from one address until refused, then logs the
// owner in from another.
func (p *prober) ownerLockout(ctx context.Context) (Result, error) {
	r := Result{Probe: "owner lockout", Tried: "20 wrong passwords from 127.0.0.2, then the owner's login from 127.0.0.3"}
	if !p.loopback() {
		r.Skipped = "needs a server on loopback, to send from several addresses"
		r.Held = true
		return r, nil
	}
	victim, err := p.user(ctx, "locked")
	if err != nil {
		return r, err
	}
	attacker, owner := fromAddress("127.0.0.2"), fromAddress("127.0.0.3")
	refused := 0
	for range 20 {
		if p.login(ctx, attacker, victim.Username, "wrong password") == http.StatusTooManyRequests {
			refused++
		}
	}
	status := p.login(ctx, owner, victim.Username, password)
	r.Got = fmt.Sprintf("the guesser was refused %d times; the owner's login answered %d", refused, status)
	r.Held = refused > 0 && status == http.StatusOK
	return r, nil
}

func (p *prober) loopback() bool {
	u, err := url.Parse(p.cfg.BaseURL)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// fromAddress is an HTTP client whose connections leave from ip.
func fromAddress(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// roomSpam adds an unconsenting person to as many rooms as the server
// lets one person create, then has them block the spammer.
func (p *prober) roomSpam(ctx context.Context) (Result, error) {
	r := Result{Probe: "room spam", Tried: fmt.Sprintf("one person creating %d rooms with the same unconsenting member", p.cfg.SpamRooms)}
	spammer, err := p.user(ctx, "spammer")
	if err != nil {
		return r, err
	}
	victim, err := p.user(ctx, "spammed")
	if err != nil {
		return r, err
	}
	created, limited := 0, 0
	start := time.Now()
	for i := range p.cfg.SpamRooms {
		_, err := spammer.CreateRoom(ctx, fmt.Sprintf("spam %d", i), []string{victim.Username})
		var ce *chatclient.Error
		switch {
		case err == nil:
			created++
		case errors.As(err, &ce) && ce.Code == "rate_limited":
			limited++
		default:
			return r, err
		}
	}
	took := time.Since(start)
	size, err := p.roomListBytes(ctx, victim)
	if err != nil {
		return r, err
	}
	r.Got = fmt.Sprintf("%d rooms created, %d refused (rate_limited) in %s; the member's GET /rooms is %d bytes", created, limited, took.Round(time.Millisecond), size)
	r.Held = created <= 30
	return r, nil
}

func (p *prober) roomListBytes(ctx context.Context, c *chatclient.Client) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.BaseURL+"/api/rooms", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return len(body), err
}

// socketHoarding opens as many sockets for one person as it can.
func (p *prober) socketHoarding(ctx context.Context) (Result, error) {
	r := Result{Probe: "socket hoarding", Tried: fmt.Sprintf("one person opening %d sockets", p.cfg.Sockets)}
	hoarder, err := p.user(ctx, "hoarder")
	if err != nil {
		return r, err
	}
	opened, refused, noTicket := 0, 0, 0
	var conns []*chatclient.Conn
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	for range p.cfg.Sockets {
		c, err := hoarder.Dial(ctx)
		var ce *chatclient.Error
		switch {
		case errors.As(err, &ce) && ce.Status == http.StatusTooManyRequests:
			noTicket++ // the session asked for tickets too fast
			continue
		case err != nil && strings.Contains(err.Error(), "HTTP 429"):
			refused++ // the handshake itself
			continue
		case err != nil:
			return r, err
		}
		opened++
		conns = append(conns, c)
	}
	r.Got = fmt.Sprintf("%d opened, %d handshakes refused with 429, %d refused a ticket (429)", opened, refused, noTicket)
	r.Held = opened <= 20
	return r, nil
}

// strictInput sends what decoders rewrite or misread, and a socket URL
// with a session token.
func (p *prober) strictInput(ctx context.Context) (Result, error) {
	r := Result{Probe: "strict input", Tried: "signup with invalid UTF-8, a lone surrogate, USERNAME, a repeated key; ?token=; after_seq=2^63-1; frame-ancestors"}
	post := func(body string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.BaseURL+"/api/auth/signup", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := p.hc.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	name := fmt.Sprintf("%sstrict%d", p.cfg.Prefix, p.n.Add(1))
	bodies := []string{
		`{"username":"` + name + `a","password":"pass\xffword1"}`,
		`{"username":"` + name + `b","password":"pass\ud800word1"}`,
		`{"USERNAME":"` + name + `c","password":"password1"}`,
		`{"username":"` + name + `d","username":"` + name + `e","password":"password1"}`,
	}
	var statuses []int
	refused := 0
	for _, b := range bodies {
		s := post(b)
		statuses = append(statuses, s)
		if s == http.StatusBadRequest {
			refused++
		}
	}
	c, err := p.user(ctx, "strict")
	if err != nil {
		return r, err
	}
	tokenSocket := "refused"
	u := strings.Replace(p.cfg.BaseURL, "http", "ws", 1) + "/ws?token=" + url.QueryEscape(c.Token)
	if ws, _, err := websocket.Dial(ctx, u, nil); err == nil {
		tokenSocket = "accepted"
		ws.CloseNow()
	}
	room, err := c.CreateRoom(ctx, "edge", nil)
	if err != nil {
		return r, err
	}
	edge, edgeErr := c.EventsAfter(ctx, room.RoomID, 1<<63-1)
	edgeAnswer := fmt.Sprintf("%d events", len(edge))
	if edgeErr != nil {
		edgeAnswer = edgeErr.Error()
	}
	resp, err := p.hc.Get(p.cfg.BaseURL + "/")
	if err != nil {
		return r, err
	}
	resp.Body.Close()
	framing := strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	r.Got = fmt.Sprintf("signups answered %v; ?token= socket %s; after_seq=2^63-1 gave %s; frame-ancestors 'none' header: %v", statuses, tokenSocket, edgeAnswer, framing)
	r.Held = refused == len(bodies) && tokenSocket == "refused" && edgeErr == nil && len(edge) == 0 && framing
	return r, nil
}
