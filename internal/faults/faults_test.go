package faults_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/faults"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/storetest"
)

// TestErrorShapes: each kind of store failure looks like what the SDK
// returns, so code matching on it with errors.As / errors.Is sees it.
func TestErrorShapes(t *testing.T) {
	var throttle *types.ProvisionedThroughputExceededException
	if !errors.As(faults.Throttle.Err("Append"), &throttle) {
		t.Error("Throttle is not a ProvisionedThroughputExceededException")
	}
	if !errors.Is(faults.Conflict.Err("Append"), store.ErrConcurrency) {
		t.Error("Conflict is not store.ErrConcurrency")
	}
	if !errors.Is(faults.Timeout.Err("Append"), context.DeadlineExceeded) {
		t.Error("Timeout is not context.DeadlineExceeded")
	}
	var resp *smithyhttp.ResponseError
	if !errors.As(faults.ServerError.Err("Append"), &resp) || resp.HTTPStatusCode() != 500 {
		t.Error("ServerError is not a 500 smithy ResponseError")
	}
}

// counterStore answers Counter, counting the calls, and nothing else.
type counterStore struct {
	store.Store
	calls *int
}

func (c counterStore) Counter(context.Context, string) (int64, error) {
	if c.calls != nil {
		*c.calls++
	}
	return 0, nil
}

// TestDeterministic: the same seed fails the same calls; FailNext fails
// exactly the next N calls of the method.
func TestDeterministic(t *testing.T) {
	pattern := func(seed uint64) []bool {
		s := faults.NewStore(counterStore{}, seed)
		s.SetRate(0.3, faults.Fault{Kind: faults.Throttle}, "Counter")
		var out []bool
		for range 200 {
			_, err := s.Counter(t.Context(), "x")
			out = append(out, err != nil)
		}
		return out
	}
	a, b := pattern(7), pattern(7)
	if !slices.Equal(a, b) {
		t.Error("the same seed failed different calls")
	}
	if n := len(slices.DeleteFunc(slices.Clone(a), func(f bool) bool { return !f })); n < 30 || n > 90 {
		t.Errorf("rate 0.3 failed %d of 200 calls", n)
	}
	s := faults.NewStore(counterStore{}, 1)
	s.FailNext("Counter", 2, faults.Fault{Kind: faults.Conflict})
	for i := range 2 {
		if _, err := s.Counter(t.Context(), "x"); !errors.Is(err, store.ErrConcurrency) {
			t.Fatalf("call %d: %v, want the injected conflict", i, err)
		}
	}
	if s.Injected("Counter") != 2 {
		t.Errorf("Injected = %d, want 2", s.Injected("Counter"))
	}

	// Either strikes some calls before the inner one, some after.
	var calls int
	s = faults.NewStore(counterStore{calls: &calls}, 3)
	s.SetRate(1, faults.Fault{Kind: faults.Timeout, When: faults.Either}, "Counter")
	for range 100 {
		if _, err := s.Counter(t.Context(), "x"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v, want the injected timeout", err)
		}
	}
	if calls < 20 || calls > 80 {
		t.Errorf("Either reached the inner store %d times in 100, want about half", calls)
	}
}

// TestMessagesUnderFaults: two users send 100 messages in one room while
// a fault strikes 20% of the store calls the send path makes (or of the
// posts), resending with the same client_msg_id until they get their
// receive_message, as a real client does. Every acknowledged message is
// stored once with the seq it was acknowledged with, the stream is dense,
// and a client resuming from after_seq=0 gets every message once.
func TestMessagesUnderFaults(t *testing.T) {
	t.Parallel()
	methods := []string{"Append", "Room", "RoomAs", "Connection", "ConnectionRooms", "RoomConnections", "IncrementCounter", "ReadForward", "ReadBackward"}
	type scenario struct {
		name string
		set  func(e *env)
	}
	var scenarios []scenario
	for _, k := range faults.Kinds {
		// Half the faults strike after the inner call: a write that
		// happened although the caller sees an error.
		scenarios = append(scenarios, scenario{"store-" + k.String(), func(e *env) {
			e.store.SetRate(0.2, faults.Fault{Kind: k, When: faults.Either}, methods...)
		}})
	}
	for _, k := range faults.PushKinds {
		scenarios = append(scenarios, scenario{"push-" + k.String(), func(e *env) { e.pusher.SetRate(0.2, k) }})
	}
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			each(t, func(t *testing.T, a storetest.Adapter) {
				chatUnderFaults(t, newEnv(t, a.Open(t), uint64(i+1)), sc.set)
			})
		})
	}
}

// sender is one user's client: its connection and the last seq it saw.
type sender struct {
	name string
	conn string
	last int64
}

func chatUnderFaults(t *testing.T, e *env, set func(e *env)) {
	ctx := t.Context()
	alice, _ := e.user("alice"), e.user("bob")
	room, err := e.app.Rooms.Create(ctx, "alice", "faults", []string{"bob"})
	if err != nil {
		t.Fatal(err)
	}
	users := []*sender{{name: "alice"}, {name: "bob"}}
	for _, u := range users {
		u.conn = e.connect(e.sessions[u.name])
		e.mustJoin(u.conn, room.ID, 0)
	}
	set(e)

	acked := map[string]int64{}
	for i := range 100 {
		u := users[i%2]
		cmid := fmt.Sprintf("%s-%03d", u.name, i)
		acked[u.name+"/"+cmid] = e.deliverMessage(u, room.ID, cmid)
	}
	e.store.Clear()
	e.pusher.Clear()
	t.Logf("store faults: %d; push faults: gone %d, fail %d, delay %d", e.store.Injected(""),
		e.pusher.Injected(faults.Gone), e.pusher.Injected(faults.Fail), e.pusher.Injected(faults.Delay))

	msgs := e.checkStream(room.ID)
	for k, seq := range acked {
		ev, ok := msgs[k]
		switch {
		case !ok:
			t.Errorf("%s was acknowledged with seq %d but is not stored", k, seq)
		case ev.Seq != seq:
			t.Errorf("%s was acknowledged with seq %d but is stored at %d", k, seq, ev.Seq)
		}
	}
	if len(msgs) != len(acked) {
		t.Errorf("%d messages stored, %d acknowledged", len(msgs), len(acked))
	}

	// A client that resumes from the start gets every message once.
	conn := e.connect(alice)
	got := e.resume(conn, room.ID, 0)
	seen := map[string]int{}
	for i, ev := range got {
		if ev.Seq != int64(i+1) {
			t.Fatalf("resume: event %d has seq %d, want %d", i, ev.Seq, i+1)
		}
		if m, ok := ev.Data.(chat.MessageSent); ok {
			seen[ev.Username+"/"+m.ClientMsgID]++
		}
	}
	for k := range msgs {
		if seen[k] != 1 {
			t.Errorf("resume: %s came %d times, want once", k, seen[k])
		}
	}
	if len(seen) != len(msgs) {
		t.Errorf("resume: %d distinct messages, %d stored", len(seen), len(msgs))
	}
}

// deliverMessage sends until the sender gets its receive_message: after an
// internal error or no answer it resends the same client_msg_id, and it
// reconnects (resuming from the last seq it saw) when its socket is gone.
func (e *env) deliverMessage(u *sender, roomID, cmid string) int64 {
	e.t.Helper()
	rejoin := false
	for range 100 {
		for n := 0; rejoin || !e.connectionOpen(u.conn); n++ {
			if n == 50 {
				e.t.Fatalf("%s could not rejoin in 50 tries", u.name)
			}
			if !e.connectionOpen(u.conn) {
				u.conn = e.connect(e.sessions[u.name])
			}
			_, ok := e.join(u.conn, roomID, u.last)
			rejoin = !ok
		}
		for _, f := range e.send(e.t.Context(), u.conn, roomID, cmid) {
			u.last = max(u.last, f.Seq)
			switch {
			case f.Type == "receive_message" && f.ClientMsgID == cmid && f.Username == u.name:
				return f.Seq
			case f.Type == "error" && f.Code == "not_joined":
				rejoin = true
			case f.Type == "error" && f.Code != "internal":
				e.t.Fatalf("send %s: unexpected error frame %+v", cmid, f)
			}
		}
	}
	e.t.Fatalf("%s was never acknowledged in 100 sends", cmid)
	return 0
}

// twoInRoom is alice and bob with a connection each joined to a room,
// their frames drained.
func twoInRoom(t *testing.T, a storetest.Adapter) (e *env, roomID, connA, connB string) {
	e = newEnv(t, a.Open(t), 1)
	alice, bob := e.user("alice"), e.user("bob")
	room, err := e.app.Rooms.Create(t.Context(), "alice", "faults", []string{"bob"})
	if err != nil {
		t.Fatal(err)
	}
	connA, connB = e.connect(alice), e.connect(bob)
	e.mustJoin(connA, room.ID, -1)
	e.mustJoin(connB, room.ID, -1)
	e.frames(connA)
	e.frames(connB)
	return e, room.ID, connA, connB
}

func only(t *testing.T, fs []frame, typ string) frame {
	t.Helper()
	if len(fs) != 1 || fs[0].Type != typ {
		t.Fatalf("got %+v, want one %s frame", fs, typ)
	}
	return fs[0]
}

// messages keeps the receive_message frames: after a 410 the others also
// hear the gone connection leave.
func messages(fs []frame) []frame {
	return slices.DeleteFunc(fs, func(f frame) bool { return f.Type != "receive_message" })
}

func (e *env) none(connIDs ...string) {
	e.t.Helper()
	for _, id := range connIDs {
		if fs := e.frames(id); len(fs) != 0 {
			e.t.Errorf("%s got %+v, want nothing", id, fs)
		}
	}
}

// TestAppendFails: an append that fails before storing answers the sender
// internal, tells nobody else and stores nothing; the resend is stored
// once. A conflict is retried inside rooms.Service and succeeds.
func TestAppendFails(t *testing.T) {
	each(t, func(t *testing.T, a storetest.Adapter) {
		for _, k := range faults.Kinds {
			t.Run(k.String(), func(t *testing.T) {
				e, roomID, connA, connB := twoInRoom(t, a)
				before := len(e.stream(roomID))
				e.store.FailNext("Append", 1, faults.Fault{Kind: k, When: faults.Before})
				fs := e.send(t.Context(), connA, roomID, "m1")
				if k == faults.Conflict {
					got := only(t, fs, "receive_message")
					if b := only(t, e.frames(connB), "receive_message"); b.Seq != got.Seq {
						t.Errorf("bob got seq %d, alice %d", b.Seq, got.Seq)
					}
					if n := len(e.stream(roomID)); n != before+1 {
						t.Errorf("stream has %d events, want %d", n, before+1)
					}
					e.checkStream(roomID)
					return
				}
				if f := only(t, fs, "error"); f.Code != "internal" || f.ClientMsgID != "m1" {
					t.Errorf("error frame %+v, want internal for m1", f)
				}
				e.none(connB)
				if n := len(e.stream(roomID)); n != before {
					t.Fatalf("stream has %d events after a failed append, want %d", n, before)
				}
				seq := only(t, e.send(t.Context(), connA, roomID, "m1"), "receive_message").Seq
				if b := only(t, e.frames(connB), "receive_message"); b.Seq != seq {
					t.Errorf("bob got seq %d, alice %d", b.Seq, seq)
				}
				if msgs := e.checkStream(roomID); msgs["alice/m1"].Seq != seq || len(msgs) != 1 {
					t.Errorf("stored %v, want alice/m1 once at seq %d", msgs, seq)
				}
			})
		}
	})
}

// TestBroadcastHalfFails: the push fails for half the connections; the
// message is stored, and those that missed it get it on resume.
func TestBroadcastHalfFails(t *testing.T) {
	each(t, func(t *testing.T, a storetest.Adapter) {
		for _, k := range faults.PushKinds {
			t.Run(k.String(), func(t *testing.T) {
				e, roomID, a1, b1 := twoInRoom(t, a)
				a2, b2 := e.connect(e.sessions["alice"]), e.connect(e.sessions["bob"])
				e.mustJoin(a2, roomID, -1)
				e.mustJoin(b2, roomID, -1)
				for _, c := range []string{a1, a2, b1, b2} {
					e.frames(c)
				}
				e.pusher.FailFor(k, a2, b1)
				seq := only(t, messages(e.send(t.Context(), a1, roomID, "half")), "receive_message").Seq
				if f := only(t, messages(e.frames(b2)), "receive_message"); f.Seq != seq {
					t.Errorf("b2 got seq %d, want %d", f.Seq, seq)
				}
				e.none(a2, b1)
				e.pusher.Clear()
				if msgs := e.checkStream(roomID); msgs["alice/half"].Seq != seq {
					t.Fatalf("alice/half stored at %d, want %d", msgs["alice/half"].Seq, seq)
				}
				for _, missed := range []struct{ user, conn string }{{"alice", a2}, {"bob", b1}} {
					conn := missed.conn
					if k == faults.Gone {
						if e.connectionOpen(conn) {
							t.Errorf("%s answered 410 but is still open", conn)
						}
						conn = e.connect(e.sessions[missed.user])
					}
					n := 0
					for _, ev := range e.resume(conn, roomID, seq-1) {
						if m, ok := ev.Data.(chat.MessageSent); ok && m.ClientMsgID == "half" {
							n++
							if ev.Seq != seq {
								t.Errorf("resume of %s: half at seq %d, want %d", missed.user, ev.Seq, seq)
							}
						}
					}
					if n != 1 {
						t.Errorf("resume of %s got the message %d times, want once", missed.user, n)
					}
				}
			})
		}
	})
}

// TestStoredThenTimedOut: the append is stored, then the handler fails
// before any push: its context is cancelled (Lambda's timeout), or the
// store call reports a timeout after it succeeded. Nobody gets the
// message; it is stored; resume recovers it; the client's resend gets the
// original back and stores nothing.
func TestStoredThenTimedOut(t *testing.T) {
	each(t, func(t *testing.T, a storetest.Adapter) {
		for _, cancelled := range []bool{true, false} {
			t.Run(map[bool]string{true: "context-cancelled", false: "deadline-error"}[cancelled], func(t *testing.T) {
				e, roomID, connA, connB := twoInRoom(t, a)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if cancelled {
					e.store.OnFault = func(string, faults.Fault) { cancel() }
				}
				e.store.FailNext("Append", 1, faults.Fault{Kind: faults.Timeout, When: faults.After})
				fs := e.send(ctx, connA, roomID, "lost")
				if cancelled {
					e.none(connA)
					if len(fs) != 0 {
						t.Errorf("alice got %+v after the timeout, want nothing", fs)
					}
				} else if f := only(t, fs, "error"); f.Code != "internal" {
					t.Errorf("alice got %+v, want internal", f)
				}
				e.none(connB)
				e.store.OnFault = nil

				msgs := e.checkStream(roomID)
				lost, ok := msgs["alice/lost"]
				if !ok {
					t.Fatal("the message stored before the timeout is not in the stream")
				}
				n := 0
				for _, ev := range e.resume(connB, roomID, lost.Seq-1) {
					if ev.Seq == lost.Seq {
						n++
					}
				}
				if n != 1 {
					t.Errorf("bob's resume got seq %d %d times, want once", lost.Seq, n)
				}
				e.frames(connA)
				e.frames(connB)
				before := len(e.stream(roomID))
				if f := only(t, e.send(t.Context(), connA, roomID, "lost"), "receive_message"); f.Seq != lost.Seq {
					t.Errorf("the resend got seq %d, want the original %d", f.Seq, lost.Seq)
				}
				e.none(connB)
				if n := len(e.stream(roomID)); n != before {
					t.Errorf("the resend stored something: %d events, want %d", n, before)
				}
				e.checkStream(roomID)
			})
		}
	})
}

var _ push.Pusher = (*faults.Pusher)(nil)
