package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

func TestSignup(t *testing.T) {
	eachAdapter(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newClock()
		svc := newService(t, st, c)

		t.Run("accepted", func(t *testing.T) {
			for _, tc := range []struct {
				name, username, want, password string
			}{
				{"lower case", "alice", "alice", "password1"},
				{"mixed case is lowered", "BoB_99", "bob_99", "password1"},
				{"shortest name", "Abc", "abc", "password1"},
				{"longest name", strings.Repeat("Z", 32), strings.Repeat("z", 32), "password1"},
				{"password of 8 code points in 10 bytes", "carol", "carol", "pässwörd"},
				{"password of 128 code points", "dave", "dave", strings.Repeat("é", 128)},
			} {
				t.Run(tc.name, func(t *testing.T) {
					se, err := svc.Signup(ctx, tc.username, tc.password)
					if err != nil {
						t.Fatalf("Signup(%q): %v", tc.username, err)
					}
					if se.Username != tc.want {
						t.Fatalf("Username = %q, want %q", se.Username, tc.want)
					}
					if !tokenShape.MatchString(se.Token) {
						t.Fatalf("token %q is not 43 characters of base64url", se.Token)
					}
					if want := c.Now().Add(testTTL).Truncate(time.Second); !se.ExpiresAt.Equal(want) {
						t.Fatalf("ExpiresAt = %v, want %v", se.ExpiresAt, want)
					}
					// The session works at once.
					id, err := svc.Authenticate(ctx, se.Token)
					if err != nil || id.Username != tc.want {
						t.Fatalf("Authenticate(new token) = %+v, %v; want %s", id, err, tc.want)
					}
					// The account is stored under the lower-cased name with
					// a hash of the password, never the password itself.
					u, err := st.User(ctx, tc.want)
					if err != nil {
						t.Fatalf("stored user %s: %v", tc.want, err)
					}
					if strings.Contains(u.PasswordHash, tc.password) {
						t.Fatal("the stored hash contains the password")
					}
					if ok, err := auth.VerifyPassword(tc.password, u.PasswordHash); err != nil || !ok {
						t.Fatalf("stored hash does not verify the password: %v, %v", ok, err)
					}
					// Logging in with any case of the name works too.
					if _, err := svc.Login(ctx, strings.ToUpper(tc.username), tc.password, "198.51.100.1"); err != nil {
						t.Fatalf("Login after signup: %v", err)
					}
				})
			}
		})

		t.Run("refused", func(t *testing.T) {
			for _, tc := range []struct {
				name, username, password string
				code                     chat.Code
			}{
				{"empty username", "", "password1", chat.CodeInvalidUsername},
				{"username too short", "ab", "password1", chat.CodeInvalidUsername},
				{"username too long", strings.Repeat("a", 33), "password1", chat.CodeInvalidUsername},
				{"username with a space", "al ice", "password1", chat.CodeInvalidUsername},
				{"username with a dash", "al-ice", "password1", chat.CodeInvalidUsername},
				{"username with punctuation", "alice!", "password1", chat.CodeInvalidUsername},
				{"username not ASCII", "ålice", "password1", chat.CodeInvalidUsername},
				{"username with the Kelvin sign", "\u212aelvin", "password1", chat.CodeInvalidUsername},
				{"empty password", "erin", "", chat.CodeInvalidPassword},
				{"password of 7", "erin", "1234567", chat.CodeInvalidPassword},
				{"password of 7 code points in 14 bytes", "erin", strings.Repeat("é", 7), chat.CodeInvalidPassword},
				{"password of 129", "erin", strings.Repeat("x", 129), chat.CodeInvalidPassword},
				{"password with NUL", "erin", "pass\x00word", chat.CodeInvalidPassword},
				{"password not UTF-8", "erin", "password\xff", chat.CodeInvalidPassword},
				{"both bad: username first", "a", "x", chat.CodeInvalidUsername},
			} {
				t.Run(tc.name, func(t *testing.T) {
					se, err := svc.Signup(ctx, tc.username, tc.password)
					wantCode(t, err, tc.code)
					if se != (auth.Session{}) {
						t.Fatalf("refused signup returned a session: %+v", se)
					}
					if name, err := chat.NormalizeUsername(tc.username); err == nil {
						if _, err := st.User(ctx, name); !errors.Is(err, store.ErrNotFound) {
							t.Fatalf("after a refused signup, User(%s): %v; want ErrNotFound", name, err)
						}
					}
				})
			}
		})

		t.Run("username taken", func(t *testing.T) {
			if _, err := svc.Signup(ctx, "frank", "first password"); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"frank", "FRANK", "Frank"} {
				se, err := svc.Signup(ctx, name, "second password")
				if !errors.Is(err, chat.ErrUsernameTaken) {
					t.Fatalf("Signup(%q) again: %v; want username_taken", name, err)
				}
				wantCode(t, err, chat.CodeUsernameTaken)
				if se != (auth.Session{}) {
					t.Fatalf("refused signup returned a session: %+v", se)
				}
			}
			// The first account is untouched.
			if _, err := svc.Login(ctx, "frank", "first password", "198.51.100.1"); err != nil {
				t.Fatalf("login with the first password: %v", err)
			}
			if _, err := svc.Login(ctx, "frank", "second password", "198.51.100.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("login with the second password: %v; want invalid_credentials", err)
			}
		})
	})
}

func TestLogin(t *testing.T) {
	eachAdapter(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newClock()
		svc := newService(t, st, c)
		signup := func(name, pw string) auth.Session {
			t.Helper()
			se, err := svc.Signup(ctx, name, pw)
			if err != nil {
				t.Fatal(err)
			}
			return se
		}
		first := signup("alice", "alice's password")
		signup("bob", "bob's password")

		t.Run("success", func(t *testing.T) {
			for _, name := range []string{"alice", "ALICE", "aLiCe"} {
				se, err := svc.Login(ctx, name, "alice's password", "198.51.100.1")
				if err != nil {
					t.Fatalf("Login(%q): %v", name, err)
				}
				if se.Username != "alice" || se.Token == first.Token || !tokenShape.MatchString(se.Token) {
					t.Fatalf("Login(%q) = %+v", name, se)
				}
				if want := c.Now().Add(testTTL).Truncate(time.Second); !se.ExpiresAt.Equal(want) {
					t.Fatalf("ExpiresAt = %v, want %v", se.ExpiresAt, want)
				}
				id, err := svc.Authenticate(ctx, se.Token)
				if err != nil || id.Username != "alice" {
					t.Fatalf("Authenticate(login token) = %+v, %v", id, err)
				}
			}
			// Every session stays valid beside the new ones.
			if _, err := svc.Authenticate(ctx, first.Token); err != nil {
				t.Fatalf("signup token after logins: %v", err)
			}
		})

		t.Run("refused", func(t *testing.T) {
			for _, tc := range []struct {
				name, username, password string
			}{
				{"wrong password", "alice", "bob's password"},
				{"password of another case", "alice", "ALICE'S PASSWORD"},
				{"empty password", "alice", ""},
				{"unknown user", "zed", "alice's password"},
				{"malformed username", "a!", "alice's password"},
				{"empty username", "", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					// A new minute each time, so no case is rate limited.
					c.Advance(time.Minute)
					se, err := svc.Login(ctx, tc.username, tc.password, "198.51.100.1")
					if !errors.Is(err, auth.ErrInvalidCredentials) {
						t.Fatalf("Login(%q): %v; want invalid_credentials", tc.username, err)
					}
					// The same answer, word for word, whatever was wrong.
					if err.Error() != auth.ErrInvalidCredentials.Error() {
						t.Fatalf("error %q differs from %q", err, auth.ErrInvalidCredentials)
					}
					if se != (auth.Session{}) {
						t.Fatalf("refused login returned a session: %+v", se)
					}
				})
			}
		})

		t.Run("password hashed with other parameters", func(t *testing.T) {
			other := auth.Params{MemoryKiB: 128, Time: 2, Threads: 2, SaltLen: 8, KeyLen: 16}
			h := mustHash(t, "carol's password", other)
			if err := st.CreateUser(ctx, store.User{Username: "carol", PasswordHash: h, CreatedAt: c.Now()}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Login(ctx, "carol", "carol's password", "198.51.100.1"); err != nil {
				t.Fatalf("Login with a hash of other parameters: %v", err)
			}
		})

		t.Run("damaged stored hash", func(t *testing.T) {
			if err := st.CreateUser(ctx, store.User{Username: "dora", PasswordHash: "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", CreatedAt: c.Now()}); err != nil {
				t.Fatal(err)
			}
			_, err := svc.Login(ctx, "dora", "whatever password", "198.51.100.1")
			if err == nil || errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("Login against a damaged hash: %v; want an internal error", err)
			}
			if _, ok := chat.CodeOf(err); ok {
				t.Fatalf("Login against a damaged hash: %v carries a contract code; want an internal error", err)
			}
		})
	})
}

func TestLoginRateLimit(t *testing.T) {
	eachAdapter(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newClock()
		svc := newService(t, st, c)
		for _, u := range []string{"alice", "bob"} {
			if _, err := svc.Signup(ctx, u, u+"'s password"); err != nil {
				t.Fatal(err)
			}
		}
		const home, guesser, other, sprayer, junk = "192.0.2.1", "203.0.113.9", "203.0.113.10", "203.0.113.11", "203.0.113.12"
		login := func(name, pw, addr string) error {
			_, err := svc.Login(ctx, name, pw, addr)
			return err
		}
		steps := []struct {
			name, user, password, addr string
			want                       error
		}{
			{"a typo", "alice", "wrong password", home, auth.ErrInvalidCredentials},
			{"another typo", "alice", "wrong password", home, auth.ErrInvalidCredentials},
			{"then the right password", "alice", "alice's password", home, nil},
			{"a third failure from home", "ALICE", "wrong password", home, auth.ErrInvalidCredentials},
			{"home is now limited for alice", "alice", "alice's password", home, auth.ErrRateLimited},
			// alice has 3 failures this minute, all from home.
			{"the owner from an address that has not failed", "alice", "alice's password", other, nil},
			{"a guesser's first try elsewhere is checked", "alice", "guess", guesser, auth.ErrInvalidCredentials},
			{"its second is not: the name has failed too often", "alice", "alice's password", guesser, auth.ErrRateLimited},
			{"another name from the limited address", "bob", "bob's password", home, nil},
		}
		for _, s := range steps {
			if err := login(s.user, s.password, s.addr); !errors.Is(err, s.want) && (s.want != nil || err != nil) {
				t.Fatalf("%s: Login(%s from %s) = %v, want %v", s.name, s.user, s.addr, err, s.want)
			}
		}
		wantCode(t, login("alice", "alice's password", home), auth.CodeRateLimited)

		// One address guessing at many names: testMaxFailedPerAddress.
		for i := range testMaxFailedPerAddress {
			if err := login(fmt.Sprintf("ghost%d", i), "any password", sprayer); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("spray %d: %v", i+1, err)
			}
		}
		if err := login("bob", "bob's password", sprayer); !errors.Is(err, auth.ErrRateLimited) {
			t.Fatalf("after %d failures from one address: %v, want rate_limited", testMaxFailedPerAddress, err)
		}
		// Names that cannot exist count against the address too.
		for i := range testMaxFailedPerAddress {
			if err := login("not a name!", "any password", junk); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("junk name %d: %v", i+1, err)
			}
		}
		if err := login("bob", "bob's password", junk); !errors.Is(err, auth.ErrRateLimited) {
			t.Fatalf("after %d junk names from one address: %v, want rate_limited", testMaxFailedPerAddress, err)
		}

		// Still the same minute at its end, and the minute slides: just
		// after it turns, its failures still count. Once they are nearly
		// a minute behind, everyone is let in.
		c.Advance(58 * time.Second)
		if err := login("alice", "alice's password", home); !errors.Is(err, auth.ErrRateLimited) {
			t.Fatalf("at the end of the minute: %v, want rate_limited", err)
		}
		c.Advance(time.Second)
		if err := login("alice", "alice's password", home); !errors.Is(err, auth.ErrRateLimited) {
			t.Fatalf("just after the minute turned: %v, want rate_limited (the failures of a second ago count)", err)
		}
		c.Advance(59 * time.Second)
		for _, addr := range []string{home, guesser, sprayer, junk} {
			if err := login("alice", "alice's password", addr); err != nil {
				t.Fatalf("a minute later from %s: %v", addr, err)
			}
		}
	})
}

// TestConcurrentGuessesAreBounded: guesses sent all at once are counted
// before any is checked, so no more than the limit are checked.
func TestConcurrentGuessesAreBounded(t *testing.T) {
	eachAdapter(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newClock()
		cfg := testConfig(c)
		cfg.MaxFailedLogins, cfg.MaxFailedLoginsPerAddress = 10, 100
		svc, err := auth.NewService(st, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Signup(ctx, "alice", "alice's password"); err != nil {
			t.Fatal(err)
		}
		var checked, refused atomic.Int64
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				_, err := svc.Login(ctx, "alice", "wrong password", "203.0.113.9")
				switch {
				case errors.Is(err, auth.ErrInvalidCredentials):
					checked.Add(1)
				case errors.Is(err, auth.ErrRateLimited):
					refused.Add(1)
				default:
					t.Errorf("Login: %v", err)
				}
			})
		}
		wg.Wait()
		if checked.Load() != 10 || refused.Load() != 30 {
			t.Fatalf("40 guesses at once: %d checked, %d refused; want 10 and 30", checked.Load(), refused.Load())
		}
		if _, err := svc.Login(ctx, "alice", "alice's password", "192.0.2.1"); err != nil {
			t.Fatalf("the owner from home: %v", err)
		}
	})
}

// TestLoginUnknownUserDoesTheSameWork shows that an unknown user is not
// told apart from a wrong password by the work done: the same store calls
// in the same order, and a password check against the dummy hash.
func TestLoginUnknownUserDoesTheSameWork(t *testing.T) {
	eachAdapter(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newClock()
		rec := &recorder{Store: st}
		svc := newService(t, rec, c)
		if _, err := svc.Signup(ctx, "alice", "alice's password"); err != nil {
			t.Fatal(err)
		}
		rec.take()

		if _, err := svc.Login(ctx, "alice", "wrong password", "198.51.100.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		wrongPassword := rec.take()
		if _, err := svc.Login(ctx, "ghost", "wrong password", "198.51.100.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		unknownUser := rec.take()
		// Per counter: this minute's count, its successes, and the minute
		// before's count and successes (the window slides).
		counter := []string{"IncrementCounter", "Counter", "Counter", "Counter"}
		if want := slices.Concat(counter, counter, []string{"User", "IncrementCounter"}); !slices.Equal(wrongPassword, want) {
			t.Fatalf("wrong password made store calls %v, want %v", wrongPassword, want)
		}
		if !slices.Equal(unknownUser, wrongPassword) {
			t.Fatalf("unknown user made store calls %v, wrong password %v: they must match", unknownUser, wrongPassword)
		}

		// With a dummy hash that cannot be parsed, an unknown user's login
		// fails on it: proof that the password is checked against it.
		auth.SetDummyHash(svc, "$argon2id$not-a-hash")
		_, err := svc.Login(ctx, "ghost", "wrong password", "198.51.100.1")
		if err == nil || errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("unknown user with a broken dummy hash: %v; want the hash's error", err)
		}
		// A known user's own hash is still the one checked.
		if _, err := svc.Login(ctx, "alice", "alice's password", "198.51.100.1"); err != nil {
			t.Fatalf("known user with a broken dummy hash: %v", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	eachAdapter(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newClock()
		svc := newService(t, st, c)
		se, err := svc.Signup(ctx, "alice", "alice's password")
		if err != nil {
			t.Fatal(err)
		}
		tok := se.Token
		unknown, _, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		wantHash, _ := auth.TokenHash(tok)

		t.Run("header", func(t *testing.T) {
			for _, tc := range []struct {
				name, header string
				ok           bool
			}{
				{"Bearer", "Bearer " + tok, true},
				{"lower-case scheme", "bearer " + tok, true},
				{"upper-case scheme", "BEARER " + tok, true},
				{"extra spaces before the token", "Bearer   " + tok, true},
				{"trailing space", "Bearer " + tok + " ", true},
				{"missing", "", false},
				{"scheme only", "Bearer", false},
				{"scheme and space only", "Bearer ", false},
				{"token without scheme", tok, false},
				{"Basic x", "Basic x", false},
				{"Basic with the token", "Basic " + tok, false},
				{"other scheme", "Token " + tok, false},
				{"scheme glued to the token", "Bearer" + tok, false},
				{"tab instead of space", "Bearer\t" + tok, false},
				{"leading space", " Bearer " + tok, false},
				{"unknown token", "Bearer " + unknown, false},
				{"truncated token", "Bearer " + tok[:42], false},
				{"token twice", "Bearer " + tok + " " + tok, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					id, err := svc.AuthenticateHeader(ctx, tc.header)
					if tc.ok {
						if err != nil || id.Username != "alice" || id.TokenHash != wantHash {
							t.Fatalf("AuthenticateHeader(%q) = %+v, %v; want alice", tc.header, id, err)
						}
						return
					}
					if !errors.Is(err, auth.ErrUnauthenticated) || id != (auth.Identity{}) {
						t.Fatalf("AuthenticateHeader(%q) = %+v, %v; want unauthenticated", tc.header, id, err)
					}
					wantCode(t, err, auth.CodeUnauthenticated)
				})
			}
		})

		t.Run("token", func(t *testing.T) {
			for _, tc := range []struct {
				name, token string
				ok          bool
			}{
				{"valid", tok, true},
				{"empty", "", false},
				{"unknown", unknown, false},
				{"wrong length", tok + "A", false},
				{"bad character", "*" + tok[1:], false},
				{"the hash instead of the token", wantHash, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					id, err := svc.Authenticate(ctx, tc.token)
					if tc.ok != (err == nil) || tc.ok && id.Username != "alice" {
						t.Fatalf("Authenticate(%q) = %+v, %v; want ok=%v", tc.token, id, err, tc.ok)
					}
					if !tc.ok && !errors.Is(err, auth.ErrUnauthenticated) {
						t.Fatalf("Authenticate(%q): %v; want unauthenticated", tc.token, err)
					}
				})
			}
		})

		t.Run("expiry", func(t *testing.T) {
			c := newClock()
			svc := newService(t, st, c)
			se, err := svc.Login(ctx, "alice", "alice's password", "198.51.100.1")
			if err != nil {
				t.Fatal(err)
			}
			c.Advance(se.ExpiresAt.Sub(c.Now()) - time.Nanosecond)
			if _, err := svc.Authenticate(ctx, se.Token); err != nil {
				t.Fatalf("just before expiry: %v", err)
			}
			c.Advance(time.Nanosecond)
			if _, err := svc.Authenticate(ctx, se.Token); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("at expiry: %v; want unauthenticated", err)
			}
			if _, err := svc.AuthenticateHeader(ctx, "Bearer "+se.Token); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("header at expiry: %v; want unauthenticated", err)
			}
		})

		t.Run("logout revokes at once", func(t *testing.T) {
			a, err := svc.Login(ctx, "alice", "alice's password", "198.51.100.1")
			if err != nil {
				t.Fatal(err)
			}
			b, err := svc.Login(ctx, "alice", "alice's password", "198.51.100.1")
			if err != nil {
				t.Fatal(err)
			}
			id, err := svc.AuthenticateHeader(ctx, "Bearer "+a.Token)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Logout(ctx, id); err != nil {
				t.Fatalf("Logout: %v", err)
			}
			if _, err := svc.Authenticate(ctx, a.Token); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("token after logout: %v; want unauthenticated", err)
			}
			hash, _ := auth.TokenHash(a.Token)
			if _, err := st.Session(ctx, hash); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("stored session after logout: %v; want ErrNotFound", err)
			}
			// Only that session ends.
			if _, err := svc.Authenticate(ctx, b.Token); err != nil {
				t.Fatalf("another session after logout: %v", err)
			}
			// Logging out again is harmless.
			if err := svc.Logout(ctx, id); err != nil {
				t.Fatalf("second Logout: %v", err)
			}
		})

		t.Run("store failure is not unauthenticated", func(t *testing.T) {
			rec := &recorder{Store: st, sessionErr: errOutage}
			svc := newService(t, rec, c)
			_, err := svc.Authenticate(ctx, tok)
			if !errors.Is(err, errOutage) || errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("Authenticate with the store down: %v; want the store's error", err)
			}
			// A malformed token is refused without asking the store.
			rec.take()
			if _, err := svc.Authenticate(ctx, "short"); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatal(err)
			}
			if calls := rec.take(); len(calls) != 0 {
				t.Fatalf("a malformed token made store calls %v", calls)
			}
		})
	})
}

func TestNewService(t *testing.T) {
	st := adapters[0].Open(t)
	logger := slog.New(slog.DiscardHandler)
	c := newClock()
	with := func(change func(*auth.Config)) auth.Config {
		cfg := testConfig(c)
		change(&cfg)
		return cfg
	}
	params := func(change func(*auth.Params)) auth.Config {
		return with(func(cfg *auth.Config) { change(&cfg.Params) })
	}
	for _, tc := range []struct {
		name   string
		store  auth.Store
		cfg    auth.Config
		logger *slog.Logger
		ok     bool
	}{
		{"valid", st, testConfig(c), logger, true},
		{"nil store", nil, testConfig(c), logger, false},
		{"nil logger", st, testConfig(c), nil, false},
		{"nil clock", st, with(func(cfg *auth.Config) { cfg.Now = nil }), logger, false},
		{"zero TTL", st, with(func(cfg *auth.Config) { cfg.SessionTTL = 0 }), logger, false},
		{"negative TTL", st, with(func(cfg *auth.Config) { cfg.SessionTTL = -time.Hour }), logger, false},
		{"no failed-login limit", st, with(func(cfg *auth.Config) { cfg.MaxFailedLogins = 0 }), logger, false},
		{"zero params", st, with(func(cfg *auth.Config) { cfg.Params = auth.Params{} }), logger, false},
		{"zero memory", st, params(func(p *auth.Params) { p.MemoryKiB = 0 }), logger, false},
		{"zero passes", st, params(func(p *auth.Params) { p.Time = 0 }), logger, false},
		{"zero lanes", st, params(func(p *auth.Params) { p.Threads = 0 }), logger, false},
		{"salt of 7 bytes", st, params(func(p *auth.Params) { p.SaltLen = 7 }), logger, false},
		{"key of 15 bytes", st, params(func(p *auth.Params) { p.KeyLen = 15 }), logger, false},
		{"salt of 8 and key of 16 bytes", st, params(func(p *auth.Params) { p.SaltLen, p.KeyLen = 8, 16 }), logger, true},
		// Parameters VerifyPassword would refuse would lock everyone out.
		{"key of 65 bytes", st, params(func(p *auth.Params) { p.KeyLen = 65 }), logger, false},
		{"17 passes", st, params(func(p *auth.Params) { p.Time = 17 }), logger, false},
		{"memory over the bound", st, params(func(p *auth.Params) { p.MemoryKiB = auth.MaxMemoryKiB + 1 }), logger, false},
		{"everything missing", nil, auth.Config{}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, err := auth.NewService(tc.store, tc.cfg, tc.logger)
			if tc.ok != (err == nil) || tc.ok != (svc != nil) {
				t.Fatalf("NewService = %v, %v; want ok=%v", svc, err, tc.ok)
			}
			if !tc.ok {
				return
			}
			// A service that was accepted can sign up and log in.
			name := strings.ReplaceAll(strings.ToLower(tc.name), " ", "_")[:5] + "_user"
			if _, err := svc.Signup(context.Background(), name, "a password"); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Login(context.Background(), name, "a password", "198.51.100.1"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHashingIsBounded: with every hashing slot busy and the waiting
// places taken, signups and logins answer rate_limited instead of queueing
// (each hash holds 19 MiB); once the burst is over they go through.
func TestHashingIsBounded(t *testing.T) {
	s := newService(t, adapters[0].Open(t), newClock())
	ctx := context.Background()
	release := auth.FillHashQueue(s)
	_, err := s.Signup(ctx, "alice", "password1")
	wantCode(t, err, auth.CodeRateLimited)
	_, err = s.Login(ctx, "alice", "password1", "198.51.100.1")
	wantCode(t, err, auth.CodeRateLimited)
	release()
	if _, err := s.Signup(ctx, "alice", "password1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "alice", "password1", "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
}

func TestTickets(t *testing.T) {
	eachAdapter(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newClock()
		svc := newService(t, st, c)
		se, err := svc.Signup(ctx, "alice", "alice's password")
		if err != nil {
			t.Fatal(err)
		}
		id, err := svc.Authenticate(ctx, se.Token)
		if err != nil {
			t.Fatal(err)
		}
		issue := func() auth.Ticket {
			t.Helper()
			tk, err := svc.IssueTicket(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return tk
		}

		tk := issue()
		if tk.Value == se.Token || !tk.ExpiresAt.Equal(c.Now().UTC().Add(auth.TicketTTL).Truncate(time.Second)) {
			t.Fatalf("ticket %+v", tk)
		}
		got, err := svc.RedeemTicket(ctx, tk.Value)
		if err != nil || got != id {
			t.Fatalf("RedeemTicket = %+v, %v; want %+v", got, err, id)
		}
		if _, err := svc.RedeemTicket(ctx, tk.Value); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("a used ticket: %v, want unauthenticated", err)
		}

		late := issue()
		c.Advance(auth.TicketTTL)
		if _, err := svc.RedeemTicket(ctx, late.Value); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("an expired ticket: %v, want unauthenticated", err)
		}

		for _, bad := range []string{"", "x", se.Token, strings.Repeat("A", len(se.Token))} {
			if _, err := svc.RedeemTicket(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("RedeemTicket(%q): %v, want unauthenticated", bad, err)
			}
		}

		orphan := issue()
		if err := svc.Logout(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RedeemTicket(ctx, orphan.Value); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("a ticket of an ended session: %v, want unauthenticated", err)
		}
	})
}

func TestTicketsAreRateLimited(t *testing.T) {
	eachAdapter(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newClock()
		svc := newService(t, st, c)
		se, err := svc.Signup(ctx, "alice", "alice's password")
		if err != nil {
			t.Fatal(err)
		}
		id, err := svc.Authenticate(ctx, se.Token)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			if _, err := svc.IssueTicket(ctx, id); err != nil {
				t.Fatalf("ticket %d: %v", i+1, err)
			}
		}
		_, err = svc.IssueTicket(ctx, id)
		wantCode(t, err, auth.CodeRateLimited)
		c.Advance(time.Minute)
		if _, err := svc.IssueTicket(ctx, id); err != nil {
			t.Fatalf("in the next minute: %v", err)
		}
	})
}

// TestLoginLimitHoldsAcrossTheMinute: guesses sent either side of the
// turn of a minute get the limit once, not once per minute.
func TestLoginLimitHoldsAcrossTheMinute(t *testing.T) {
	eachAdapter(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newClock()
		svc := newService(t, st, c)
		if _, err := svc.Signup(ctx, "alice", "alice's password"); err != nil {
			t.Fatal(err)
		}
		// To two seconds before the minute turns.
		now := c.Now()
		c.Advance(now.Truncate(time.Minute).Add(time.Minute - 2*time.Second).Sub(now))
		const guesser = "203.0.113.9"
		for i := range testMaxFailed {
			if _, err := svc.Login(ctx, "alice", "wrong", guesser); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("guess %d before the turn: %v", i+1, err)
			}
		}
		c.Advance(3 * time.Second)
		if _, err := svc.Login(ctx, "alice", "wrong", guesser); !errors.Is(err, auth.ErrRateLimited) {
			t.Fatalf("a guess just after the minute turned: %v, want rate_limited", err)
		}
	})
}
