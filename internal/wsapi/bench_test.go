package wsapi_test

import (
	"context"
	"fmt"
	"github.com/chatroom/chat/internal/testkit"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/app"
	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/store/storetest"
	"github.com/chatroom/chat/internal/wsapi"
)

// countingPusher counts the frames posted and keeps none of them.
type countingPusher struct{ frames, bytes atomic.Int64 }

func (p *countingPusher) Post(_ context.Context, ids []string, frame []byte) push.Result {
	p.frames.Add(int64(len(ids)))
	p.bytes.Add(int64(len(ids) * len(frame)))
	return push.Result{}
}

func (p *countingPusher) Disconnect(context.Context, string) error { return nil }

// BenchmarkSendMessage sends messages through the send_message handler on
// the bbolt store (on tmpfs where there is one) into a room where 100
// connections are joined: the append, the connection lookups, the rate
// limit counter, and one frame encoded and posted to 100 connections.
// Senders go round-robin over the connections, and the handlers' clock
// moves on two seconds (a new rate limit window) every 40 sends.
func BenchmarkSendMessage(b *testing.B) {
	const users, connsPerUser = 10, 10
	ctx := context.Background()
	st := storetest.Adapters()[0].Open(b) // bbolt
	clk := testkit.NewClock(time.Now().UTC().Truncate(time.Second), time.Millisecond)
	pusher := &countingPusher{}
	cfg := auth.Config{Params: cheap, SessionTTL: 24 * time.Hour, MaxFailedLogins: 10, MaxFailedLoginsPerAddress: 30, MaxTicketsPerMinute: 60, Now: clk.Now}
	a, err := app.NewLocal(st, pusher, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ws := a.Sockets

	var names, conns []string
	tokens := map[string]string{}
	for i := range users {
		name := fmt.Sprintf("user%02d", i)
		s, err := a.Auth.Signup(ctx, name, "correct horse battery")
		if err != nil {
			b.Fatal(err)
		}
		names, tokens[name] = append(names, name), s.Token
	}
	room, err := a.Rooms.Create(ctx, names[0], "bench", names[1:])
	if err != nil {
		b.Fatal(err)
	}
	for i := range users * connsPerUser {
		id := fmt.Sprintf("benchconn%04d=", i)
		var ev wsapi.Event
		ev.RequestContext.RouteKey, ev.RequestContext.ConnectionID = "$connect", id
		name := names[i%users]
		hash, err := auth.TokenHash(tokens[name])
		if err != nil {
			b.Fatal(err)
		}
		ticket, err := a.Auth.IssueTicket(ctx, auth.Identity{Username: name, TokenHash: hash})
		if err != nil {
			b.Fatal(err)
		}
		ev.QueryStringParameters = map[string]string{"ticket": ticket.Value}
		if r, err := ws.Connect(ctx, ev); err != nil || r.StatusCode != 200 {
			b.Fatalf("$connect: %d %v", r.StatusCode, err)
		}
		ev = wsapi.Event{}
		ev.RequestContext.RouteKey, ev.RequestContext.ConnectionID = "join_room", id
		ev.Body = `{"action":"join_room","room_id":"` + room.ID + `"}`
		if r, err := ws.JoinRoom(ctx, ev); err != nil || r.StatusCode != 200 {
			b.Fatalf("join_room: %d %v", r.StatusCode, err)
		}
		conns = append(conns, id)
	}
	present, err := st.RoomConnections(ctx, room.ID)
	if err != nil || len(present) != len(conns) {
		b.Fatalf("%d connections joined (%v), want %d", len(present), err, len(conns))
	}

	text := strings.Repeat("hello, everyone ", 7)[:100] // ~100 bytes
	prefix := `{"action":"send_message","room_id":"` + room.ID + `","text":"` + text + `","client_msg_id":"bench-`
	pusher.frames.Store(0)
	pusher.bytes.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if n%(2*wsapi.SendRate) == 0 {
			clk.Advance(2 * time.Second)
		}
		var ev wsapi.Event
		ev.RequestContext.RouteKey, ev.RequestContext.ConnectionID = "send_message", conns[n%len(conns)]
		ev.Body = prefix + fmt.Sprint(n) + `"}`
		if r, err := ws.SendMessage(ctx, ev); err != nil || r.StatusCode != 200 {
			b.Fatalf("send_message: %d %v", r.StatusCode, err)
		}
		n++
	}
	b.StopTimer()
	if want := int64(n * len(conns)); pusher.frames.Load() != want {
		b.Fatalf("%d frames posted, want %d (one per joined connection per send; an error frame or a rate limit slipped in?)", pusher.frames.Load(), want)
	}
	b.ReportMetric(float64(pusher.frames.Load())/float64(n), "frames/op")
	b.ReportMetric(float64(pusher.bytes.Load())/float64(pusher.frames.Load()), "B/frame")
}
