package chat_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/events")

// goldenEvents are the wire samples: one golden file each, named after the
// case, under testdata/events. Every event type has at least one.
var goldenEvents = []struct {
	name  string
	event chat.Event
}{
	{"room_created", chat.Event{Seq: 1, Username: "alice", At: t0, Data: chat.RoomCreated{Name: "General", Members: []string{"bob", "carol"}}}},
	{"room_created_no_members", chat.Event{Seq: 1, Username: "alice", At: t0, Data: chat.RoomCreated{Name: "Solo", Members: []string{}}}},
	{"room_renamed", chat.Event{Seq: 2, Username: "alice", At: t0.Add(1 * time.Second), Data: chat.RoomRenamed{Name: "Caf\u00e9 \U0001F389"}}},
	{"member_added", chat.Event{Seq: 3, Username: "alice", At: t0.Add(2 * time.Second), Data: chat.MemberAdded{Member: "dave", Role: chat.RoleMember}}},
	{"member_added_admin", chat.Event{Seq: 4, Username: "alice", At: t0.Add(3 * time.Second), Data: chat.MemberAdded{Member: "bob", Role: chat.RoleAdmin}}},
	{"member_removed", chat.Event{Seq: 5, Username: "bob", At: t0.Add(4 * time.Second), Data: chat.MemberRemoved{Member: "carol"}}},
	{"user_joined", chat.Event{Seq: 6, Username: "bob", At: t0.Add(5*time.Second + 7*time.Millisecond)}},
	{"message_sent", chat.Event{Seq: 7, Username: "bob", At: t0.Add(6*time.Second + 120*time.Millisecond), Data: chat.MessageSent{MessageID: "01JD8Z3Q7X9K2M4N6P8R0T2V4W", ClientMsgID: "c-1_a", Text: "hi <all> & \"you\"\nbye"}}},
	{"message_sent_mentions", chat.Event{Seq: 7, Username: "bob", At: t0.Add(6 * time.Second), Data: chat.MessageSent{MessageID: "m2", ClientMsgID: "c-2", Text: "@alice look", Mentions: chat.Usernames{"alice"}}}},
	{"message_sent_erased", chat.Event{Seq: 7, Username: "bob", At: t0.Add(6 * time.Second), Data: chat.MessageSent{MessageID: "m2", ClientMsgID: "c-2", Deleted: true}}},
	{"message_edited", chat.Event{Seq: 8, Username: "bob", At: t0.Add(6 * time.Second), Data: chat.MessageEdited{MessageID: "m2", Text: "@carol look", Mentions: chat.Usernames{"carol"}}}},
	{"message_deleted", chat.Event{Seq: 9, Username: "alice", At: t0.Add(6 * time.Second), Data: chat.MessageDeleted{MessageID: "m2"}}},
	{"room_created_direct", chat.Event{Seq: 1, Username: "alice", At: t0, Data: chat.RoomCreated{Name: "alice, bob", Members: []string{"bob"}, Kind: chat.KindDirect}}},
	{"user_left", chat.Event{Seq: 8, Username: "bob", At: t0.Add(7 * time.Second)}},
	{"room_deleted", chat.Event{Seq: 9, Username: "alice", At: t0.Add(8 * time.Second)}},
}

func init() {
	// The data of the field-less types is set here so the table stays short.
	for i := range goldenEvents {
		switch goldenEvents[i].name {
		case "user_joined":
			goldenEvents[i].event.Data = chat.UserJoined{}
		case "user_left":
			goldenEvents[i].event.Data = chat.UserLeft{}
		case "room_deleted":
			goldenEvents[i].event.Data = chat.RoomDeleted{}
		}
	}
}

var wireTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

func TestEventGolden(t *testing.T) {
	for _, g := range goldenEvents {
		t.Run(g.name, func(t *testing.T) {
			got, err := json.Marshal(g.event)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "events", g.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("wire form changed:\n got %s\nwant %s", got, want)
			}

			// The stored form decodes back to the sample (RoomID is not on
			// the wire).
			var back chat.Event
			if err := json.Unmarshal(want, &back); err != nil {
				t.Fatalf("Unmarshal golden: %v", err)
			}
			if !reflect.DeepEqual(back, g.event) {
				t.Errorf("golden decodes to %#v, want %#v", back, g.event)
			}

			checkWireShape(t, want, g.event)
		})
	}
}

// checkWireShape checks the contract's event object: a flat object whose
// first keys are seq, type, username and at, then the type's fields.
func checkWireShape(t *testing.T, raw []byte, e chat.Event) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var keys []string
	values := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if _, dup := values[k]; dup {
			t.Errorf("key %q twice", k)
		}
		keys = append(keys, k)
		values[k] = v
	}
	if len(keys) < 4 || !slices.Equal(keys[:4], []string{"seq", "type", "username", "at"}) {
		t.Fatalf("keys %q, want seq, type, username, at first", keys)
	}
	if n, ok := values["seq"].(json.Number); !ok || n.String() != strconv.FormatInt(e.Seq, 10) {
		t.Errorf("seq = %#v, want the integer %d", values["seq"], e.Seq)
	}
	if values["type"] != string(e.Type()) {
		t.Errorf("type = %#v, want %q", values["type"], e.Type())
	}
	if s, _ := values["at"].(string); !wireTime.MatchString(s) {
		t.Errorf("at = %#v, want like 2026-11-21T10:00:00.000Z", values["at"])
	}
	// The type's fields, flat, with no nesting under a data key.
	dataJSON, err := json.Marshal(e.Data)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(dataJSON, &data); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"seq", "type", "username", "at"}
	for k := range data {
		wantKeys = append(wantKeys, k)
	}
	if got := slices.Sorted(slices.Values(keys)); !slices.Equal(got, slices.Sorted(slices.Values(wantKeys))) {
		t.Errorf("keys %q, want %q", got, wantKeys)
	}
}

// TestGoldenFilesHaveSamples catches golden files left behind by a removed
// or renamed sample.
func TestGoldenFilesHaveSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range goldenEvents {
		names[g.name] = true
	}
	for _, f := range files {
		if n := strings.TrimSuffix(filepath.Base(f), ".json"); !names[n] {
			t.Errorf("%s has no sample in goldenEvents", f)
		}
	}
}

func TestEventRoundTrip(t *testing.T) {
	type rt struct {
		name  string
		event chat.Event
	}
	tests := []rt{
		{"room_created nil members", chat.Event{Seq: 1, Username: "a_1", At: t0, Data: chat.RoomCreated{Name: "x"}}},
		{"room_created 49 members", chat.Event{Seq: 1, Username: "owner", At: t0, Data: chat.RoomCreated{Name: strings.Repeat("\u00e9", 100), Members: memberNames(49)}}},
		{"room_renamed with quotes and controls", chat.Event{Seq: 12, Username: "bob", At: t0, Data: chat.RoomRenamed{Name: "\"quoted\" \\ </script>"}}},
		{"member_added owner role", chat.Event{Seq: 2, Username: "bob", At: t0, Data: chat.MemberAdded{Member: "x", Role: chat.RoleOwner}}},
		{"message_sent 4000 code points", chat.Event{Seq: 1 << 40, Username: "bob", At: t0, Data: chat.MessageSent{MessageID: "m", ClientMsgID: "c", Text: strings.Repeat("\U0001F600", 4000)}}},
		{"message_sent empty fields", chat.Event{Seq: 3, Username: "bob", At: t0, Data: chat.MessageSent{}}},
		{"time at the millisecond", chat.Event{Seq: 3, Username: "bob", At: time.Date(2031, 1, 2, 3, 4, 5, 999_000_000, time.UTC), Data: chat.UserJoined{}}},
		{"empty username", chat.Event{Seq: 3, At: t0, Data: chat.UserLeft{}}},
	}
	for _, g := range goldenEvents {
		tests = append(tests, rt{"golden " + g.name, g.event})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.event.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			if !json.Valid(raw) {
				t.Fatalf("invalid JSON: %s", raw)
			}
			checkWireShape(t, raw, tc.event)
			back := chat.Event{RoomID: "kept"}
			if err := back.UnmarshalJSON(raw); err != nil {
				t.Fatalf("UnmarshalJSON(%s): %v", raw, err)
			}
			want := tc.event
			want.RoomID = "kept"
			if !reflect.DeepEqual(back, want) {
				t.Errorf("round trip:\n got %#v\nwant %#v", back, want)
			}
		})
	}

	t.Run("slice through encoding/json", func(t *testing.T) {
		var in []chat.Event
		for _, g := range goldenEvents {
			in = append(in, g.event)
		}
		raw, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out []chat.Event
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(out, in) {
			t.Errorf("round trip of a slice differs")
		}
	})
}

func TestEventTimeOnTheWire(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{"utc", t0, "2026-11-21T10:00:00.000Z"},
		{"other zone converted to UTC", time.Date(2026, 11, 21, 11, 30, 0, 0, time.FixedZone("CET", 3600)), "2026-11-21T10:30:00.000Z"},
		{"sub-millisecond cut, not rounded", t0.Add(999_999 * time.Nanosecond), "2026-11-21T10:00:00.000Z"},
		{"milliseconds kept", t0.Add(42 * time.Millisecond), "2026-11-21T10:00:00.042Z"},
		{"zero time", time.Time{}, "0001-01-01T00:00:00.000Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(chat.Event{Seq: 1, Username: "a", At: tc.at, Data: chat.UserJoined{}})
			if err != nil {
				t.Fatal(err)
			}
			var v struct{ At string }
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			if v.At != tc.want {
				t.Errorf("at = %q, want %q", v.At, tc.want)
			}
		})
	}
}

func TestEventMarshalWithoutData(t *testing.T) {
	if raw, err := json.Marshal(chat.Event{Seq: 4, Username: "a", At: t0}); err == nil {
		t.Errorf("Marshal of an event without data = %s, want an error", raw)
	}
}

func TestEventUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    chat.Event // compared when ok
		wantErr string     // substring of the error; "" means success
	}{
		{name: "time with offset is read as UTC",
			in:   `{"seq":2,"type":"room_renamed","username":"a","at":"2026-11-21T11:00:00.5+01:00","name":"n"}`,
			want: chat.Event{Seq: 2, Username: "a", At: t0.Add(500 * time.Millisecond), Data: chat.RoomRenamed{Name: "n"}}},
		{name: "time without fraction",
			in:   `{"seq":6,"type":"user_joined","username":"a","at":"2026-11-21T10:00:00Z"}`,
			want: chat.Event{Seq: 6, Username: "a", At: t0, Data: chat.UserJoined{}}},
		{name: "unknown fields ignored",
			in:   `{"seq":6,"type":"user_left","username":"a","at":"2026-11-21T10:00:00.000Z","extra":[1,2]}`,
			want: chat.Event{Seq: 6, Username: "a", At: t0, Data: chat.UserLeft{}}},
		{name: "key order does not matter",
			in:   `{"member":"bob","role":"admin","at":"2026-11-21T10:00:00.000Z","username":"a","type":"member_added","seq":3}`,
			want: chat.Event{Seq: 3, Username: "a", At: t0, Data: chat.MemberAdded{Member: "bob", Role: chat.RoleAdmin}}},

		{name: "unknown type", in: `{"seq":1,"type":"room_exploded","username":"a","at":"2026-11-21T10:00:00.000Z"}`, wantErr: "unknown event type"},
		{name: "missing type", in: `{"seq":1,"username":"a","at":"2026-11-21T10:00:00.000Z"}`, wantErr: "unknown event type"},
		{name: "type in another case", in: `{"seq":1,"type":"ROOM_CREATED","username":"a","at":"2026-11-21T10:00:00.000Z"}`, wantErr: "unknown event type"},
		{name: "bad time", in: `{"seq":1,"type":"user_joined","username":"a","at":"yesterday"}`, wantErr: "time"},
		{name: "time without zone", in: `{"seq":1,"type":"user_joined","username":"a","at":"2026-11-21T10:00:00.000"}`, wantErr: "time"},
		{name: "time with a space", in: `{"seq":1,"type":"user_joined","username":"a","at":"2026-11-21 10:00:00Z"}`, wantErr: "time"},
		{name: "missing time", in: `{"seq":1,"type":"user_joined","username":"a"}`, wantErr: "time"},
		{name: "time as a number", in: `{"seq":1,"type":"user_joined","username":"a","at":1763719200000}`, wantErr: "decode event"},
		{name: "seq as a string", in: `{"seq":"1","type":"user_joined","username":"a","at":"2026-11-21T10:00:00.000Z"}`, wantErr: "decode event"},
		{name: "seq as a fraction", in: `{"seq":1.5,"type":"user_joined","username":"a","at":"2026-11-21T10:00:00.000Z"}`, wantErr: "decode event"},
		{name: "field of the wrong type", in: `{"seq":2,"type":"room_renamed","username":"a","at":"2026-11-21T10:00:00.000Z","name":5}`, wantErr: "room_renamed"},
		{name: "members not a list", in: `{"seq":1,"type":"room_created","username":"a","at":"2026-11-21T10:00:00.000Z","name":"n","members":"bob"}`, wantErr: "room_created"},
		{name: "not an object", in: `[1,2]`, wantErr: "decode event"},
		{name: "not JSON", in: `{"seq":`, wantErr: "unexpected end of JSON input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got chat.Event
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Unmarshal(%s) = %#v, want an error", tc.in, got)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not mention %q", err, tc.wantErr)
				}
				if _, ok := chat.CodeOf(err); ok {
					t.Errorf("a decoding failure is not a rule violation, got code for %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestEventUnmarshalFailureLeavesEvent(t *testing.T) {
	orig := chat.Event{RoomID: "r", Seq: 9, Username: "z", At: t0, Data: chat.UserLeft{}}
	for _, in := range []string{
		`{"seq":1,"type":"nope","username":"a","at":"2026-11-21T10:00:00.000Z"}`,
		`{"seq":1,"type":"user_joined","username":"a","at":"never"}`,
		`{"seq":2,"type":"room_renamed","username":"a","at":"2026-11-21T10:00:00.000Z","name":false}`,
	} {
		e := orig
		if err := e.UnmarshalJSON([]byte(in)); err == nil {
			t.Fatalf("UnmarshalJSON(%s) succeeded", in)
		}
		if !reflect.DeepEqual(e, orig) {
			t.Errorf("UnmarshalJSON(%s) failed but changed the event to %#v", in, e)
		}
	}
}

// declaredEventTypes reads the package's own source and returns the value of
// every constant of type EventType, so a type added there is seen here
// without anyone updating a list.
func declaredEventTypes(t *testing.T) map[chat.EventType]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[chat.EventType]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			var typ ast.Expr
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if vs.Type != nil || len(vs.Values) > 0 {
					typ = vs.Type
				}
				if id, ok := typ.(*ast.Ident); !ok || id.Name != "EventType" {
					continue
				}
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						t.Fatalf("%s: EventType constant %s has no literal value; teach this test to read it", fset.Position(name.Pos()), name.Name)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: EventType constant %s is not a string literal; teach this test to read it", fset.Position(name.Pos()), name.Name)
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[chat.EventType(v)] = name.Name
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("found no EventType constants")
	}
	return out
}

// TestEveryEventTypeIsWired checks, for every EventType constant declared in
// the package, that the decoder registry knows it and decodes it to data of
// that type, that it has a golden sample, and that Apply folds it.
func TestEveryEventTypeIsWired(t *testing.T) {
	declared := declaredEventTypes(t)
	registered := chat.RegisteredEventTypes()
	for _, typ := range registered {
		if _, ok := declared[typ]; !ok {
			t.Errorf("the decoder registry knows %q, which is no declared EventType constant", typ)
		}
	}
	for typ, constName := range declared {
		t.Run(string(typ), func(t *testing.T) {
			if !slices.Contains(registered, typ) {
				t.Fatalf("%s (%q) has no decoder in eventDecoders", constName, typ)
			}
			var e chat.Event
			raw := `{"seq":1,"type":"` + string(typ) + `","username":"a","at":"2026-11-21T10:00:00.000Z"}`
			if err := json.Unmarshal([]byte(raw), &e); err != nil {
				t.Fatalf("decode a bare %s event: %v", typ, err)
			}
			if e.Type() != typ {
				t.Errorf("the decoder of %q yields %T, whose type is %q", typ, e.Data, e.Type())
			}

			var sample *chat.Event
			for _, g := range goldenEvents {
				if g.event.Type() == typ {
					sample = &g.event
					break
				}
			}
			if sample == nil {
				t.Fatalf("no golden sample of %s in goldenEvents", typ)
			}

			// Apply folds it: as seq 1 for room_created, else after one.
			stream := []chat.Event{ev(1, "alice", chat.RoomCreated{Name: "n", Members: []string{"bob"}})}
			e = *sample
			if typ == chat.TypeRoomCreated {
				stream = nil
				e.Seq = 1
			} else {
				e.Seq = 2
			}
			r, err := chat.Replay("r1", append(stream, e))
			if err != nil {
				t.Fatalf("Apply does not fold %s: %v", typ, err)
			}
			if r.Version != e.Seq {
				t.Errorf("Version = %d after %s, want %d", r.Version, typ, e.Seq)
			}
		})
	}
}
