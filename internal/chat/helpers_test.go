package chat_test

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
)

// t0 is the tests' reference time; every event time is derived from it.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// at returns t0 plus d, in UTC.
func at(d time.Duration) time.Time { return t0.Add(d) }

// checkErr fails unless err is a rule violation with want's code, checked
// both ways the transports use: errors.Is against the sentinel and CodeOf.
func checkErr(t testing.TB, err error, want *chat.Error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want.Code)
	}
	if !errors.Is(err, want) {
		t.Errorf("errors.Is(%v, %s sentinel) = false", err, want.Code)
	}
	code, ok := chat.CodeOf(err)
	if !ok || code != want.Code {
		t.Errorf("CodeOf(%v) = %q, %v; want %q, true", err, code, ok, want.Code)
	}
}

// errUsernames returns the Usernames of a rule violation.
func errUsernames(t testing.TB, err error) []string {
	t.Helper()
	var e *chat.Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not a *chat.Error", err)
	}
	return e.Usernames
}

// accounts returns a UserExists that knows exactly the names given.
func accounts(names ...string) chat.UserExists {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return func(u string) bool { return set[u] }
}

// everyone is a UserExists for which every account exists.
func everyone(string) bool { return true }

// ev builds an event of room "r1".
func ev(seq int64, actor string, data chat.EventData) chat.Event {
	return chat.Event{RoomID: "r1", Seq: seq, Username: actor, At: at(time.Duration(seq) * time.Second), Data: data}
}

// replay builds a room from events, failing the test on error.
func replay(t testing.TB, id string, events ...chat.Event) *chat.Room {
	t.Helper()
	r, err := chat.Replay(id, events)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return r
}

// cloneRoom returns a deep copy of r.
func cloneRoom(r *chat.Room) *chat.Room {
	c := *r
	c.Members = maps.Clone(r.Members)
	return &c
}

// seqs lists the seqs of events.
func seqs(events []chat.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

// memberNames returns n generated usernames u0001, u0002, ...
func memberNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("u%04d", i+1)
	}
	return out
}
