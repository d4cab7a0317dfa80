package auth_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/chatroom/chat/internal/auth"
)

var rawStd = base64.RawStdEncoding

// phc encodes a hash the way the PHC string format does, independently of
// the code under test, computing the key with argon2id directly.
func phc(password string, m, t uint32, p uint8, salt []byte, keyLen uint32) string {
	key := argon2.IDKey([]byte(password), salt, t, m, p, keyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p, rawStd.EncodeToString(salt), rawStd.EncodeToString(key))
}

func mustHash(t *testing.T, password string, p auth.Params) string {
	t.Helper()
	h, err := auth.HashPassword(password, p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, password, wrong string
	}{
		{"ascii", "correct horse battery", "correct horse battery!"},
		{"case matters", "Secret-Passw0rd", "secret-passw0rd"},
		{"unicode", "pässwörd-日本語", "passwörd-日本語"},
		{"prefix is not enough", "abcdefghijkl", "abcdefghijk"},
		{"longest", strings.Repeat("x", 128), strings.Repeat("x", 127)},
		{"trailing space counts", "password ", "password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := mustHash(t, tc.password, cheap)
			if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(h, want) {
				t.Fatalf("hash %q does not start with %q", h, want)
			}
			parts := strings.Split(h, "$")
			if salt, err := rawStd.DecodeString(parts[4]); err != nil || len(salt) != int(cheap.SaltLen) {
				t.Fatalf("salt %q: %d bytes, %v; want %d bytes", parts[4], len(salt), err, cheap.SaltLen)
			}
			if key, err := rawStd.DecodeString(parts[5]); err != nil || len(key) != int(cheap.KeyLen) {
				t.Fatalf("key %q: %d bytes, %v; want %d bytes", parts[5], len(key), err, cheap.KeyLen)
			}
			if ok, err := auth.VerifyPassword(tc.password, h); err != nil || !ok {
				t.Fatalf("VerifyPassword(right password) = %v, %v; want true, nil", ok, err)
			}
			if ok, err := auth.VerifyPassword(tc.wrong, h); err != nil || ok {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want false, nil", tc.wrong, ok, err)
			}
			// A fresh salt each time: the same password never hashes the same.
			if h2 := mustHash(t, tc.password, cheap); h2 == h {
				t.Fatalf("two hashes of the same password are equal: %s", h)
			}
		})
	}
}

// TestVerifyReadsParamsFromHash checks that the parameters come from the
// stored string, not from anything the verifier was configured with: hashes
// made with other parameters, or by another encoder, still verify.
func TestVerifyReadsParamsFromHash(t *testing.T) {
	const pw = "open sesame"
	salt8 := []byte("12345678")
	salt32 := []byte("0123456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		name string
		hash string
	}{
		{"more memory", mustHash(t, pw, auth.Params{MemoryKiB: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})},
		{"more passes and lanes", mustHash(t, pw, auth.Params{MemoryKiB: 128, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32})},
		{"short salt and key", mustHash(t, pw, auth.Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 16})},
		{"long salt and key", mustHash(t, pw, auth.Params{MemoryKiB: 64, Time: 2, Threads: 2, SaltLen: 32, KeyLen: 64})},
		{"independent encoder", phc(pw, 96, 2, 3, salt32, 24)},
		{"smallest salt and key accepted", phc(pw, 64, 1, 1, salt8, 16)},
		{"most passes accepted", phc(pw, 64, 16, 1, salt8, 32)},
		{"largest key accepted", phc(pw, 64, 1, 1, salt8, 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ok, err := auth.VerifyPassword(pw, tc.hash); err != nil || !ok {
				t.Fatalf("VerifyPassword(right password, %s) = %v, %v; want true, nil", tc.hash, ok, err)
			}
			if ok, err := auth.VerifyPassword(pw+".", tc.hash); err != nil || ok {
				t.Fatalf("VerifyPassword(wrong password, %s) = %v, %v; want false, nil", tc.hash, ok, err)
			}
		})
	}
}

// TestDefaultParams is the one test that pays for the production cost.
func TestDefaultParams(t *testing.T) {
	const pw = "a reasonable passphrase"
	h := mustHash(t, pw, auth.DefaultParams)
	want := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", auth.DefaultParams.MemoryKiB, auth.DefaultParams.Time, auth.DefaultParams.Threads)
	if !strings.HasPrefix(h, want) {
		t.Fatalf("hash %q does not start with %q", h, want)
	}
	if auth.DefaultParams.MemoryKiB < 19*1024 || auth.DefaultParams.Time < 2 {
		t.Fatalf("DefaultParams %+v are below OWASP's minimum for argon2id (19 MiB, t=2)", auth.DefaultParams)
	}
	if ok, err := auth.VerifyPassword(pw, h); err != nil || !ok {
		t.Fatalf("VerifyPassword(right password) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := auth.VerifyPassword("a reasonable passphrasE", h); err != nil || ok {
		t.Fatalf("VerifyPassword(wrong password) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyRefusesMalformedHashes(t *testing.T) {
	const pw = "open sesame"
	valid := mustHash(t, pw, cheap)
	parts := strings.Split(valid, "$") // "", argon2id, v=19, m=..., salt, key
	with := func(i int, s string) string {
		p := append([]string(nil), parts...)
		p[i] = s
		return strings.Join(p, "$")
	}
	salt, key := parts[4], parts[5]
	b64 := func(n int) string { return rawStd.EncodeToString(make([]byte, n)) }

	for _, tc := range []struct {
		name string
		hash string
	}{
		{"empty", ""},
		{"plain text", "not a hash"},
		{"only dollars", "$$$$$"},
		{"no leading dollar", strings.TrimPrefix(valid, "$")},
		{"text before the first dollar", "x" + valid},
		{"too few fields", strings.Join(parts[:5], "$")},
		{"too many fields", valid + "$extra"},
		{"trailing dollar", valid + "$"},
		{"argon2i", with(1, "argon2i")},
		{"argon2d", with(1, "argon2d")},
		{"algorithm in capitals", with(1, "ARGON2ID")},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"version 16", with(2, "v=16")},
		{"no version", with(2, "")},
		{"version not a number", with(2, "v=x")},
		{"version with trailing junk", with(2, "v=19x")},
		{"version with leading zero", with(2, "v=019")},
		{"version field missing its name", with(2, "19")},
		{"params empty", with(3, "")},
		{"params missing p", with(3, "m=64,t=1")},
		{"params out of order", with(3, "t=1,m=64,p=1")},
		{"params with trailing junk", with(3, "m=64,t=1,p=1,x=2")},
		{"params with a space", with(3, "m= 64,t=1,p=1")},
		{"params with leading zero", with(3, "m=064,t=1,p=1")},
		{"params in hex", with(3, "m=0x40,t=1,p=1")},
		{"negative memory", with(3, "m=-64,t=1,p=1")},
		{"zero memory", with(3, "m=0,t=1,p=1")},
		{"zero passes", with(3, "m=64,t=0,p=1")},
		{"zero lanes", with(3, "m=64,t=1,p=0")},
		{"too many passes", with(3, "m=64,t=17,p=1")},
		{"lanes overflow a byte", with(3, "m=64,t=1,p=256")},
		{"memory overflows 32 bits", with(3, "m=99999999999,t=1,p=1")},
		{"absurd memory: 4 GiB", with(3, "m=4194304,t=1,p=1")},
		{"absurd memory: just over the bound", with(3, fmt.Sprintf("m=%d,t=1,p=1", auth.MaxMemoryKiB+1))},
		{"absurd memory: largest uint32", with(3, "m=4294967295,t=1,p=1")},
		{"salt empty", with(4, "")},
		{"salt not base64", with(4, "!!!!salt!!!!")},
		{"salt padded", with(4, rawStd.EncodeToString([]byte("saltsalt1"))+"=")},
		{"salt in base64url alphabet", with(4, strings.Repeat("_-", 8))},
		{"salt too short", with(4, b64(7))},
		{"salt impossible length", with(4, salt[:len(salt)-len(salt)%4]+"A")},
		{"key empty", with(5, "")},
		{"key not base64", with(5, "key*key*key*key*key*key")},
		{"key padded", with(5, key+"==")},
		{"key too short", with(5, b64(15))},
		{"key too long", with(5, b64(65))},
		{"key with a space", with(5, key[:10]+" "+key[10:])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("VerifyPassword(%q) panicked: %v", tc.hash, p)
				}
			}()
			ok, err := auth.VerifyPassword(pw, tc.hash)
			if err == nil || ok {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want false and an error", tc.hash, ok, err)
			}
		})
	}
	// The cases above differ from a valid hash in one field only.
	if ok, err := auth.VerifyPassword(pw, valid); err != nil || !ok {
		t.Fatalf("the unchanged hash: %v, %v", ok, err)
	}
}
