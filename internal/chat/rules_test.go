package chat_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/chat"
)

func TestNormalizeUsername(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" means invalid_username
	}{
		{"lower", "alice", "alice"},
		{"upper folded", "ALICE", "alice"},
		{"mixed with digits and underscore", "AlIcE_99", "alice_99"},
		{"digits only", "123", "123"},
		{"underscores only", "___", "___"},
		{"3 chars", "abc", "abc"},
		{"3 chars upper", "ABC", "abc"},
		{"32 chars", strings.Repeat("a", 32), strings.Repeat("a", 32)},
		{"32 chars upper", strings.Repeat("Z", 32), strings.Repeat("z", 32)},
		{"ascii KELVIN folds", "KELVIN", "kelvin"},

		{"empty", "", ""},
		{"1 char", "a", ""},
		{"2 chars", "ab", ""},
		{"33 chars", strings.Repeat("a", 33), ""},
		{"33 chars upper", strings.Repeat("A", 33), ""},
		{"spaces only", "   ", ""},
		{"leading space", " alice", ""},
		{"trailing space", "alice ", ""},
		{"inner space", "al ice", ""},
		{"tab", "al\tice", ""},
		{"hyphen", "alice-b", ""},
		{"dot", "alice.b", ""},
		{"at sign", "alice@x", ""},
		{"NUL", "alice\x00", ""},
		{"kelvin sign (U+212A) is not K", "\u212Aelvin", ""},
		{"kelvin sign alone padded", "ab\u212A", ""},
		{"cyrillic a look-alike", "\u0430lice", ""},
		{"cyrillic upper A look-alike", "\u0410LICE", ""},
		{"long s (U+017F) is not s", "\u017Fam", ""},
		{"dotted capital I (U+0130)", "\u0130van", ""},
		{"fullwidth letters", "\uff41\uff4c\uff49\uff43\uff45", ""},
		{"accented", "\u00e5lice", ""},
		{"3 multi-byte code points", "\u00e9\u00e9\u00e9", ""},
		{"invalid utf-8", "ali\xffce", ""},
		{"emoji", "bob\U0001F600", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chat.NormalizeUsername(tc.in)
			if tc.want == "" {
				checkErr(t, err, chat.ErrInvalidUsername)
				if got != "" {
					t.Errorf("NormalizeUsername(%q) = %q with an error, want \"\"", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeUsername(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("NormalizeUsername(%q) = %q, want %q", tc.in, got, tc.want)
			}
			again, err := chat.NormalizeUsername(got)
			if err != nil || again != got {
				t.Errorf("NormalizeUsername is not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"8 ascii", "abcdefgh", true},
		{"128 ascii", strings.Repeat("p", 128), true},
		{"8 spaces (not trimmed)", "        ", true},
		{"8 two-byte code points", strings.Repeat("\u00e9", 8), true},
		{"128 two-byte code points (256 bytes)", strings.Repeat("\u00e9", 128), true},
		{"8 four-byte code points", strings.Repeat("\U0001F600", 8), true},
		{"32 four-byte code points (128 bytes)", strings.Repeat("\U0001F600", 32), true},
		{"128 three-byte code points", strings.Repeat("\u65e5", 128), true},
		{"mixed 8 code points", "p\u00e4ss\u65e5\U0001F600rd", true},

		{"empty", "", false},
		{"7 ascii", "abcdefg", false},
		{"129 ascii", strings.Repeat("p", 129), false},
		{"7 two-byte code points (14 bytes)", strings.Repeat("\u00e9", 7), false},
		{"5 four-byte code points (20 bytes)", strings.Repeat("\U0001F600", 5), false},
		{"129 two-byte code points", strings.Repeat("\u00e9", 129), false},
		{"invalid utf-8 byte", "password\xff", false},
		{"truncated utf-8 sequence", "password\xc3", false},
		{"lone continuation byte", "\x80abcdefgh", false},
		{"NUL inside", "pass\x00word", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := chat.ValidatePassword(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidatePassword(%q): %v", tc.in, err)
				}
				return
			}
			checkErr(t, err, chat.ErrInvalidPassword)
		})
	}
}

func TestNormalizeRoomName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" means invalid_room_name
	}{
		{"plain", "General", "General"},
		{"1 char", "a", "a"},
		{"trimmed", "  General  ", "General"},
		{"inner spaces kept", "  Team  chat ", "Team  chat"},
		{"edge tab and newline trimmed", "\tGeneral\r\n", "General"},
		{"unicode spaces trimmed", "\u00a0\u3000General\u2003", "General"},
		{"emoji", "\U0001F389 Party", "\U0001F389 Party"},
		{"100 ascii", strings.Repeat("r", 100), strings.Repeat("r", 100)},
		{"100 two-byte code points", strings.Repeat("\u00e9", 100), strings.Repeat("\u00e9", 100)},
		{"100 three-byte code points", strings.Repeat("\u65e5", 100), strings.Repeat("\u65e5", 100)},
		{"100 four-byte code points", strings.Repeat("\U0001F600", 100), strings.Repeat("\U0001F600", 100)},
		{"100 after trimming", "   " + strings.Repeat("\u00e9", 100) + "\n ", strings.Repeat("\u00e9", 100)},

		{"empty", "", ""},
		{"only spaces", "     ", ""},
		{"only whitespace controls", "\t\n\r", ""},
		{"only ideographic space", "\u3000", ""},
		{"101 ascii", strings.Repeat("r", 101), ""},
		{"101 two-byte code points", strings.Repeat("\u00e9", 101), ""},
		{"101 four-byte code points", strings.Repeat("\U0001F600", 101), ""},
		{"inner newline", "a\nb", ""},
		{"inner carriage return", "a\rb", ""},
		{"inner tab", "a\tb", ""},
		{"DEL", "a\x7fb", ""},
		{"DEL at the end", "room\x7f", ""},
		{"NUL", "a\x00b", ""},
		{"escape", "a\x1b[31mb", ""},
		{"bell", "\x07room", ""},
		{"C1 control U+0085 inside", "a\u0085b", ""},
		{"C1 control U+009B", "a\u009bb", ""},
		{"invalid utf-8", "room\xff", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chat.NormalizeRoomName(tc.in)
			if tc.want == "" {
				checkErr(t, err, chat.ErrInvalidRoomName)
				if got != "" {
					t.Errorf("NormalizeRoomName(%q) = %q with an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeRoomName(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("NormalizeRoomName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizeMessageText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" means invalid_message
	}{
		{"plain", "hello", "hello"},
		{"1 char", "x", "x"},
		{"trimmed", "  hello \n\t", "hello"},
		{"inner newlines kept", "line 1\nline 2", "line 1\nline 2"},
		{"other controls allowed", "ding\x07", "ding\x07"},
		{"html kept verbatim", "<b>&amp;</b>", "<b>&amp;</b>"},
		{"4000 ascii", strings.Repeat("a", 4000), strings.Repeat("a", 4000)},
		{"4000 two-byte code points", strings.Repeat("\u00e9", 4000), strings.Repeat("\u00e9", 4000)},
		{"4000 four-byte code points", strings.Repeat("\U0001F600", 4000), strings.Repeat("\U0001F600", 4000)},
		{"4000 after trimming", "\n  " + strings.Repeat("a", 4000) + "  ", strings.Repeat("a", 4000)},

		{"empty", "", ""},
		{"only whitespace", "  \n\t \u3000", ""},
		{"4001 ascii", strings.Repeat("a", 4001), ""},
		{"4001 two-byte code points", strings.Repeat("\u00e9", 4001), ""},
		{"NUL alone", "\x00", ""},
		{"NUL inside", "a\x00b", ""},
		{"NUL at the end (not trimmed)", "hello\x00", ""},
		{"NUL padded with spaces", "  \x00  ", ""},
		{"invalid utf-8", "hello\xff", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chat.NormalizeMessageText(tc.in)
			if tc.want == "" {
				checkErr(t, err, chat.ErrInvalidMessage)
				if got != "" {
					t.Errorf("NormalizeMessageText(%q) = %q with an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeMessageText(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("NormalizeMessageText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidateClientMsgID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"1 char", "a", true},
		{"64 chars", strings.Repeat("x", 64), true},
		{"whole charset", "abcxyzABCXYZ0189_-", true},
		{"uuid", "550e8400-e29b-41d4-a716-446655440000", true},
		{"ulid", "01JD8Z3Q7X9K2M4N6P8R0T2V4W", true},
		{"only dash", "-", true},
		{"only underscore", "_", true},

		{"empty", "", false},
		{"65 chars", strings.Repeat("x", 65), false},
		{"space", "a b", false},
		{"dot", "a.b", false},
		{"slash", "a/b", false},
		{"plus", "a+b", false},
		{"colon", "a:b", false},
		{"NUL", "a\x00", false},
		{"newline", "a\n", false},
		{"multi-byte", "caf\u00e9", false},
		{"kelvin sign", "\u212A", false},
		{"64 code points but multi-byte", strings.Repeat("\u00e9", 32), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := chat.ValidateClientMsgID(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateClientMsgID(%q): %v", tc.in, err)
				}
				return
			}
			checkErr(t, err, chat.ErrInvalidMessage)
		})
	}
}

func TestNormalizeMemberList(t *testing.T) {
	tests := []struct {
		name      string
		in        []string
		want      []string
		wantErr   *chat.Error
		wantNames []string
	}{
		{name: "nil", in: nil, want: []string{}},
		{name: "empty", in: []string{}, want: []string{}},
		{name: "folded and deduplicated in order", in: []string{"Bob", "carol", "BOB", "bob", "Carol", "dave"}, want: []string{"bob", "carol", "dave"}},
		{name: "49 entries", in: memberNames(chat.MaxMembersPerChange), want: memberNames(chat.MaxMembersPerChange)},
		{name: "50 entries", in: memberNames(chat.MaxMembersPerChange + 1), wantErr: chat.ErrTooManyMembers},
		{name: "invalid name named", in: []string{"bob", "b!", "carol"}, wantErr: chat.ErrInvalidUsername, wantNames: []string{"b!"}},
		{name: "first invalid name named", in: []string{"\u212Aelvin", "x"}, wantErr: chat.ErrInvalidUsername, wantNames: []string{"\u212Aelvin"}},
		{name: "names checked before the count", in: append(memberNames(chat.MaxMembersPerChange), "!"), wantErr: chat.ErrInvalidUsername},
		{name: "repeats do not count", in: append(memberNames(chat.MaxMembersPerChange), memberNames(chat.MaxMembersPerChange)...), want: memberNames(chat.MaxMembersPerChange)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chat.NormalizeMemberList(tc.in)
			if tc.wantErr != nil {
				checkErr(t, err, tc.wantErr)
				if tc.wantNames != nil && !slices.Equal(errUsernames(t, err), tc.wantNames) {
					t.Errorf("Usernames = %q, want %q", errUsernames(t, err), tc.wantNames)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeMemberList: %v", err)
			}
			if got == nil || !slices.Equal(got, tc.want) {
				t.Errorf("NormalizeMemberList(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}
