package emulator_test

import (
	"fmt"
	"github.com/chatroom/chat/internal/emulator"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOrderAcrossInstances: three instances of every function, sharing
// only the store and the management API, each post held up by a random
// few milliseconds, and four people sending into one room at once, each
// from one of their two sockets. Every socket gets every message once, and
// the room's live frames in strictly rising seq, although consecutive
// messages are pushed by different instances; and the same again with
// every frame pushed in shards of two connections, each shard by a
// fan-out invocation of its own.
func TestOrderAcrossInstances(t *testing.T) {
	const people, perPerson = 4, 15
	for _, shards := range []struct {
		name string
		size int
	}{{"whole", 0}, {"sharded", 2}} {
		for name, opts := range stores {
			t.Run(shards.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				o := opts(t)
				o.Instances, o.ShardSize = 3, shards.size
				// Nothing may be stuck, however loaded the machine: a
				// wait that gave up at the contract's 2 s would let a
				// slow DynamoDB Local decide the order check.
				o.OrderWait = 30 * time.Second
				testOrder(t, o, people, perPerson)
			})
		}
	}
}

func testOrder(t *testing.T, o emulator.Options, people, perPerson int) {
	o.SendLimit = -1
	o.ManagementLatency, o.ManagementJitter = time.Millisecond, 8*time.Millisecond
	e := start(t, o)
	var users []*user
	for i := range people {
		users = append(users, signup(t, e, fmt.Sprintf("sender%d", i)))
	}
	var names []string
	for _, u := range users[1:] {
		names = append(names, u.name)
	}
	status, room := users[0].do("POST", "/rooms", map[string]any{"name": "busy", "members": names})
	if status != http.StatusCreated {
		t.Fatalf("create room: %d %v", status, room)
	}
	roomID := room["room_id"].(string)
	var sockets []*socket
	for _, u := range users {
		for range 2 {
			s := u.connect()
			s.join(roomID)
			sockets = append(sockets, s)
		}
	}
	// The join lines of later sockets are in the same order check.
	var wg sync.WaitGroup
	results := make([]string, len(sockets))
	for i, s := range sockets {
		wg.Go(func() { results[i] = readInOrder(s, people*perPerson) })
	}
	for i, u := range users {
		s := sockets[2*i]
		wg.Go(func() {
			for k := range perPerson {
				s.send(fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"ord-%s-%d","text":"%d"}`, roomID, u.name, k, k))
			}
		})
	}
	wg.Wait()
	for i, r := range results {
		if r != "" {
			t.Errorf("socket %d: %s", i, r)
		}
	}
}

// readInOrder reads frames until want messages have arrived, and says
// what went wrong: a live frame at or below the seq before it, a message
// twice, or too few within the time allowed.
func readInOrder(s *socket, want int) string {
	var last float64
	seen := map[string]bool{}
	deadline := time.After(60 * time.Second)
	var problems []string
	for len(seen) < want {
		select {
		case f, ok := <-s.frames:
			if !ok {
				return fmt.Sprintf("closed after %d of %d messages", len(seen), want)
			}
			seq, hasSeq := f["seq"].(float64)
			switch f["type"] {
			case "receive_message", "join_room_announcement", "leave_room_announcement":
				if !hasSeq {
					problems = append(problems, fmt.Sprintf("a %v without a seq", f["type"]))
					continue
				}
				if seq <= last {
					problems = append(problems, fmt.Sprintf("seq %v after %v", seq, last))
				}
				last = max(last, seq)
			case "error":
				problems = append(problems, fmt.Sprintf("error frame %v", f))
			}
			if f["type"] != "receive_message" {
				continue
			}
			id, _ := f["client_msg_id"].(string)
			if seen[id] {
				problems = append(problems, "repeated "+id)
			}
			seen[id] = true
		case <-deadline:
			return fmt.Sprintf("%d of %d messages within 60s; %s", len(seen), want, strings.Join(problems, "; "))
		}
	}
	return strings.Join(problems, "; ")
}
