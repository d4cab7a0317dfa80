package chatclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chatclient"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/emulator/emulatortest"
)

func startChat(t *testing.T) string {
	t.Helper()
	return emulatortest.Start(t, emulator.Options{Store: "bolt"}).URL
}

// next reads frames until one of type typ, failing on an error frame.
func next(t *testing.T, c *chatclient.Conn, typ string) chatclient.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		raw, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		f, err := chatclient.ParseFrame(raw)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == typ {
			return f
		}
		if f.Type == "error" {
			t.Fatalf("waiting for %s: error frame %s: %s", typ, f.Code, f.Message)
		}
	}
}

func TestClientSpeaksTheContract(t *testing.T) {
	base := startChat(t)
	ctx := context.Background()
	alice, err := chatclient.SignUp(ctx, nil, base, "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chatclient.SignUp(ctx, nil, base, "alice", "correct horse"); !isCode(err, 409, "username_taken") {
		t.Fatalf("second signup: got %v, want 409 username_taken", err)
	}
	if _, err := chatclient.LogIn(ctx, nil, base, "alice", "wrong password"); !isCode(err, 401, "invalid_credentials") {
		t.Fatalf("bad login: got %v, want 401 invalid_credentials", err)
	}
	bob, err := chatclient.SignUp(ctx, nil, base, "bob", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	room, err := alice.CreateRoom(ctx, "general", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.AddMembers(ctx, room.RoomID, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Room(ctx, room.RoomID); err != nil {
		t.Fatalf("bob cannot read the room he was added to: %v", err)
	}

	conn, err := bob.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Send(ctx, chatclient.JoinFrame(room.RoomID, -1)); err != nil {
		t.Fatal(err)
	}
	if h := next(t, conn, "history"); h.LastSeq != 2 || len(h.Events) != 2 || h.Online[0] != "bob" {
		t.Fatalf("history: %+v", h)
	}
	next(t, conn, "join_room_announcement")
	if err := conn.Send(ctx, chatclient.SendFrame(room.RoomID, "m1", "hello")); err != nil {
		t.Fatal(err)
	}
	got := next(t, conn, "receive_message")
	if got.Seq != 4 || got.ClientMsgID != "m1" || got.Text != "hello" || got.Username != "bob" {
		t.Fatalf("receive_message: %+v", got)
	}
	if err := conn.Send(ctx, chatclient.LeaveFrame(room.RoomID)); err != nil {
		t.Fatal(err)
	}
	next(t, conn, "leave_room_announcement")

	events, err := alice.EventsAfter(ctx, room.RoomID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	want := []string{"room_created", "member_added", "user_joined", "message_sent", "user_left"}
	if len(types) != len(want) {
		t.Fatalf("stream %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] || events[i].Seq != int64(i+1) {
			t.Fatalf("stream %v, want %v", types, want)
		}
	}
	if err := alice.LogOut(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Dial(ctx); err == nil {
		t.Fatal("a logged-out token opened a socket")
	}
}

func isCode(err error, status int, code string) bool {
	var e *chatclient.Error
	return errors.As(err, &e) && e.Status == status && e.Code == code
}
