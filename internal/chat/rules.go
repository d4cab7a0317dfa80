package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the wire contract.
const (
	MinUsernameLen    = 3
	MaxUsernameLen    = 32
	MinPasswordLen    = 8
	MaxPasswordLen    = 128
	MaxRoomNameLen    = 100
	MaxMessageLen     = 4000
	MaxClientMsgIDLen = 64
	MaxMembers        = 1000
	// MaxMembersPerChange caps the people one request adds (at room creation
	// or to an existing room). The cloud store writes an event and its
	// projections in one DynamoDB transaction, which holds at most 100
	// writes; adding a person costs two (the member_added event and the
	// member item), so 49 is the most that stays all-or-nothing.
	MaxMembersPerChange = 49
)

// NormalizeUsername lower-cases ASCII letters and checks the result is 3 to
// 32 characters of [a-z0-9_]. Only ASCII is folded: Unicode case folding
// maps look-alikes such as the Kelvin sign onto 'k', which would let two
// different inputs name the same account.
func NormalizeUsername(s string) (string, error) {
	if len(s) < MinUsernameLen || len(s) > MaxUsernameLen {
		return "", ErrInvalidUsername
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + ('a' - 'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			return "", ErrInvalidUsername
		}
	}
	return string(b), nil
}

// ValidatePassword checks the password length in code points.
func ValidatePassword(s string) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n < MinPasswordLen || n > MaxPasswordLen || strings.IndexByte(s, 0) >= 0 {
		return ErrInvalidPassword
	}
	return nil
}

// NormalizeRoomName trims the name and checks it is 1 to 100 code points
// with no control characters.
func NormalizeRoomName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrInvalidRoomName
	}
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n < 1 || n > MaxRoomNameLen || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", ErrInvalidRoomName
	}
	return s, nil
}

// NormalizeMessageText trims the text and checks it is 1 to 4000 code points
// with no NUL.
func NormalizeMessageText(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errorf(CodeInvalidMessage, "text must be valid UTF-8")
	}
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n < 1:
		return "", errorf(CodeInvalidMessage, "text must not be empty")
	case n > MaxMessageLen:
		return "", errorf(CodeInvalidMessage, "text must be at most %d characters", MaxMessageLen)
	case strings.IndexByte(s, 0) >= 0:
		return "", errorf(CodeInvalidMessage, "text must not contain NUL")
	}
	return s, nil
}

// ValidateClientMsgID checks a client message id: 1 to 64 of [A-Za-z0-9_-].
func ValidateClientMsgID(s string) error {
	if len(s) < 1 || len(s) > MaxClientMsgIDLen {
		return errorf(CodeInvalidMessage, "client_msg_id must be 1 to %d characters", MaxClientMsgIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return errorf(CodeInvalidMessage, "client_msg_id must be letters, digits, _ or -")
		}
	}
	return nil
}
