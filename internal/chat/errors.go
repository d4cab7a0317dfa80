package chat

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code of the wire contract.
type Code string

// The contract's codes that the domain can produce. Transport layers map each
// code to an HTTP status or a socket error in one place.
const (
	CodeInvalidUsername Code = "invalid_username"
	CodeInvalidPassword Code = "invalid_password"
	CodeInvalidRoomName Code = "invalid_room_name"
	CodeInvalidMessage  Code = "invalid_message"
	CodeTooManyMembers  Code = "too_many_members"
	CodeForbidden       Code = "forbidden"
	CodeRoomNotFound    Code = "room_not_found"
	CodeUserNotFound    Code = "user_not_found"
	CodeUsernameTaken   Code = "username_taken"
	CodeAlreadyMember   Code = "already_member"
)

// Error is a rule violation: a contract code plus a sentence for people.
// Two Errors match under errors.Is when their codes are equal, so callers
// compare against the sentinels below whatever the message says.
type Error struct {
	Code    Code
	Message string
	// Usernames names the people an error is about (unknown users, existing
	// members), so a client can point at them.
	Usernames []string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels to compare with errors.Is.
var (
	ErrInvalidUsername = &Error{Code: CodeInvalidUsername, Message: "username must be 3 to 32 characters of a-z, 0-9 and _"}
	ErrInvalidPassword = &Error{Code: CodeInvalidPassword, Message: "password must be 8 to 128 characters"}
	ErrInvalidRoomName = &Error{Code: CodeInvalidRoomName, Message: "room name must be 1 to 100 characters with no control characters"}
	ErrInvalidMessage  = &Error{Code: CodeInvalidMessage, Message: "invalid message"}
	ErrTooManyMembers  = &Error{Code: CodeTooManyMembers, Message: fmt.Sprintf("a room holds at most %d members", MaxMembers)}
	ErrForbidden       = &Error{Code: CodeForbidden, Message: "you do not have the role this action needs"}
	ErrRoomNotFound    = &Error{Code: CodeRoomNotFound, Message: "room not found"}
	ErrUserNotFound    = &Error{Code: CodeUserNotFound, Message: "user not found"}
	ErrUsernameTaken   = &Error{Code: CodeUsernameTaken, Message: "username is taken"}
	ErrAlreadyMember   = &Error{Code: CodeAlreadyMember, Message: "already a member"}
)

// CodeOf returns the contract code of err, and false when err is not a rule
// violation (an internal failure).
func CodeOf(err error) (Code, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return "", false
}
