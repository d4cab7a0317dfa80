package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/auth"
)

var tokenShape = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		token, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !tokenShape.MatchString(token) {
			t.Fatalf("token %q is not 43 characters of base64url", token)
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q decodes to %d bytes (%v), want 32 (256 bits)", token, len(raw), err)
		}
		sum := sha256.Sum256([]byte(token))
		if want := hex.EncodeToString(sum[:]); hash != want {
			t.Fatalf("hash of %q = %q, want sha256 hex %q", token, hash, want)
		}
		if !hexSHA256.MatchString(hash) {
			t.Fatalf("hash %q is not 64 lower-case hex digits", hash)
		}
		if again, err := auth.TokenHash(token); err != nil || again != hash {
			t.Fatalf("TokenHash(%q) = %q, %v; want %q", token, again, err, hash)
		}
		if seen[token] {
			t.Fatalf("token %q issued twice", token)
		}
		seen[token] = true
	}
}

func TestTokenHashKnownValue(t *testing.T) {
	token := strings.Repeat("A", 42) + "Q" // well-formed, though no NewToken would draw it
	sum := sha256.Sum256([]byte(token))
	got, err := auth.TokenHash(token)
	if err != nil || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("TokenHash(%q) = %q, %v", token, got, err)
	}
}

func TestTokenHashRefusesMalformedTokens(t *testing.T) {
	good, _, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	swap := func(i int, c string) string { return good[:i] + c + good[i+1:] }
	for _, tc := range []struct {
		name, token string
	}{
		{"empty", ""},
		{"one char short", good[:42]},
		{"one char long", good + "A"},
		{"padded", good + "="},
		{"std alphabet plus", swap(5, "+")},
		{"std alphabet slash", swap(5, "/")},
		{"padding inside", swap(42, "=")},
		{"space", swap(20, " ")},
		{"dot", swap(0, ".")},
		{"newline", swap(42, "\n")},
		{"carriage return", swap(10, "\r")},
		{"NUL", swap(10, "\x00")},
		{"non-ASCII with the right byte length", good[:41] + "é"},
		{"with the scheme", "Bearer " + good[:36]},
		{"all spaces", strings.Repeat(" ", 43)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := auth.TokenHash(tc.token)
			if !errors.Is(err, auth.ErrUnauthenticated) || h != "" {
				t.Fatalf("TokenHash(%q) = %q, %v; want ErrUnauthenticated", tc.token, h, err)
			}
		})
	}
}
