package rooms_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/storetest"
)

type appendFunc = func(context.Context, store.AppendRequest, func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error)

// TestConcurrentCommands has eight writers change one room at once. All
// of them load the same version before any appends, so seven lose the
// first race for sure; every command must still succeed, and the stream
// must come out dense with the projection equal to its replay.
func TestConcurrentCommands(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		const writers, perWriter = 8, 4
		r, err := f.svc.Create(f.ctx, "alice", "busy", []string{"bob", "carol", "dave"})
		if err != nil {
			t.Fatal(err)
		}
		id := r.ID
		if _, err := f.svc.AddMembers(f.ctx, "alice", id, []string{"carol"}, true); err != nil {
			t.Fatal(err)
		}
		newcomers := map[string][]string{"alice": names("new_a", perWriter), "carol": names("new_c", perWriter)}
		f.createUsers(t, newcomers["alice"]...)
		f.createUsers(t, newcomers["carol"]...)
		start := f.stream(t, id)

		// Hold the first load of every writer until all have loaded.
		var arrived atomic.Int64
		release := make(chan struct{})
		f.h.set(func() {
			switch n := arrived.Add(1); {
			case n > writers:
				return
			case n == writers:
				close(release)
			}
			select {
			case <-release:
			case <-time.After(20 * time.Second):
			}
		}, nil)
		f.h.conflicts.Store(0)

		// One service per writer, as each Lambda instance has its own:
		// within one service a room's appends take turns, so the races
		// come from separate processes.
		service := func() *rooms.Service {
			svc, err := rooms.NewService(f.h, slog.New(slog.DiscardHandler), f.clock.Now, f.ids.next)
			if err != nil {
				t.Fatal(err)
			}
			return svc
		}
		type op struct {
			writer string
			run    func(i int) (rooms.Change, error)
		}
		rename := func(actor string) op {
			svc := service()
			return op{actor + " renames", func(i int) (rooms.Change, error) {
				return svc.Rename(f.ctx, actor, id, fmt.Sprintf("%s %d", actor, i))
			}}
		}
		add := func(actor string) op {
			svc := service()
			return op{actor + " adds", func(i int) (rooms.Change, error) {
				return svc.AddMembers(f.ctx, actor, id, []string{newcomers[actor][i]}, false)
			}}
		}
		send := func(actor string) op {
			svc := service()
			return op{actor + " sends", func(i int) (rooms.Change, error) {
				return svc.Send(f.ctx, actor, id, fmt.Sprintf("%s-%d", actor, i), fmt.Sprintf("message %d from %s", i, actor))
			}}
		}
		ops := []op{rename("alice"), rename("carol"), add("alice"), add("carol"), send("alice"), send("bob"), send("carol"), send("dave")}
		if len(ops) != writers {
			t.Fatal("the test needs one op per writer")
		}
		errs := make(chan error, writers*perWriter)
		var wg sync.WaitGroup
		for _, o := range ops {
			wg.Go(func() {
				for i := range perWriter {
					ch, err := o.run(i)
					if err == nil && (len(ch.Events) != 1 || ch.Duplicate) {
						err = fmt.Errorf("change %+v, want one new event", ch)
					}
					if err != nil {
						errs <- fmt.Errorf("%s (%d): %w", o.writer, i, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		f.h.set(nil, nil)
		if t.Failed() {
			return
		}
		if n := f.h.conflicts.Load(); n < writers-1 {
			t.Fatalf("%d version conflicts; the writers that loaded together should have lost at least %d", n, writers-1)
		}
		t.Logf("%d version conflicts retried", f.h.conflicts.Load())

		all := f.stream(t, id) // checks seqs are dense
		if want := len(start) + writers*perWriter; len(all) != want {
			t.Fatalf("%d events, want %d", len(all), want)
		}
		count := map[chat.EventType]int{}
		clientIDs := map[string]bool{}
		lastName := ""
		for _, e := range all[len(start):] {
			count[e.Type()]++
			switch d := e.Data.(type) {
			case chat.MessageSent:
				if clientIDs[d.ClientMsgID] {
					t.Fatalf("message %s stored twice", d.ClientMsgID)
				}
				clientIDs[d.ClientMsgID] = true
			case chat.RoomRenamed:
				lastName = d.Name
			}
		}
		if count[chat.TypeRoomRenamed] != 2*perWriter || count[chat.TypeMemberAdded] != 2*perWriter || count[chat.TypeMessageSent] != 4*perWriter {
			t.Fatalf("event counts %v", count)
		}
		replayed, err := chat.Replay(id, all)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := f.st.Room(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d := storetest.DiffRooms(replayed, stored); d != "" {
			t.Fatalf("projection differs from replay: %s", d)
		}
		if stored.Name != lastName {
			t.Fatalf("name %q, want the last rename %q", stored.Name, lastName)
		}
		for _, list := range newcomers {
			for _, u := range list {
				if stored.Members[u] != chat.RoleMember {
					t.Fatalf("%s is not a member: %v", u, stored.Members)
				}
			}
		}
	})
}

// TestRetry steps into appends: the service must re-read the room and
// decide again after every lost race, on what the room has become.
func TestRetry(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		// inject answers ErrConcurrency n times without storing anything.
		inject := func(n int64) appendFunc {
			var calls atomic.Int64
			return func(ctx context.Context, req store.AppendRequest, next func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error) {
				if calls.Add(1) <= n {
					return store.AppendResult{}, store.ErrConcurrency
				}
				return next(ctx, req)
			}
		}
		// race lets a competitor change the room just before the first
		// append, which then loses for real.
		race := func(t *testing.T, id string, competitor func(r *chat.Room) ([]chat.Event, error)) appendFunc {
			var once sync.Once
			return func(ctx context.Context, req store.AppendRequest, next func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error) {
				once.Do(func() { f.direct(t, id, competitor) })
				return next(ctx, req)
			}
		}
		anyone := func(string) bool { return true }

		for _, tc := range []struct {
			name string
			// hook returns the append hook for the room.
			hook func(t *testing.T, id string) appendFunc
			run  func(id string) (rooms.Change, error)
			// code is the final refusal, "" for success with want.
			code chat.Code
			want []chat.EventData
			// competitor is the data of the event the competitor stored.
			competitor     chat.EventData
			loads, appends int64
			lookups        int64
			seqOffset      int64 // the command's first seq minus the room's version before it
		}{
			{
				name: "three injected conflicts, then success",
				hook: func(*testing.T, string) appendFunc { return inject(3) },
				run:  func(id string) (rooms.Change, error) { return f.svc.Rename(f.ctx, "carol", id, "fourth time") },
				want: []chat.EventData{chat.RoomRenamed{Name: "fourth time"}}, loads: 4, appends: 4, seqOffset: 1,
			},
			{
				name: "injected conflicts on an add look users up once",
				hook: func(*testing.T, string) appendFunc { return inject(2) },
				run: func(id string) (rooms.Change, error) {
					return f.svc.AddMembers(f.ctx, "carol", id, []string{"dave"}, false)
				},
				want: []chat.EventData{chat.MemberAdded{Member: "dave", Role: chat.RoleMember}}, loads: 3, appends: 3, lookups: 1, seqOffset: 1,
			},
			{
				name: "competitor posts first: the rename lands after it",
				hook: func(t *testing.T, id string) appendFunc {
					return race(t, id, func(r *chat.Room) ([]chat.Event, error) {
						return r.SendMessage("bob", "m1", "c1", "first!", f.clock.Now())
					})
				},
				run:        func(id string) (rooms.Change, error) { return f.svc.Rename(f.ctx, "carol", id, "second") },
				want:       []chat.EventData{chat.RoomRenamed{Name: "second"}},
				competitor: chat.MessageSent{MessageID: "m1", ClientMsgID: "c1", Text: "first!"}, loads: 2, appends: 2, seqOffset: 2,
			},
			{
				name: "competitor adds the same person: already_member",
				hook: func(t *testing.T, id string) appendFunc {
					return race(t, id, func(r *chat.Room) ([]chat.Event, error) {
						return r.AddMembers("alice", []string{"dave"}, false, anyone, f.clock.Now())
					})
				},
				run: func(id string) (rooms.Change, error) {
					return f.svc.AddMembers(f.ctx, "carol", id, []string{"dave"}, false)
				},
				code:       chat.CodeAlreadyMember,
				competitor: chat.MemberAdded{Member: "dave", Role: chat.RoleMember}, loads: 2, appends: 1, lookups: 1,
			},
			{
				name: "competitor promotes first: nothing left to do",
				hook: func(t *testing.T, id string) appendFunc {
					return race(t, id, func(r *chat.Room) ([]chat.Event, error) {
						return r.AddMembers("alice", []string{"bob"}, true, anyone, f.clock.Now())
					})
				},
				run: func(id string) (rooms.Change, error) {
					return f.svc.AddMembers(f.ctx, "carol", id, []string{"bob"}, true)
				},
				competitor: chat.MemberAdded{Member: "bob", Role: chat.RoleAdmin}, loads: 2, appends: 1, lookups: 1,
			},
			{
				name: "competitor removes the actor: room_not_found",
				hook: func(t *testing.T, id string) appendFunc {
					return race(t, id, func(r *chat.Room) ([]chat.Event, error) { return r.RemoveMember("alice", "carol", f.clock.Now()) })
				},
				run:        func(id string) (rooms.Change, error) { return f.svc.Rename(f.ctx, "carol", id, "too late") },
				code:       chat.CodeRoomNotFound,
				competitor: chat.MemberRemoved{Member: "carol"}, loads: 2, appends: 1,
			},
			{
				name: "competitor deletes the room: room_not_found",
				hook: func(t *testing.T, id string) appendFunc {
					return race(t, id, func(r *chat.Room) ([]chat.Event, error) { return r.Delete("alice", f.clock.Now()) })
				},
				run:        func(id string) (rooms.Change, error) { return f.svc.RemoveMember(f.ctx, "carol", id, "bob") },
				code:       chat.CodeRoomNotFound,
				competitor: chat.RoomDeleted{}, loads: 2, appends: 1,
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := f.general(t)
				start := f.stream(t, id)
				f.h.set(nil, tc.hook(t, id))
				ch, err := tc.run(id)
				f.h.set(nil, nil)
				loads, appends, lookups := f.h.counts()
				if loads != tc.loads || appends != tc.appends || lookups != tc.lookups {
					t.Fatalf("%d loads, %d appends, %d look-ups; want %d, %d, %d", loads, appends, lookups, tc.loads, tc.appends, tc.lookups)
				}
				all := f.stream(t, id)
				stored := all[len(start):]
				if tc.competitor != nil {
					if len(stored) == 0 || stored[0].Seq != int64(len(start)+1) || !eqData(stored[0].Data, tc.competitor) {
						t.Fatalf("stored %+v; want the competitor's %#v first", stored, tc.competitor)
					}
					stored = stored[1:]
				}
				if tc.code != "" {
					wantErr(t, err, tc.code, nil)
					if len(stored) != 0 {
						t.Fatalf("a refused command stored %+v", stored)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(ch.Events) != len(tc.want) || len(stored) != len(tc.want) {
					t.Fatalf("change %+v, stored %+v; want %v", ch.Events, stored, tc.want)
				}
				for i, e := range ch.Events {
					if e.Seq != int64(len(start))+tc.seqOffset+int64(i) || !eqData(e.Data, tc.want[i]) {
						t.Fatalf("event %d = %d %#v; want %d %#v", i, e.Seq, e.Data, int64(len(start))+tc.seqOffset+int64(i), tc.want[i])
					}
					if d := diffEvent(e, stored[i]); d != "" {
						t.Fatalf("stored event %d: %s", i, d)
					}
				}
				replayed, err := chat.Replay(id, all)
				if err != nil {
					t.Fatal(err)
				}
				if d := storetest.DiffRooms(replayed, ch.Room); d != "" {
					t.Fatalf("returned room: %s", d)
				}
			})
		}

		t.Run("gives up after maxAttempts", func(t *testing.T) {
			id := f.general(t)
			before := f.snap(t, id)
			f.h.set(nil, inject(1<<40))
			_, err := f.svc.Rename(f.ctx, "carol", id, "never")
			f.h.set(nil, nil)
			if !errors.Is(err, store.ErrConcurrency) {
				t.Fatalf("error %v does not wrap store.ErrConcurrency", err)
			}
			if _, ok := chat.CodeOf(err); ok {
				t.Fatalf("error %v carries a contract code", err)
			}
			loads, appends, _ := f.h.counts()
			if appends != rooms.MaxAttempts || loads != rooms.MaxAttempts {
				t.Fatalf("%d loads and %d appends, want %d of each", loads, appends, rooms.MaxAttempts)
			}
			f.unchanged(t, before)
		})

		t.Run("a cancelled context stops the retries", func(t *testing.T) {
			id := f.general(t)
			before := f.snap(t, id)
			ctx, cancel := context.WithCancel(f.ctx)
			defer cancel()
			f.h.set(nil, func(context.Context, store.AppendRequest, func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error) {
				cancel()
				return store.AppendResult{}, store.ErrConcurrency
			})
			_, err := f.svc.Rename(ctx, "carol", id, "never")
			f.h.set(nil, nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
			if _, appends, _ := f.h.counts(); appends != 1 {
				t.Fatalf("%d appends after the context was cancelled, want 1", appends)
			}
			f.unchanged(t, before)
		})

		t.Run("a store failure is not retried", func(t *testing.T) {
			id := f.general(t)
			before := f.snap(t, id)
			boom := errors.New("disk on fire")
			f.h.set(nil, func(context.Context, store.AppendRequest, func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error) {
				return store.AppendResult{}, boom
			})
			_, err := f.svc.Rename(f.ctx, "carol", id, "never")
			f.h.set(nil, nil)
			if !errors.Is(err, boom) {
				t.Fatalf("error %v does not wrap the store's", err)
			}
			if _, appends, _ := f.h.counts(); appends != 1 {
				t.Fatalf("%d appends, want 1", appends)
			}
			f.unchanged(t, before)
		})
	})
}

// TestCreateIDTaken draws room ids that are already in use: Create must
// draw again rather than touch the existing room, and give up after three.
func TestCreateIDTaken(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		f.ids.queue("room-x")
		first, err := f.svc.Create(f.ctx, "alice", "first", []string{"bob"})
		if err != nil || first.ID != "room-x" {
			t.Fatalf("first Create = %+v, %v", first, err)
		}
		before := f.snap(t, "room-x")

		f.ids.queue("room-x", "room-y")
		second, err := f.svc.Create(f.ctx, "carol", "second", nil)
		if err != nil || second.ID != "room-y" || second.Owner != "carol" {
			t.Fatalf("second Create = %+v, %v; want room-y owned by carol", second, err)
		}
		before = f.roomUnchanged(t, before)

		f.ids.queue("room-x", "room-y", "room-x")
		r, err := f.svc.Create(f.ctx, "dave", "third", nil)
		if r != nil || !errors.Is(err, store.ErrConcurrency) {
			t.Fatalf("Create with every id taken = %+v, %v; want ErrConcurrency", r, err)
		}
		f.unchanged(t, before)
		if l, err := f.svc.List(f.ctx, "dave"); err != nil || len(l) != 0 {
			t.Fatalf("dave's rooms: %+v, %v", l, err)
		}
	})
}

// eqData compares event data; MessageSent's fields are all strings.
func eqData(a, b chat.EventData) bool { return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b) }
