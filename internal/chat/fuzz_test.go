package chat_test

// Fuzz targets for the rules that read outside input (names, passwords,
// message text, client message ids, member lists) and for the event codec
// that reads the store. Each checks properties of the answer, not only that
// nothing panics. The seed corpora are under testdata/fuzz/<target>/ and run
// with the ordinary tests; `go test -run=^$ -fuzz=^FuzzX$ ./internal/chat`
// (or infra/fuzz.sh) explores further.

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/chatroom/chat/internal/chat"
)

var fzUsernameRE = regexp.MustCompile(`^[a-z0-9_]{3,32}$`)

// fzASCIILower lower-cases A-Z only, the one folding the contract allows.
func fzASCIILower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func fzCode(t *testing.T, err error, want chat.Code) {
	t.Helper()
	code, ok := chat.CodeOf(err)
	if !ok || code != want {
		t.Fatalf("error %v has code %q (rule violation: %v), want %q", err, code, ok, want)
	}
}

func FuzzNormalizeUsername(f *testing.F) {
	for _, s := range []string{"alice", "Alice_01", "abc", "ab", strings.Repeat("a", 32), strings.Repeat("a", 33),
		"\u212Aelvin", "аlice", "ａｌｉｃｅ", "ali\u0301ce", "al\x00ce", "al\xffce", "a b", "ALICE", "İstanbul", "ſam"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := chat.NormalizeUsername(s)
		// The oracle: valid exactly when the input is 3 to 32 bytes of
		// [A-Za-z0-9_]; the answer is the input with A-Z lower-cased.
		wantOK := fzUsernameRE.MatchString(fzASCIILower(s))
		if err != nil {
			if wantOK {
				t.Fatalf("NormalizeUsername(%q) refused a valid name: %v", s, err)
			}
			if !errors.Is(err, chat.ErrInvalidUsername) {
				t.Fatalf("NormalizeUsername(%q) error %v is not invalid_username", s, err)
			}
			if got != "" {
				t.Fatalf("NormalizeUsername(%q) = %q with an error", s, got)
			}
			return
		}
		if !wantOK {
			t.Fatalf("NormalizeUsername(%q) = %q, want it refused", s, got)
		}
		if !fzUsernameRE.MatchString(got) {
			t.Fatalf("NormalizeUsername(%q) = %q, which does not match %s", s, got, fzUsernameRE)
		}
		if got != fzASCIILower(s) {
			t.Fatalf("NormalizeUsername(%q) = %q, want %q (ASCII folding only)", s, got, fzASCIILower(s))
		}
		again, err := chat.NormalizeUsername(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: NormalizeUsername(%q) = %q, %v", got, again, err)
		}
	})
}

func FuzzValidatePassword(f *testing.F) {
	for _, s := range []string{"password", "short", strings.Repeat("p", 128), strings.Repeat("p", 129), strings.Repeat("é", 128),
		"pass\x00word", "pass\xffword", "пароль12", "\u212A\u212A\u212A\u212A\u212A\u212A\u212A\u212A", "e\u0301e\u0301e\u0301e\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := utf8.RuneCountInString(s)
		wantOK := utf8.ValidString(s) && n >= chat.MinPasswordLen && n <= chat.MaxPasswordLen && !strings.ContainsRune(s, 0)
		err := chat.ValidatePassword(s)
		if (err == nil) != wantOK {
			t.Fatalf("ValidatePassword(%q) = %v, want ok=%v", s, err, wantOK)
		}
		if err != nil {
			fzCode(t, err, chat.CodeInvalidPassword)
		}
	})
}

func FuzzNormalizeRoomName(f *testing.F) {
	for _, s := range []string{"General", "  padded  ", "", " ", "\t\n", strings.Repeat("r", 100), strings.Repeat("r", 101),
		strings.Repeat("é", 100), " " + strings.Repeat("x", 100) + " ", "a\x00b", "a\x7fb", "a\u0085b", "\u0085a\u0085",
		"a\nb", "\xff", "\u00a0name\u00a0", "\u200bzero\u200b", "\ufeffbom", "ro\u0301om", "🙂", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := chat.NormalizeRoomName(s)
		trimmed := strings.TrimSpace(s)
		n := utf8.RuneCountInString(trimmed)
		wantOK := utf8.ValidString(s) && n >= 1 && n <= chat.MaxRoomNameLen && !strings.ContainsFunc(trimmed, unicode.IsControl)
		if (err == nil) != wantOK {
			t.Fatalf("NormalizeRoomName(%q) = %q, %v; want ok=%v", s, got, err, wantOK)
		}
		if err != nil {
			fzCode(t, err, chat.CodeInvalidRoomName)
			return
		}
		if got != trimmed {
			t.Fatalf("NormalizeRoomName(%q) = %q, want the trimmed input %q", s, got, trimmed)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("NormalizeRoomName(%q) = %q, not UTF-8", s, got)
		}
		if c := utf8.RuneCountInString(got); c < 1 || c > chat.MaxRoomNameLen {
			t.Fatalf("NormalizeRoomName(%q) = %q, %d code points", s, got, c)
		}
		if strings.ContainsFunc(got, unicode.IsControl) {
			t.Fatalf("NormalizeRoomName(%q) = %q holds a control character", s, got)
		}
		if strings.TrimSpace(got) != got {
			t.Fatalf("NormalizeRoomName(%q) = %q is not trimmed", s, got)
		}
		again, err := chat.NormalizeRoomName(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: NormalizeRoomName(%q) = %q, %v", got, again, err)
		}
	})
}

func FuzzNormalizeMessageText(f *testing.F) {
	for _, s := range []string{"hello", "  hi  ", "", " \n\t ", strings.Repeat("m", 4000), strings.Repeat("m", 4001),
		strings.Repeat("🙂", 4000), "a\x00b", "\x00", "\xff\xfe", "line\nbreak", "\u00a0\u3000x\u3000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := chat.NormalizeMessageText(s)
		trimmed := strings.TrimSpace(s)
		n := utf8.RuneCountInString(trimmed)
		wantOK := utf8.ValidString(s) && n >= 1 && n <= chat.MaxMessageLen && !strings.ContainsRune(trimmed, 0)
		if (err == nil) != wantOK {
			t.Fatalf("NormalizeMessageText(%q) = %v, want ok=%v", s, err, wantOK)
		}
		if err != nil {
			fzCode(t, err, chat.CodeInvalidMessage)
			return
		}
		if got != trimmed || strings.TrimSpace(got) != got {
			t.Fatalf("NormalizeMessageText(%q) = %q, want the trimmed input %q", s, got, trimmed)
		}
		if c := utf8.RuneCountInString(got); c < 1 || c > chat.MaxMessageLen || strings.ContainsRune(got, 0) || !utf8.ValidString(got) {
			t.Fatalf("NormalizeMessageText(%q) = %q breaks the limits", s, got)
		}
		again, err := chat.NormalizeMessageText(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: NormalizeMessageText(%q) = %q, %v", got, again, err)
		}
	})
}

var fzClientMsgIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func FuzzValidateClientMsgID(f *testing.F) {
	for _, s := range []string{"m1", "", "-", strings.Repeat("x", 64), strings.Repeat("x", 65), "a b", "ａ", "id\x00", "id\n", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := chat.ValidateClientMsgID(s)
		if want := fzClientMsgIDRE.MatchString(s); (err == nil) != want {
			t.Fatalf("ValidateClientMsgID(%q) = %v, want ok=%v", s, err, want)
		}
		if err != nil {
			fzCode(t, err, chat.CodeInvalidMessage)
		}
	})
}

// FuzzNormalizeMemberList takes the list as lines, repeated `repeat` times,
// followed by `generated` distinct valid names (u0, u1, ...), so a small
// input can stand for 10,000 members.
func FuzzNormalizeMemberList(f *testing.F) {
	f.Add("bob\ncarol", uint16(1), uint16(0))
	f.Add("Bob\nbob\nBOB", uint16(1), uint16(0))
	f.Add("bob", uint16(10000), uint16(0))
	f.Add("", uint16(0), uint16(10000))
	f.Add("", uint16(0), uint16(49))
	f.Add("", uint16(0), uint16(50))
	f.Add("bob\n\u212Aelvin", uint16(1), uint16(0))
	f.Add("bob\nаlice", uint16(1), uint16(0))
	f.Add("ｂｏｂ", uint16(1), uint16(0))
	f.Add("\x00\x00\x00", uint16(1), uint16(0))
	f.Fuzz(func(t *testing.T, lines string, repeat, generated uint16) {
		var in []string
		if lines != "" || repeat > 0 {
			one := strings.Split(lines, "\n")
			for range min(int(repeat), 20000/len(one)+1) {
				in = append(in, one...)
			}
		}
		for i := range int(generated) {
			in = append(in, fmt.Sprintf("u%d_", i))
		}
		got, err := chat.NormalizeMemberList(slices.Clone(in))
		// The oracle: every input must normalize; the distinct results, in
		// order of first appearance, must number at most 49.
		var want []string
		var bad []string
		for _, u := range in {
			n, err := chat.NormalizeUsername(u)
			if err != nil {
				bad = append(bad, u)
				continue
			}
			if !slices.Contains(want, n) {
				want = append(want, n)
			}
			if len(want) > chat.MaxMembersPerChange+1 {
				break // enough to know the answer
			}
		}
		switch {
		case len(bad) > 0:
			fzCode(t, err, chat.CodeInvalidUsername)
			var ce *chat.Error
			if errors.As(err, &ce) && (len(ce.Usernames) != 1 || !slices.Contains(in, ce.Usernames[0])) {
				t.Fatalf("invalid_username names %q, want one of the inputs", ce.Usernames)
			}
		case len(want) > chat.MaxMembersPerChange:
			fzCode(t, err, chat.CodeTooManyMembers)
		default:
			if err != nil {
				t.Fatalf("NormalizeMemberList(%d names) = %v, want %d names", len(in), err, len(want))
			}
			if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
				t.Fatalf("NormalizeMemberList(%d names) = %q, want %q", len(in), got, want)
			}
			for _, u := range got {
				if !fzUsernameRE.MatchString(u) {
					t.Fatalf("member %q does not match %s", u, fzUsernameRE)
				}
			}
		}
	})
}

// FuzzEventUnmarshal reads events as the store holds them. Whatever it
// accepts must encode again, and the encoding must decode to the same event
// and encode to the same bytes: what the server writes, it can read back.
func FuzzEventUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"seq":1,"type":"room_created","username":"alice","at":"2026-11-21T10:00:00.000Z","name":"General","members":["bob","carol"]}`,
		`{"seq":1,"type":"room_created","username":"alice","at":"2026-11-21T10:00:00.000Z","name":"General","members":[]}`,
		`{"seq":1,"type":"room_created","username":"alice","at":"2026-11-21T10:00:00.000Z","name":"General","members":null}`,
		`{"seq":2,"type":"room_renamed","username":"a","at":"2026-11-21T11:00:00.5+01:00","name":"n"}`,
		`{"seq":3,"type":"member_added","username":"a","at":"2026-11-21T10:00:00.000Z","member":"bob","role":"admin"}`,
		`{"seq":4,"type":"member_removed","username":"a","at":"2026-11-21T10:00:00.000Z","member":"bob"}`,
		`{"seq":5,"type":"user_joined","username":"a","at":"2026-11-21T10:00:00Z"}`,
		`{"seq":6,"type":"message_sent","username":"a","at":"2026-11-21T10:00:00.123Z","message_id":"01J","client_msg_id":"c1","text":"hi \u0000 \ud800"}`,
		`{"seq":7,"type":"user_left","username":"a","at":"2026-11-21T10:00:00.000Z","extra":[1,2]}`,
		`{"seq":8,"type":"room_deleted","username":"a","at":"2026-11-21T10:00:00.000Z"}`,
		`{"seq":9223372036854775807,"type":"user_joined","username":"a","at":"2026-11-21T10:00:00.000Z"}`,
		`{"seq":-1,"type":"user_joined","username":"\xff\xfe","at":"2026-11-21T10:00:00.000Z"}`,
		`{"seq":99999999999999999999,"type":"user_joined","username":"a","at":"2026-11-21T10:00:00.000Z"}`,
		`{"seq":1,"type":"user_joined","username":"a","at":"2026-11-21T10:00:00.123456789Z"}`,
		`{"seq":1,"type":"user_joined","username":"a","at":"0000-01-01T00:00:00+00:01"}`,
		`{"seq":1,"type":"user_joined","username":"a","at":"9999-12-31T23:59:59-23:59"}`,
		`{"seq":1,"type":"user_joined","type":"room_deleted","username":"a","at":"2026-11-21T10:00:00.000Z"}`,
		`{"seq":1,"TYPE":"user_joined","Username":"a","AT":"2026-11-21T10:00:00.000Z"}`,
		`{"seq":1,"type":"room_created","username":"a","at":"2026-11-21T10:00:00.000Z","name":{"x":1}}`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		`{"seq":1,"type":"room_created","username":"a","at":"2026-11-21T10:00:00.000Z","name":"n","members":` + strings.Repeat("[", 10000) + `]}`,
		`null`, ``, "\x00", `{"seq":1}` + "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sentinel := chat.Event{RoomID: "r", Seq: 42, Username: "sentinel", Data: chat.UserLeft{}}
		e := sentinel
		if err := json.Unmarshal(raw, &e); err != nil {
			if !reflect.DeepEqual(e, sentinel) {
				t.Fatalf("a failed Unmarshal changed the event to %+v", e)
			}
			return
		}
		if e.RoomID != "r" {
			t.Fatalf("Unmarshal changed RoomID to %q", e.RoomID)
		}
		if e.Data == nil {
			t.Fatalf("Unmarshal accepted %q without data", raw)
		}
		var env struct {
			Type chat.EventType `json:"type"`
		}
		if err := json.Unmarshal(raw, &env); err != nil || env.Type != e.Type() {
			t.Fatalf("decoded type %q, the input says %q (%v)", e.Type(), env.Type, err)
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("Marshal of a decoded event %+v: %v", e, err)
		}
		var head struct {
			Seq      *int64  `json:"seq"`
			Type     *string `json:"type"`
			Username *string `json:"username"`
			At       *string `json:"at"`
		}
		if err := json.Unmarshal(out, &head); err != nil || head.Seq == nil || head.Type == nil || head.Username == nil || head.At == nil {
			t.Fatalf("Marshal wrote %s, which lacks the envelope (%v)", out, err)
		}
		if len(*head.At) != len(chat.TimeFormat) {
			t.Fatalf("Marshal wrote at %q, not in the form %s", *head.At, chat.TimeFormat)
		}
		back := chat.Event{RoomID: "r"}
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("the server cannot read back what it wrote: %s: %v", out, err)
		}
		if !back.At.Equal(e.At) || back.At.Location() != e.At.Location() {
			t.Fatalf("time %v came back as %v (%s)", e.At, back.At, out)
		}
		back.At = e.At
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("round trip changed the event:\n in: %+v\nout: %+v\nvia %s", e, back, out)
		}
		again, err := json.Marshal(back)
		if err != nil || string(again) != string(out) {
			t.Fatalf("encoding is not stable:\n%s\n%s (%v)", out, again, err)
		}
	})
}
