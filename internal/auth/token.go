package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// tokenBytes is the session token's entropy: 256 bits.
const tokenBytes = 32

// tokenLen is the length of a token as clients hold it (unpadded base64url).
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// NewToken returns a fresh session token and the hash the store keeps.
func NewToken() (token, hash string, err error) {
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", "", fmt.Errorf("auth: token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	return token, hashToken(token), nil
}

// TokenHash checks a token's shape and returns its hash, the only form in
// which tokens are stored or looked up. A token of the wrong shape is
// refused without touching the store.
func TokenHash(token string) (string, error) {
	if len(token) != tokenLen {
		return "", ErrUnauthenticated
	}
	// The decoder skips '\r' and '\n', so check what it decoded too.
	if raw, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(raw) != tokenBytes {
		return "", ErrUnauthenticated
	}
	return hashToken(token), nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
