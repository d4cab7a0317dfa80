package chat_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
)

func TestMentionCandidates(t *testing.T) {
	many := make([]string, 0, chat.MaxMentions+5)
	var text strings.Builder
	for i := range chat.MaxMentions + 5 {
		name := "user" + string(rune('a'+i))
		many = append(many, name)
		text.WriteString("@" + name + " ")
	}
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"none", "hello there", nil},
		{"one", "@bob look", []string{"bob"}},
		{"upper case folds", "hi @Bob!", []string{"bob"}},
		{"order of first appearance, no repeats", "@carol and @bob, @carol again", []string{"carol", "bob"}},
		{"e-mail is no mention", "write to alice@bob.com", nil},
		{"too short", "@ab hi", nil},
		{"too long", "@" + strings.Repeat("a", 33), nil},
		{"punctuation ends the name", "(@dave), @erin.", []string{"dave", "erin"}},
		{"bare at", "@ @ @", nil},
		{"double at", "@@frank", []string{"frank"}},
		{"capped", text.String(), many[:chat.MaxMentions]},
		{"a letter outside the name alphabet ends it", "@bobé", []string{"bob"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := chat.MentionCandidates(tc.text); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MentionCandidates(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestSendMessageMentionsMembersOnly(t *testing.T) {
	r := fixture(t)
	evs, err := r.SendMessage("bob", "m1", "c1", "@carol @frank @zed @dave hi", at(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := evs[0].Data.(chat.MessageSent).Mentions
	if want := (chat.Usernames{"carol", "dave"}); !reflect.DeepEqual(got, want) {
		t.Errorf("mentions = %q, want %q (members only, in order)", got, want)
	}
}

func TestMessageID(t *testing.T) {
	a := chat.MessageID("r1", "bob", "c1")
	if a != chat.MessageID("r1", "bob", "c1") {
		t.Error("the same send must name the same message")
	}
	for _, other := range []string{chat.MessageID("r2", "bob", "c1"), chat.MessageID("r1", "carol", "c1"), chat.MessageID("r1", "bob", "c2"), chat.MessageID("r1", "bob\x00c", "1")} {
		if other == a {
			t.Errorf("different sends share the id %s", a)
		}
	}
	if len(a) != 27 {
		t.Errorf("id %q has %d characters, want 27", a, len(a))
	}
}

func TestEditAndDeleteRules(t *testing.T) {
	r := fixture(t) // alice owner, dave and erin admins, bob and carol members
	own := &chat.MessageRef{ID: "m1", Seq: 4, Author: "bob"}
	tests := []struct {
		name   string
		actor  string
		msg    *chat.MessageRef
		edit   bool
		text   string
		want   error
		wantEv chat.EventData
	}{
		{"author edits", "bob", own, true, " new @carol ", nil, chat.MessageEdited{MessageID: "m1", Text: "new @carol", Mentions: chat.Usernames{"carol"}}},
		{"other member cannot edit", "carol", own, true, "x", chat.ErrForbidden, nil},
		{"admin cannot edit another's", "dave", own, true, "x", chat.ErrForbidden, nil},
		{"empty text", "bob", own, true, "  ", chat.ErrInvalidMessage, nil},
		{"bad text before unknown message", "bob", nil, true, "", chat.ErrInvalidMessage, nil},
		{"unknown message", "bob", nil, true, "x", chat.ErrMessageNotFound, nil},
		{"deleted message", "bob", &chat.MessageRef{ID: "m1", Author: "bob", Deleted: true}, true, "x", chat.ErrMessageNotFound, nil},
		{"too many edits", "bob", &chat.MessageRef{ID: "m1", Author: "bob", Edits: chat.MaxEditsPerMessage}, true, "x", chat.ErrForbidden, nil},
		{"outsider", "frank", own, true, "x", chat.ErrRoomNotFound, nil},
		{"author deletes", "bob", own, false, "", nil, chat.MessageDeleted{MessageID: "m1"}},
		{"admin deletes", "dave", own, false, "", nil, chat.MessageDeleted{MessageID: "m1"}},
		{"owner deletes", "alice", own, false, "", nil, chat.MessageDeleted{MessageID: "m1"}},
		{"member cannot delete another's", "carol", own, false, "", chat.ErrForbidden, nil},
		{"delete twice", "bob", &chat.MessageRef{ID: "m1", Author: "bob", Deleted: true}, false, "", chat.ErrMessageNotFound, nil},
		{"outsider deletes", "frank", own, false, "", chat.ErrRoomNotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var evs []chat.Event
			var err error
			if tc.edit {
				evs, err = r.EditMessage(tc.actor, tc.msg, tc.text, at(time.Minute))
			} else {
				evs, err = r.DeleteMessage(tc.actor, tc.msg, at(time.Minute))
			}
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.wantEv != nil {
				if len(evs) != 1 || !reflect.DeepEqual(evs[0].Data, tc.wantEv) || evs[0].Seq != r.Version+1 {
					t.Fatalf("events = %+v, want one %+v at %d", evs, tc.wantEv, r.Version+1)
				}
				if err := cloneRoom(r).Apply(evs[0]); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
		})
	}
}

func TestErased(t *testing.T) {
	sent := ev(4, "bob", chat.MessageSent{MessageID: "m1", ClientMsgID: "c1", Text: "secret", Mentions: chat.Usernames{"carol"}})
	got := chat.Erased(sent).Data.(chat.MessageSent)
	if got.Text != "" || got.Mentions != nil || !got.Deleted || got.MessageID != "m1" || got.ClientMsgID != "c1" {
		t.Errorf("erased message = %+v", got)
	}
	edit := ev(5, "bob", chat.MessageEdited{MessageID: "m1", Text: "secret 2"})
	if e := chat.Erased(edit).Data.(chat.MessageEdited); e.Text != "" || !e.Deleted {
		t.Errorf("erased edit = %+v", e)
	}
	join := ev(6, "bob", chat.UserJoined{})
	if !reflect.DeepEqual(chat.Erased(join), join) {
		t.Error("an event without text changed")
	}
	raw, err := chat.ErasedJSON(sent)
	if err != nil || strings.Contains(string(raw), "secret") || !strings.Contains(string(raw), `"deleted":true`) {
		t.Errorf("ErasedJSON = %s, %v", raw, err)
	}
}
