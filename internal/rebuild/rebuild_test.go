package rebuild_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/rebuild"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

type adapter interface {
	store.Store
	rebuild.Store
}

var at = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func apply(t *testing.T, s store.Store, roomID string, cmd func(r *chat.Room) ([]chat.Event, error), erase ...int64) {
	t.Helper()
	ctx := context.Background()
	r, err := s.Room(ctx, roomID)
	if err != nil {
		r = chat.NewRoom(roomID)
	}
	events, err := cmd(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Messages: r.Messages, Events: events, Erase: erase}); err != nil {
		t.Fatal(err)
	}
}

// seed makes two rooms and three accounts, one room deleted, and one
// message edited and then deleted, so erased.
func seed(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := s.CreateUser(ctx, store.User{Username: u, PasswordHash: "h", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(string) bool { return true }
	apply(t, s, "room-a", func(*chat.Room) ([]chat.Event, error) {
		return chat.CreateRoom("room-a", "alice", "general", []string{"bob"}, exists, at)
	})
	apply(t, s, "room-a", func(r *chat.Room) ([]chat.Event, error) {
		return r.AddMembers("alice", []string{"carol"}, true, exists, at)
	})
	id := chat.MessageID("room-a", "bob", "c1")
	apply(t, s, "room-a", func(r *chat.Room) ([]chat.Event, error) {
		return r.SendMessage("bob", id, "c1", "hi @alice", at)
	})
	apply(t, s, "room-a", func(r *chat.Room) ([]chat.Event, error) {
		return r.SendMessage("alice", chat.MessageID("room-a", "alice", "c2"), "c2", "hello", at)
	})
	msg := func() *chat.MessageRef {
		m, err := s.Message(ctx, "room-a", id)
		if err != nil {
			t.Fatal(err)
		}
		return m.Ref()
	}
	apply(t, s, "room-a", func(r *chat.Room) ([]chat.Event, error) { return r.EditMessage("bob", msg(), "hi again", at) })
	apply(t, s, "room-a", func(r *chat.Room) ([]chat.Event, error) { return r.DeleteMessage("bob", msg(), at) }, 3, 5)
	apply(t, s, "room-b", func(*chat.Room) ([]chat.Event, error) {
		return chat.CreateRoom("room-b", "bob", "gone", []string{"carol"}, exists, at)
	})
	apply(t, s, "room-b", func(r *chat.Room) ([]chat.Event, error) { return r.Delete("bob", at) })
}

func TestVerifyAndRepair(t *testing.T) {
	for _, a := range storetest.Adapters() {
		t.Run(a.Name, func(t *testing.T) {
			ctx := context.Background()
			s := a.Open(t).(adapter) // both adapters offer the rebuild's reads and repair
			seed(t, s)

			rep, err := rebuild.Run(ctx, s, false)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Rooms != 2 || rep.Events != 8 || rep.Users != 3 || len(rep.Differences) != 0 {
				t.Fatalf("clean store: %+v, want 2 rooms, 8 events, 3 users and no differences", rep)
			}

			// Damage the projections: a wrong name and version, a member
			// who is not one, a member missing, and a deleted room that
			// comes back to life with a member.
			bad, _ := s.Room(ctx, "room-a")
			bad.Name, bad.Version = "hijacked", 99
			bad.Members["mallory"] = chat.RoleOwner
			delete(bad.Members, "bob")
			if err := s.ReplaceProjection(ctx, bad); err != nil {
				t.Fatal(err)
			}
			undead := &chat.Room{ID: "room-b", Name: "gone", Owner: "bob", Version: 2, CreatedAt: at, LastActivityAt: at, Members: map[string]chat.Role{"carol": chat.RoleMember}}
			if err := s.ReplaceProjection(ctx, undead); err != nil {
				t.Fatal(err)
			}

			rep, err = rebuild.Run(ctx, s, false)
			if err != nil {
				t.Fatal(err)
			}
			report := ""
			for _, d := range rep.Differences {
				report += d.String() + "\n"
			}
			for _, want := range []string{`name "hijacked"`, "version 99", "mallory is listed", `member bob is ""`, "room room-b: deleted false", "user bob: does not list room room-a", "user carol: lists room room-b"} {
				if !strings.Contains(report, want) {
					t.Errorf("verify report lacks %q:\n%s", want, report)
				}
			}
			if rep.Repaired != 0 {
				t.Fatal("verify repaired something")
			}

			rep, err = rebuild.Run(ctx, s, true)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Repaired != 2 {
				t.Fatalf("repaired %d rooms, want 2", rep.Repaired)
			}
			rep, err = rebuild.Run(ctx, s, false)
			if err != nil || len(rep.Differences) != 0 {
				t.Fatalf("after repair: %+v, %v; want no differences", rep.Differences, err)
			}
			if r, _ := s.Room(ctx, "room-a"); r.Name != "general" || r.Members["bob"] != chat.RoleMember || r.Members["carol"] != chat.RoleAdmin {
				t.Fatalf("repaired room = %+v", r)
			}
		})
	}
}
