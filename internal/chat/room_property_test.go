package chat_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
)

// TestRandomCommands runs long, seeded random sequences of commands against
// a live Room, applying every event produced, and checks that:
//   - every outcome (success or contract code) is what an independent model
//     of the contract predicts from the state before the command;
//   - a command never changes the room it is given;
//   - every event carries the room id, the actor, the time cut to the
//     millisecond, and the seq following the room's version;
//   - the room's invariants hold after every step;
//   - the stream's seqs are 1..n with no gaps, and replaying it (directly
//     and after a JSON round trip) gives exactly the live state.
func TestRandomCommands(t *testing.T) {
	seeds, steps := *randomSeeds, 2500
	if testing.Short() {
		seeds, steps = min(seeds, 3), 500
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runRandom(t, seed, steps)
		})
	}
}

var randomSeeds = flag.Int("random-seeds", 8, "how many seeded runs TestRandomCommands makes")

var (
	randAccounts  = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"}
	randStrangers = []string{"zed", "yuri"}
	randExists    = accounts(randAccounts...)
	randRoomNames = []string{"General", "  Padded  ", "Caf\u00e9 \U0001F389", "", "   ", "a\nb", "tab\there", strings.Repeat("\u00e9", 100), strings.Repeat("\u00e9", 101), "x\x7f"}
	randTexts     = []string{"hi", "  padded\n", "line 1\nline 2", "", " \t ", "a\x00b", strings.Repeat("\u00e9", 4000), strings.Repeat("a", 4001), "\u65e5\u672c"}
	randClientIDs = []string{"c1", "c-2_X", "", "bad id", strings.Repeat("z", 64), strings.Repeat("z", 65), "caf\u00e9"}
)

type randRun struct {
	rng   *rand.Rand
	clock time.Time
}

func (g *randRun) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *randRun) tick() time.Time {
	g.clock = g.clock.Add(time.Duration(g.rng.IntN(3000))*time.Millisecond + time.Duration(g.rng.IntN(1000))*time.Microsecond)
	return g.clock
}

// name returns a valid username, sometimes in upper case, sometimes without
// an account.
func (g *randRun) name() string {
	n := g.rng.IntN(20)
	switch {
	case n == 0:
		return g.pick(randStrangers)
	case n == 1:
		return strings.ToUpper(g.pick(randAccounts))
	default:
		return g.pick(randAccounts)
	}
}

// memberList returns a list for AddMembers or CreateRoom: mostly a few
// names, sometimes with an invalid one, rarely too long.
func (g *randRun) memberList() []string {
	switch g.rng.IntN(60) {
	case 0:
		return memberNames(chat.MaxMembersPerChange + 1)
	case 1:
		return []string{g.name(), "no way"}
	}
	list := make([]string, g.rng.IntN(5))
	for i := range list {
		list[i] = g.name()
	}
	return list
}

// actor is mostly a current member, else anyone.
func (g *randRun) actor(r *chat.Room) string {
	if members := r.MemberList(); len(members) > 0 && g.rng.IntN(4) != 0 {
		return members[g.rng.IntN(len(members))].Username
	}
	if g.rng.IntN(10) == 0 {
		return g.pick(randStrangers)
	}
	return g.pick(randAccounts)
}

// expectation is what the model predicts: a contract code, or success with
// events of the given types.
type expectation struct {
	code  chat.Code
	types []chat.EventType
}

func ok(types ...chat.EventType) expectation { return expectation{types: types} }
func refused(code chat.Code) expectation     { return expectation{code: code} }

func runRandom(t *testing.T, seed uint64, steps int) {
	g := &randRun{rng: rand.New(rand.NewPCG(seed, 0x5eed_c4a7)), clock: t0}
	id := fmt.Sprintf("room-%d", seed)

	// Create, retrying until the random input is acceptable.
	var log []chat.Event
	live := chat.NewRoom(id)
	for attempt := 0; ; attempt++ {
		if attempt > 100 {
			t.Fatal("could not create a room")
		}
		owner, name, members := g.pick(randAccounts), g.pick(randRoomNames), g.memberList()
		events, err := chat.CreateRoom(id, owner, name, members, randExists, g.tick())
		if err != nil {
			if _, ok := chat.CodeOf(err); !ok || events != nil {
				t.Fatalf("CreateRoom refused without a contract code or with events: %v %v", err, events)
			}
			continue
		}
		if len(events) != 1 || events[0].Seq != 1 || events[0].Type() != chat.TypeRoomCreated || events[0].Username != owner {
			t.Fatalf("CreateRoom gave %+v", events)
		}
		for _, e := range events {
			if err := live.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
		log = append(log, events...)
		break
	}

	counts := map[chat.EventType]int{}
	refusals := map[chat.Code]int{}
	afterDelete := -1
	for step := 0; step < steps; step++ {
		if afterDelete >= 0 {
			if afterDelete++; afterDelete > 30 {
				break
			}
		}
		before := cloneRoom(live)
		actor := g.actor(live)
		role, member := before.RoleOf(actor)
		at := g.tick()
		var (
			events []chat.Event
			err    error
			want   expectation
			what   string
		)
		switch op := g.rng.IntN(200); {
		case op < 70:
			clientID, text := g.pick(randClientIDs), g.pick(randTexts)
			if g.rng.IntN(2) == 0 {
				clientID = fmt.Sprintf("c%d", step)
			}
			what = fmt.Sprintf("SendMessage(%q, %q, %.20q)", actor, clientID, text)
			events, err = live.SendMessage(actor, fmt.Sprintf("m%d", step), clientID, text, at)
			_, textErr := chat.NormalizeMessageText(text)
			switch {
			case !member:
				want = refused(chat.CodeRoomNotFound)
			case chat.ValidateClientMsgID(clientID) != nil || textErr != nil:
				want = refused(chat.CodeInvalidMessage)
			default:
				want = ok(chat.TypeMessageSent)
			}
		case op < 95:
			what = fmt.Sprintf("Join(%q)", actor)
			events, err = live.Join(actor, at)
			want = ok(chat.TypeUserJoined)
			if !member {
				want = refused(chat.CodeRoomNotFound)
			}
		case op < 120:
			what = fmt.Sprintf("Leave(%q)", actor)
			events, err = live.Leave(actor, at)
			want = ok(chat.TypeUserLeft)
			if !member {
				want = refused(chat.CodeRoomNotFound)
			}
		case op < 135:
			name := g.pick(randRoomNames)
			what = fmt.Sprintf("Rename(%q, %.20q)", actor, name)
			events, err = live.Rename(actor, name, at)
			_, nameErr := chat.NormalizeRoomName(name)
			switch {
			case !member:
				want = refused(chat.CodeRoomNotFound)
			case nameErr != nil:
				want = refused(chat.CodeInvalidRoomName)
			case !role.CanManage():
				want = refused(chat.CodeForbidden)
			default:
				want = ok(chat.TypeRoomRenamed)
			}
		case op < 165:
			list, admin := g.memberList(), g.rng.IntN(3) == 0
			what = fmt.Sprintf("AddMembers(%q, %q, admin=%v)", actor, list, admin)
			events, err = live.AddMembers(actor, list, admin, randExists, at)
			want = expectAdd(before, member, role, list, admin)
		case op < 198:
			target := g.name()
			if g.rng.IntN(3) == 0 {
				target = actor
			}
			what = fmt.Sprintf("RemoveMember(%q, %q)", actor, target)
			events, err = live.RemoveMember(actor, target, at)
			norm := strings.ToLower(target)
			_, targetIsMember := before.Members[norm]
			switch {
			case !member:
				want = refused(chat.CodeRoomNotFound)
			case norm == before.Owner:
				want = refused(chat.CodeForbidden)
			case norm != actor && !role.CanManage():
				want = refused(chat.CodeForbidden)
			case !targetIsMember:
				want = refused(chat.CodeUserNotFound)
			default:
				want = ok(chat.TypeMemberRemoved)
			}
		default:
			// Non-owners try often (forbidden); the owner rarely succeeds,
			// so most runs stay long.
			if role == chat.RoleOwner && g.rng.IntN(40) != 0 {
				actor = g.pick(slices.DeleteFunc(slices.Clone(randAccounts), func(u string) bool { return u == before.Owner }))
				role, member = before.RoleOf(actor)
			}
			what = fmt.Sprintf("Delete(%q)", actor)
			events, err = live.Delete(actor, at)
			switch {
			case !member:
				want = refused(chat.CodeRoomNotFound)
			case role != chat.RoleOwner:
				want = refused(chat.CodeForbidden)
			default:
				want = ok(chat.TypeRoomDeleted)
			}
		}

		if !reflect.DeepEqual(live, before) {
			t.Fatalf("step %d: %s changed the room it was given", step, what)
		}
		if err != nil {
			code, isRule := chat.CodeOf(err)
			if !isRule {
				t.Fatalf("step %d: %s: not a rule violation: %v", step, what, err)
			}
			if want.code != code {
				t.Fatalf("step %d: %s (actor role %q, member %v) = %v; model wants %s", step, what, role, member, err, describe(want))
			}
			if events != nil {
				t.Fatalf("step %d: %s refused with events", step, what)
			}
			refusals[code]++
			continue
		}
		if want.code != "" {
			t.Fatalf("step %d: %s (actor role %q) succeeded with %d events; model wants %s", step, what, role, len(events), want.code)
		}
		gotTypes := make([]chat.EventType, len(events))
		for i, e := range events {
			gotTypes[i] = e.Type()
		}
		if !slices.Equal(gotTypes, want.types) {
			t.Fatalf("step %d: %s gave %v; model wants %v", step, what, gotTypes, want.types)
		}
		for i, e := range events {
			if e.Seq != before.Version+int64(i)+1 || e.RoomID != id || e.Username != actor || !e.At.Equal(at.Truncate(time.Millisecond)) || e.At.Location() != time.UTC {
				t.Fatalf("step %d: %s: bad envelope %+v (version %d)", step, what, e, before.Version)
			}
			if err := live.Apply(e); err != nil {
				t.Fatalf("step %d: %s: Apply: %v", step, what, err)
			}
			counts[e.Type()]++
		}
		log = append(log, events...)
		checkInvariants(t, live)
		if live.Deleted && afterDelete < 0 {
			afterDelete = 0
		}
		if step%500 == 0 {
			checkReplay(t, id, log, live)
		}
	}

	for i, e := range log {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: the stream has a gap or a repeat", i, e.Seq)
		}
	}
	if live.Version != int64(len(log)) {
		t.Fatalf("Version %d, %d events", live.Version, len(log))
	}
	checkReplay(t, id, log, live)

	raw, err := json.Marshal(log)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []chat.Event
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	checkReplay(t, id, decoded, live)

	// The run must have exercised the commands, not just refused them.
	if afterDelete < 0 {
		for _, typ := range []chat.EventType{chat.TypeMessageSent, chat.TypeUserJoined, chat.TypeUserLeft, chat.TypeRoomRenamed, chat.TypeMemberAdded, chat.TypeMemberRemoved} {
			if counts[typ] == 0 {
				t.Errorf("no %s in %d events", typ, len(log))
			}
		}
	}
	t.Logf("%d events %v, refusals %v, deleted %v", len(log), counts, refusals, live.Deleted)
}

// expectAdd is the model of AddMembers: the contract's order of checks, and
// the events a success must produce.
func expectAdd(r *chat.Room, member bool, role chat.Role, list []string, admin bool) expectation {
	if !member {
		return refused(chat.CodeRoomNotFound)
	}
	if len(list) > chat.MaxMembersPerChange {
		return refused(chat.CodeTooManyMembers)
	}
	var names []string
	for _, raw := range list {
		u, err := chat.NormalizeUsername(raw)
		if err != nil {
			return refused(chat.CodeInvalidUsername)
		}
		if !slices.Contains(names, u) {
			names = append(names, u)
		}
	}
	if !role.CanManage() {
		return refused(chat.CodeForbidden)
	}
	for _, u := range names {
		if !randExists(u) {
			return refused(chat.CodeUserNotFound)
		}
	}
	newcomers, events := 0, 0
	for _, u := range names {
		current, in := r.Members[u]
		switch {
		case !in:
			newcomers++
			events++
		case !admin:
			return refused(chat.CodeAlreadyMember)
		case current == chat.RoleMember:
			events++
		}
	}
	if len(r.Members)+newcomers > chat.MaxMembers {
		return refused(chat.CodeTooManyMembers)
	}
	types := make([]chat.EventType, events)
	for i := range types {
		types[i] = chat.TypeMemberAdded
	}
	return ok(types...)
}

func describe(e expectation) string {
	if e.code != "" {
		return string(e.code)
	}
	return fmt.Sprintf("success with %v", e.types)
}

func checkInvariants(t *testing.T, r *chat.Room) {
	t.Helper()
	if r.Deleted {
		if len(r.Members) != 0 || r.Exists() {
			t.Fatalf("deleted room still has members %v", r.Members)
		}
		return
	}
	if len(r.Members) > chat.MaxMembers {
		t.Fatalf("room holds %d members", len(r.Members))
	}
	owners := 0
	for u, role := range r.Members {
		switch role {
		case chat.RoleOwner:
			owners++
			if u != r.Owner {
				t.Fatalf("%s has the owner role but the owner is %s", u, r.Owner)
			}
		case chat.RoleAdmin, chat.RoleMember:
		default:
			t.Fatalf("%s has role %q", u, role)
		}
		if _, err := chat.NormalizeUsername(u); err != nil {
			t.Fatalf("member %q is not a normalized username", u)
		}
	}
	if owners != 1 || r.Members[r.Owner] != chat.RoleOwner {
		t.Fatalf("owner %s, roles %v", r.Owner, r.Members)
	}
	if _, err := chat.NormalizeRoomName(r.Name); err != nil {
		t.Fatalf("room name %q breaks the rules", r.Name)
	}
}

func checkReplay(t *testing.T, id string, log []chat.Event, live *chat.Room) {
	t.Helper()
	replayed, err := chat.Replay(id, log)
	if err != nil {
		t.Fatalf("Replay of %d events: %v", len(log), err)
	}
	if !reflect.DeepEqual(replayed, live) {
		t.Fatalf("Replay differs from the live state:\nreplayed %#v\n    live %#v", replayed, live)
	}
}
