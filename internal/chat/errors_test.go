package chat_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/chatroom/chat/internal/chat"
)

func TestSentinelCodes(t *testing.T) {
	sentinels := map[chat.Code]*chat.Error{
		"invalid_username":  chat.ErrInvalidUsername,
		"invalid_password":  chat.ErrInvalidPassword,
		"invalid_room_name": chat.ErrInvalidRoomName,
		"invalid_message":   chat.ErrInvalidMessage,
		"too_many_members":  chat.ErrTooManyMembers,
		"forbidden":         chat.ErrForbidden,
		"room_not_found":    chat.ErrRoomNotFound,
		"user_not_found":    chat.ErrUserNotFound,
		"username_taken":    chat.ErrUsernameTaken,
		"already_member":    chat.ErrAlreadyMember,
	}
	for code, s := range sentinels {
		t.Run(string(code), func(t *testing.T) {
			if s.Code != code {
				t.Errorf("sentinel code = %q, want %q", s.Code, code)
			}
			if s.Message == "" {
				t.Error("sentinel has no message")
			}
			if got, want := s.Error(), string(code)+": "+s.Message; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
			for other, o := range sentinels {
				if got := errors.Is(s, o); got != (other == code) {
					t.Errorf("errors.Is(%s, %s) = %v", code, other, got)
				}
			}
		})
	}
}

func TestErrorMatching(t *testing.T) {
	custom := &chat.Error{Code: chat.CodeForbidden, Message: "the owner cannot be removed", Usernames: []string{"alice"}}
	tests := []struct {
		name    string
		err     error
		target  error
		is      bool
		code    chat.Code
		hasCode bool
	}{
		{name: "same code, other message", err: custom, target: chat.ErrForbidden, is: true, code: chat.CodeForbidden, hasCode: true},
		{name: "other code", err: custom, target: chat.ErrRoomNotFound, is: false, code: chat.CodeForbidden, hasCode: true},
		{name: "wrapped", err: fmt.Errorf("rename: %w", custom), target: chat.ErrForbidden, is: true, code: chat.CodeForbidden, hasCode: true},
		{name: "joined", err: errors.Join(io.EOF, chat.ErrUserNotFound), target: chat.ErrUserNotFound, is: true, code: chat.CodeUserNotFound, hasCode: true},
		{name: "not a rule violation", err: io.EOF, target: chat.ErrForbidden, is: false, hasCode: false},
		{name: "nil", err: nil, target: chat.ErrForbidden, is: false, hasCode: false},
		{name: "against a non-chat target", err: custom, target: io.EOF, is: false, code: chat.CodeForbidden, hasCode: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, tc.target); got != tc.is {
				t.Errorf("errors.Is = %v, want %v", got, tc.is)
			}
			code, ok := chat.CodeOf(tc.err)
			if code != tc.code || ok != tc.hasCode {
				t.Errorf("CodeOf = %q, %v; want %q, %v", code, ok, tc.code, tc.hasCode)
			}
		})
	}
}
