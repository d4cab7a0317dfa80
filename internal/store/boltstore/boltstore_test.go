package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/boltstore"
	"github.com/chatroom/chat/internal/store/storetest"
)

func open(t testing.TB) store.Store {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformanceBbolt(t *testing.T) {
	storetest.Run(t, open)
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, open)
}

// TestSurvivesReopen is invariant 5 for the embedded store: what an append
// acknowledged is there after the file is closed and opened again.
func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ".data", "chat.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	events, err := chat.CreateRoom("room-1", "alice", "general", []string{"bob"}, func(string) bool { return true }, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, store.AppendRequest{RoomID: "room-1", Events: events}); err != nil {
		t.Fatal(err)
	}
	r, _ := s.Room(ctx, "room-1")
	msg, _ := r.SendMessage("bob", "m1", "c1", "still here?", at)
	if _, err := s.Append(ctx, store.AppendRequest{RoomID: "room-1", ExpectedVersion: 1, Events: msg}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page, err := s.ReadForward(ctx, "room-1", 0, 10)
	if err != nil || len(page.Events) != 2 || page.Events[1].Data.(chat.MessageSent).Text != "still here?" {
		t.Fatalf("after reopen the stream is %+v, %v", page, err)
	}
	got, err := s.Room(ctx, "room-1")
	if err != nil || got.Version != 2 || got.Members["bob"] != chat.RoleMember {
		t.Fatalf("after reopen the room is %+v, %v", got, err)
	}
	if _, err := s.User(ctx, "alice"); err != nil {
		t.Fatalf("after reopen the account is gone: %v", err)
	}
	// The idempotency record survived too.
	res, err := s.Append(ctx, store.AppendRequest{RoomID: "room-1", ExpectedVersion: 2, Events: []chat.Event{{RoomID: "room-1", Seq: 3, Username: "bob", At: at, Data: chat.MessageSent{MessageID: "m2", ClientMsgID: "c1", Text: "again"}}}})
	if err != nil || !res.Duplicate || res.Events[0].Seq != 2 {
		t.Fatalf("resend after reopen = %+v, %v; want the original as a duplicate", res, err)
	}
}

func TestErasureLeavesNoText(t *testing.T) {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "chat.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storetest.ErasureLeavesNoText(t, s, s.RawItems)
}
