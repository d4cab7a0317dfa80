package auth

// Fuzz targets for what auth reads from outside: bearer tokens (TokenHash),
// the Authorization header (AuthenticateHeader) and password hashes read
// back from the store (VerifyPassword, decodeHash). They live in package
// auth to reach decodeHash. The seed corpora are under testdata/fuzz/.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/boltstore"
	"github.com/chatroom/chat/internal/testkit"
)

var fzCheap = Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

var (
	fzTokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	fzHashRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// fzToken is a fixed, well-formed token for the seeds.
const fzToken = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA"

func FuzzTokenHash(f *testing.F) {
	for _, s := range []string{
		fzToken, fzToken[:42], fzToken + "A", fzToken[:42] + "B", // B: non-zero trailing bits
		fzToken[:42] + "=", fzToken[:41] + "==", fzToken[:21] + "\n" + fzToken[22:], fzToken[:42] + "\r",
		"\r\n" + fzToken[:41], fzToken[:20] + "+" + fzToken[21:], fzToken[:20] + "/" + fzToken[21:],
		fzToken[:20] + "\x00" + fzToken[21:], fzToken[:40] + "é", "", strings.Repeat("A", 43), strings.Repeat("_", 43),
		" " + fzToken[:42], strings.Repeat("\xff", 43),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		hash, err := TokenHash(token)
		// The oracle: exactly the 43-character base64url strings, which
		// (unpadded) always decode to 32 bytes.
		want := fzTokenRE.MatchString(token)
		if (err == nil) != want {
			t.Fatalf("TokenHash(%q) = %q, %v; want ok=%v", token, hash, err, want)
		}
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) || hash != "" {
				t.Fatalf("TokenHash(%q) = %q, %v; want \"\", ErrUnauthenticated", token, hash, err)
			}
			return
		}
		if !fzHashRE.MatchString(hash) {
			t.Fatalf("TokenHash(%q) = %q, not 64 hex digits", token, hash)
		}
		sum := sha256.Sum256([]byte(token))
		if hash != hex.EncodeToString(sum[:]) {
			t.Fatalf("TokenHash(%q) = %q, not the SHA-256 of the token", token, hash)
		}
	})
}

// fzStore is a bbolt store that records which session hashes were asked
// for.
type fzStore struct {
	*boltstore.Store
	mu     sync.Mutex
	lookup []string
}

func (s *fzStore) Session(ctx context.Context, tokenHash string) (store.Session, error) {
	s.mu.Lock()
	s.lookup = append(s.lookup, tokenHash)
	s.mu.Unlock()
	return s.Store.Session(ctx, tokenHash)
}

// FuzzAuthenticateHeader reads Authorization headers against a store with
// one live session. "@TOKEN@" in the input stands for that session's token
// and "@EXPIRED@" for an expired one's.
func FuzzAuthenticateHeader(f *testing.F) {
	bs, err := boltstore.Open(filepath.Join(testkit.ScratchDir(f), "chat.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { bs.Close() })
	st := &fzStore{Store: bs}
	now := time.Now().UTC()
	cfg := Config{Params: fzCheap, SessionTTL: time.Hour, MaxFailedLogins: 10, MaxFailedLoginsPerAddress: 30, MaxTicketsPerMinute: 60, Now: func() time.Time { return now }}
	s, err := NewService(st, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Signup(ctx, "alice", "correct horse"); err != nil {
		f.Fatal(err)
	}
	live, err := s.Login(ctx, "alice", "correct horse", "198.51.100.1")
	if err != nil {
		f.Fatal(err)
	}
	expiredToken, expiredHash, err := NewToken()
	if err != nil {
		f.Fatal(err)
	}
	if err := st.CreateSession(ctx, store.Session{TokenHash: expiredHash, Username: "alice", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}); err != nil {
		f.Fatal(err)
	}
	for _, h := range []string{
		"Bearer @TOKEN@", "bearer @TOKEN@", "BEARER @TOKEN@", "Bearer  @TOKEN@", "Bearer @TOKEN@ ", "Bearer @TOKEN@\r\n",
		"Bearer\t@TOKEN@", "Bearer @TOKEN@\x00", "Bearer @TOKEN@x", "Bearer @TOKEN@ @TOKEN@", "Bearer @EXPIRED@",
		"Basic @TOKEN@", "@TOKEN@", "", " ", "Bearer", "Bearer ", "Bearer " + fzToken, "Bearer \r\n@TOKEN@",
		"Bearer " + strings.Repeat("A", 1<<16), "B\u0435arer @TOKEN@", "Ｂearer @TOKEN@", "Bearer\u00a0@TOKEN@",
		"Bearer @TOKEN@\n\n", "\xff\xfe @TOKEN@",
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		header = strings.ReplaceAll(header, "@TOKEN@", live.Token)
		header = strings.ReplaceAll(header, "@EXPIRED@", expiredToken)
		st.mu.Lock()
		st.lookup = st.lookup[:0]
		st.mu.Unlock()
		id, err := s.AuthenticateHeader(ctx, header)
		st.mu.Lock()
		lookups := append([]string(nil), st.lookup...)
		st.mu.Unlock()
		for _, h := range lookups {
			if !fzHashRE.MatchString(h) {
				t.Fatalf("the store was asked for session %q", h)
			}
		}
		scheme, rest, _ := strings.Cut(header, " ")
		wantOK := strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(rest) == live.Token
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("AuthenticateHeader(%q) = %v, want only unauthenticated", header, err)
			}
			if wantOK {
				t.Fatalf("AuthenticateHeader(%q) refused the live token: %v", header, err)
			}
			if id != (Identity{}) {
				t.Fatalf("AuthenticateHeader(%q) = %+v with an error", header, id)
			}
			return
		}
		if !wantOK {
			t.Fatalf("AuthenticateHeader(%q) = %+v, want it refused", header, id)
		}
		if id.Username != "alice" || id.TokenHash != hashToken(live.Token) {
			t.Fatalf("AuthenticateHeader(%q) = %+v, want alice's session", header, id)
		}
	})
}

// FuzzVerifyPassword checks a password against hashes as the store could
// hold them, damaged or hostile. A hash decodeHash accepts has bounded
// costs; VerifyPassword fails exactly when decodeHash does; and a hash
// made by HashPassword always verifies its own password and no other.
func FuzzVerifyPassword(f *testing.F) {
	good, err := HashPassword("correct horse", fzCheap)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	phc := func(v, params, salt, key string) string {
		return "$argon2id$" + v + "$" + params + "$" + salt + "$" + key
	}
	for _, enc := range []string{
		good,
		phc("v=19", "m=64,t=1,p=1", salt, key),
		phc("v=19", fmt.Sprintf("m=%d,t=1,p=1", maxMemoryKiB), salt, key),
		phc("v=19", fmt.Sprintf("m=%d,t=1,p=1", maxMemoryKiB+1), salt, key),
		phc("v=19", "m=64,t=16,p=1", salt, key),
		phc("v=19", "m=64,t=17,p=1", salt, key),
		phc("v=19", "m=64,t=1,p=255", salt, key),
		phc("v=19", "m=64,t=1,p=256", salt, key),
		phc("v=19", "m=0,t=1,p=1", salt, key),
		phc("v=19", "m=64,t=0,p=1", salt, key),
		phc("v=19", "m=64,t=1,p=0", salt, key),
		phc("v=19", "m=-64,t=1,p=1", salt, key),
		phc("v=19", "m=+64,t=1,p=1", salt, key),
		phc("v=19", "m=064,t=1,p=1", salt, key),
		phc("v=19", "m= 64,t=1,p=1", salt, key),
		phc("v=19", "m=64,t=1,p=1,x=1", salt, key),
		phc("v=19", "m=99999999999999999999999,t=1,p=1", salt, key),
		phc("v=19", "m=4294967296,t=1,p=1", salt, key),
		phc("v=16", "m=64,t=1,p=1", salt, key),
		phc("v=19", "m=64,t=1,p=1", "c2FsdA", key),
		phc("v=19", "m=64,t=1,p=1", salt, key[:20]),
		phc("v=19", "m=64,t=1,p=1", salt, strings.Repeat(key, 3)),
		phc("v=19", "m=64,t=1,p=1", salt[:10]+"\r\n"+salt[10:], key),
		phc("v=19", "m=64,t=1,p=1", salt+"==", key),
		phc("v=19", "m=64,t=1,p=1", salt, key+"\x00"),
		strings.Replace(good, "argon2id", "argon2i", 1),
		good + "$", "$" + good, "", "$$$$$", strings.Repeat("$argon2id", 1000),
	} {
		f.Add("correct horse", enc)
		f.Add("wrong horse", enc)
	}
	f.Add("\x00\xff", good)
	f.Fuzz(func(t *testing.T, password, encoded string) {
		p, s, k, err := decodeHash(encoded)
		if err == nil {
			if p.MemoryKiB == 0 || p.MemoryKiB > maxMemoryKiB || p.Time == 0 || p.Time > maxTime || p.Threads == 0 {
				t.Fatalf("decodeHash(%q) accepted costs %+v", encoded, p)
			}
			if len(s) < 8 || len(k) < 16 || len(k) > maxKeyLen {
				t.Fatalf("decodeHash(%q) accepted salt of %d and key of %d bytes", encoded, len(s), len(k))
			}
			if got := strings.Split(encoded, "$")[3]; got != fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Time, p.Threads) {
				t.Fatalf("decodeHash(%q) read %q as %+v", encoded, got, p)
			}
		}
		// Verifying is only affordable for cheap hashes; argon2 takes at
		// least 8 KiB per lane.
		if err == nil && max(p.MemoryKiB, 8*uint32(p.Threads))*p.Time <= 4096 {
			if _, verr := VerifyPassword(password, encoded); verr != nil {
				t.Fatalf("VerifyPassword(%q) = %v after decodeHash accepted it", encoded, verr)
			}
		} else if err != nil {
			if ok, verr := VerifyPassword(password, encoded); verr == nil || ok {
				t.Fatalf("VerifyPassword(%q) = %v, %v after decodeHash refused it (%v)", encoded, ok, verr, err)
			}
		}
		if len(password) > 256 {
			return
		}
		own, err := HashPassword(password, fzCheap)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := VerifyPassword(password, own); !ok || err != nil {
			t.Fatalf("VerifyPassword(%q, its own hash) = %v, %v", password, ok, err)
		}
		if ok, err := VerifyPassword(password+"x", own); ok || err != nil {
			t.Fatalf("VerifyPassword(another password) = %v, %v", ok, err)
		}
	})
}
