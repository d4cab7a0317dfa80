// Package auth is accounts and sessions: sign up, log in, log out, and
// turning a bearer token back into a username.
//
// Passwords are hashed with argon2id, parameters stored beside each hash.
// A session token is 256 random bits that only its holder knows; the store
// keeps its SHA-256, so a leaked table holds no usable token. Failed logins
// are counted per username in the store, so the limit holds across every
// Lambda instance.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// Codes of the contract that auth produces, beside the domain's.
const (
	CodeUnauthenticated    chat.Code = "unauthenticated"
	CodeInvalidCredentials chat.Code = "invalid_credentials"
	CodeRateLimited        chat.Code = "rate_limited"
)

// Errors, compared with errors.Is.
var (
	ErrUnauthenticated    = &chat.Error{Code: CodeUnauthenticated, Message: "a valid bearer token is required"}
	ErrInvalidCredentials = &chat.Error{Code: CodeInvalidCredentials, Message: "wrong username or password"}
	ErrRateLimited        = &chat.Error{Code: CodeRateLimited, Message: "too many failed logins for this username; try again in a minute"}
	// ErrBusy refuses a signup or login while too many are waiting to hash.
	ErrBusy = &chat.Error{Code: CodeRateLimited, Message: "too many sign-ins at once; try again in a moment"}
)

// Store is what auth needs of the store.
type Store interface {
	CreateUser(ctx context.Context, u store.User) error
	User(ctx context.Context, username string) (store.User, error)
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, tokenHash string) (store.Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	IncrementCounter(ctx context.Context, name string, expiresAt time.Time) (int64, error)
	Counter(ctx context.Context, name string) (int64, error)
}

// Config holds the service's settings.
type Config struct {
	Params     Params
	SessionTTL time.Duration
	// MaxFailedLogins is how many failed logins a username may have in a
	// minute before logins for it answer rate_limited.
	MaxFailedLogins int64
	Now             func() time.Time
}

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{Params: DefaultParams, SessionTTL: 7 * 24 * time.Hour, MaxFailedLogins: 10, Now: time.Now}
}

// Service signs people up and in.
type Service struct {
	store  Store
	cfg    Config
	logger *slog.Logger
	// dummyHash is verified against when the username is unknown, so an
	// unknown user costs the same time as a wrong password. It is made on
	// first need: hashing at start-up would add tens of milliseconds to
	// every function's cold start, most of which never log anyone in.
	dummyOnce sync.Once
	dummyHash string
	dummyErr  error
	// hashing holds a slot per argon2id hash under way: each takes the
	// parameters' memory (19 MiB by default) and a core for tens of
	// milliseconds, so more at once than there are cores only adds memory.
	// hashWaiters counts those waiting for a slot; past maxHashWaiters a
	// signup or login answers rate_limited instead of queueing.
	hashing     chan struct{}
	hashWaiters atomic.Int64
}

// maxHashWaiters bounds the signups and logins queued for a hashing slot.
const maxHashWaiters = 64

// withHashSlot runs hash once a slot is free.
func (s *Service) withHashSlot(ctx context.Context, hash func()) error {
	select {
	case s.hashing <- struct{}{}:
	default:
		if s.hashWaiters.Add(1) > maxHashWaiters {
			s.hashWaiters.Add(-1)
			return ErrBusy
		}
		select {
		case s.hashing <- struct{}{}:
			s.hashWaiters.Add(-1)
		case <-ctx.Done():
			s.hashWaiters.Add(-1)
			return fmt.Errorf("auth: waiting to hash: %w", ctx.Err())
		}
	}
	defer func() { <-s.hashing }()
	hash()
	return nil
}

// NewService returns the service.
func NewService(s Store, cfg Config, logger *slog.Logger) (*Service, error) {
	var errs []error
	if s == nil {
		errs = append(errs, errors.New("no store"))
	}
	if logger == nil {
		errs = append(errs, errors.New("no logger"))
	}
	if cfg.Now == nil {
		errs = append(errs, errors.New("no clock"))
	}
	if cfg.SessionTTL <= 0 {
		errs = append(errs, errors.New("session TTL must be positive"))
	}
	if cfg.MaxFailedLogins <= 0 {
		errs = append(errs, errors.New("failed-login limit must be positive"))
	}
	if cfg.Params.MemoryKiB == 0 || cfg.Params.Time == 0 || cfg.Params.Threads == 0 || cfg.Params.SaltLen < 8 || cfg.Params.KeyLen < 16 {
		errs = append(errs, errors.New("argon2id parameters too weak"))
	}
	if cfg.Params.MemoryKiB > maxMemoryKiB || cfg.Params.Time > maxTime || cfg.Params.KeyLen > maxKeyLen {
		// VerifyPassword would refuse every hash made with them.
		errs = append(errs, errors.New("argon2id parameters beyond what VerifyPassword accepts"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &Service{store: s, cfg: cfg, logger: logger, hashing: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}, nil
}

// Session is what a successful signup or login returns.
type Session struct {
	Username  string
	Token     string
	ExpiresAt time.Time
}

// Signup creates an account and logs it in.
func (s *Service) Signup(ctx context.Context, username, password string) (Session, error) {
	username, err := chat.NormalizeUsername(username)
	if err != nil {
		return Session{}, err
	}
	if err := chat.ValidatePassword(password); err != nil {
		return Session{}, err
	}
	var hash string
	if err := s.withHashSlot(ctx, func() { hash, err = HashPassword(password, s.cfg.Params) }); err != nil {
		return Session{}, err
	}
	if err != nil {
		return Session{}, err
	}
	err = s.store.CreateUser(ctx, store.User{Username: username, PasswordHash: hash, CreatedAt: s.now()})
	if errors.Is(err, store.ErrExists) {
		return Session{}, chat.ErrUsernameTaken
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: signup: %w", err)
	}
	return s.newSession(ctx, username)
}

// Login checks the password and opens a session. An unknown user and a
// wrong password get the same error after the same work.
func (s *Service) Login(ctx context.Context, username, password string) (Session, error) {
	name, nameErr := chat.NormalizeUsername(username)
	if nameErr != nil {
		// No such account can exist; still spend the time of a check.
		if dummy, err := s.dummy(); err == nil {
			if err := s.withHashSlot(ctx, func() { _, _ = VerifyPassword(password, dummy) }); err != nil {
				return Session{}, err
			}
		}
		return Session{}, ErrInvalidCredentials
	}
	counter := s.failureCounter(name)
	failures, err := s.store.Counter(ctx, counter)
	if err != nil {
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	if failures >= s.cfg.MaxFailedLogins {
		return Session{}, ErrRateLimited
	}
	hash, err := s.dummy()
	if err != nil {
		return Session{}, err
	}
	u, err := s.store.User(ctx, name)
	switch {
	case err == nil:
		hash = u.PasswordHash
	case !errors.Is(err, store.ErrNotFound):
		return Session{}, fmt.Errorf("auth: login: %w", err)
	}
	var ok bool
	var verr error
	if err := s.withHashSlot(ctx, func() { ok, verr = VerifyPassword(password, hash) }); err != nil {
		return Session{}, err
	}
	if verr != nil {
		return Session{}, fmt.Errorf("auth: login: stored hash of %s: %w", name, verr)
	}
	if err != nil || !ok {
		if _, err := s.store.IncrementCounter(ctx, counter, s.now().Truncate(time.Minute).Add(2*time.Minute)); err != nil {
			return Session{}, fmt.Errorf("auth: login: count failure: %w", err)
		}
		return Session{}, ErrInvalidCredentials
	}
	return s.newSession(ctx, name)
}

func (s *Service) dummy() (string, error) {
	s.dummyOnce.Do(func() {
		if s.dummyHash == "" {
			s.dummyHash, s.dummyErr = HashPassword("not anyone's password", s.cfg.Params)
		}
	})
	return s.dummyHash, s.dummyErr
}

// failureCounter names this minute's counter of failed logins for username.
func (s *Service) failureCounter(username string) string {
	return "login_failures:" + username + ":" + strconv.FormatInt(s.now().Unix()/60, 10)
}

func (s *Service) newSession(ctx context.Context, username string) (Session, error) {
	token, hash, err := NewToken()
	if err != nil {
		return Session{}, err
	}
	now := s.now()
	se := store.Session{TokenHash: hash, Username: username, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL).Truncate(time.Second)}
	if err := s.store.CreateSession(ctx, se); err != nil {
		return Session{}, fmt.Errorf("auth: create session: %w", err)
	}
	return Session{Username: username, Token: token, ExpiresAt: se.ExpiresAt}, nil
}

// Identity is an authenticated caller.
type Identity struct {
	Username  string
	TokenHash string
}

// Authenticate turns a token into the caller's identity. A malformed,
// unknown, expired or revoked token is ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (Identity, error) {
	hash, err := TokenHash(token)
	if err != nil {
		return Identity{}, err
	}
	se, err := s.store.Session(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, ErrUnauthenticated
	}
	if err != nil {
		return Identity{}, fmt.Errorf("auth: read session: %w", err)
	}
	if !s.now().Before(se.ExpiresAt) {
		return Identity{}, ErrUnauthenticated
	}
	return Identity{Username: se.Username, TokenHash: hash}, nil
}

// AuthenticateHeader reads an Authorization header: "Bearer <token>".
func (s *Service) AuthenticateHeader(ctx context.Context, header string) (Identity, error) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Identity{}, ErrUnauthenticated
	}
	return s.Authenticate(ctx, strings.TrimSpace(token))
}

// Logout ends the session at once.
func (s *Service) Logout(ctx context.Context, id Identity) error {
	if err := s.store.DeleteSession(ctx, id.TokenHash); err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
