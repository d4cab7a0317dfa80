// Package auth is accounts and sessions: sign up, log in, log out, and
// turning a bearer token back into a username.
//
// Passwords are hashed with argon2id, parameters stored beside each hash.
// A session token is 256 random bits that only its holder knows; the store
// keeps its SHA-256, so a leaked table holds no usable token; sockets open
// with single-use tickets of a minute, so that the token never travels in
// a URL. Logins are counted per username and per client address in the
// store, so the limits hold across every Lambda instance.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
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
	ErrRateLimited        = &chat.Error{Code: CodeRateLimited, Message: "too many failed logins; try again in a minute"}
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
	CreateTicket(ctx context.Context, t store.Ticket) error
	TakeTicket(ctx context.Context, hash string) (store.Ticket, error)
}

// Config holds the service's settings.
type Config struct {
	Params     Params
	SessionTTL time.Duration
	// MaxFailedLogins is how many logins to a username from one address
	// may fail (or be under way) in a minute; and how many failures from
	// anywhere close the name to addresses that have failed for it.
	MaxFailedLogins int64
	// MaxFailedLoginsPerAddress bounds the logins from one address, to
	// any names, that fail or are under way in a minute.
	MaxFailedLoginsPerAddress int64
	// MaxTicketsPerMinute bounds the socket tickets one session is given
	// a minute.
	MaxTicketsPerMinute int64
	Now                 func() time.Time
}

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{Params: DefaultParams, SessionTTL: 7 * 24 * time.Hour, MaxFailedLogins: 10, MaxFailedLoginsPerAddress: 30, MaxTicketsPerMinute: 60, Now: time.Now}
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
	if cfg.MaxFailedLogins <= 0 || cfg.MaxFailedLoginsPerAddress <= 0 || cfg.MaxTicketsPerMinute <= 0 {
		errs = append(errs, errors.New("login and ticket limits must be positive"))
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
// wrong password get the same error after the same work. addr is the
// client's address (API Gateway's sourceIp), for the limits on guessing:
//
//   - per username and address, at most MaxFailedLogins logins a minute
//     that failed or are still being checked: counted before the check,
//     so that guesses sent all at once are refused too, not all checked;
//   - per address, at most MaxFailedLoginsPerAddress such logins a
//     minute, whatever the usernames;
//   - per username, once MaxFailedLogins guesses failed in a minute from
//     anywhere, only addresses that have not failed for it may try.
//
// The owner logging in from their own address is never refused for what
// others guessed elsewhere.
func (s *Service) Login(ctx context.Context, username, password, addr string) (Session, error) {
	if addr == "" {
		addr = "unknown"
	}
	w := s.window()
	name, nameErr := chat.NormalizeUsername(username)
	if nameErr != nil {
		// No such account can exist, and anyone can tell that from the
		// name's shape: no check to spend time on, but it counts as a
		// guess from the address.
		if _, err := s.countAttempt(ctx, w, "login:addr:"+addr, s.cfg.MaxFailedLoginsPerAddress); err != nil {
			return Session{}, err
		}
		return Session{}, ErrInvalidCredentials
	}
	pairBase := "login:pair:" + name + ":" + addr
	pending, err := s.countAttempt(ctx, w, pairBase, s.cfg.MaxFailedLogins)
	if err != nil {
		return Session{}, err
	}
	addressBase := "login:addr:" + addr
	if _, err := s.countAttempt(ctx, w, addressBase, s.cfg.MaxFailedLoginsPerAddress); err != nil {
		return Session{}, err
	}
	pair, address := w.name(pairBase), w.name(addressBase)
	userBase := "login:user:" + name
	userFailures := w.name(userBase)
	if pending > 1 {
		// This address has failed for the name before: the name's own
		// limit applies to it.
		failures, err := s.recent(ctx, w, userBase, "")
		if err != nil {
			return Session{}, fmt.Errorf("auth: login: %w", err)
		}
		if failures >= s.cfg.MaxFailedLogins {
			return Session{}, ErrRateLimited
		}
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
		if _, err := s.store.IncrementCounter(ctx, userFailures, s.windowEnd()); err != nil {
			return Session{}, fmt.Errorf("auth: login: count failure: %w", err)
		}
		return Session{}, ErrInvalidCredentials
	}
	for _, c := range []string{pair, address} {
		if _, err := s.store.IncrementCounter(ctx, c+":ok", s.windowEnd()); err != nil {
			return Session{}, fmt.Errorf("auth: login: count success: %w", err)
		}
	}
	return s.newSession(ctx, name)
}

// loginWindow is the minute a login falls in, and how far into it.
type loginWindow struct {
	minute int64
	// rest is the share of the minute still to come, in (0, 1].
	rest float64
}

func (s *Service) window() loginWindow {
	now := s.now()
	into := now.Sub(now.Truncate(time.Minute))
	return loginWindow{minute: now.Unix() / 60, rest: 1 - into.Seconds()/60}
}

// name is the counter of base in this minute; prev in the one before.
func (w loginWindow) name(base string) string { return base + ":" + strconv.FormatInt(w.minute, 10) }
func (w loginWindow) prev(base string) string { return base + ":" + strconv.FormatInt(w.minute-1, 10) }

// countAttempt counts a login against base's attempts in the last minute
// and returns how many of them have not succeeded, this one included;
// past limit it answers rate_limited. Counting before the check is what
// holds the limit against guesses sent all at once.
//
// The minute slides: the failures of the minute before count for the
// share of it still inside the last sixty seconds. With minutes that did
// not slide, guesses sent at once across the turn of a minute would get
// the limit twice.
func (s *Service) countAttempt(ctx context.Context, w loginWindow, base string, limit int64) (int64, error) {
	attempts, err := s.store.IncrementCounter(ctx, w.name(base), s.windowEnd())
	if err != nil {
		return 0, fmt.Errorf("auth: login: count attempt: %w", err)
	}
	succeeded, err := s.store.Counter(ctx, w.name(base)+":ok")
	if err != nil {
		return 0, fmt.Errorf("auth: login: %w", err)
	}
	earlier, err := s.recentBefore(ctx, w, base, ":ok")
	if err != nil {
		return 0, fmt.Errorf("auth: login: %w", err)
	}
	pending := attempts - succeeded + earlier
	if pending > limit {
		return 0, ErrRateLimited
	}
	return pending, nil
}

// recent is base's count in this minute plus its share of the minute
// before; with okSuffix, the successes counted under base+okSuffix are
// taken off each minute's count.
func (s *Service) recent(ctx context.Context, w loginWindow, base, okSuffix string) (int64, error) {
	now, err := s.counted(ctx, w.name(base), okSuffix)
	if err != nil {
		return 0, err
	}
	earlier, err := s.recentBefore(ctx, w, base, okSuffix)
	return now + earlier, err
}

// recentBefore is the part of the minute before's count that still lies
// within the last sixty seconds, rounded up: a failure leaves the count
// only once wholly out of it.
func (s *Service) recentBefore(ctx context.Context, w loginWindow, base, okSuffix string) (int64, error) {
	before, err := s.counted(ctx, w.prev(base), okSuffix)
	if err != nil {
		return 0, err
	}
	return int64(math.Ceil(float64(before) * w.rest)), nil
}

func (s *Service) counted(ctx context.Context, name, okSuffix string) (int64, error) {
	n, err := s.store.Counter(ctx, name)
	if err != nil || okSuffix == "" {
		return n, err
	}
	ok, err := s.store.Counter(ctx, name+okSuffix)
	return max(n-ok, 0), err
}

// windowEnd is when this minute's login counters may be forgotten.
func (s *Service) windowEnd() time.Time {
	return s.now().Truncate(time.Minute).Add(2 * time.Minute)
}

func (s *Service) dummy() (string, error) {
	s.dummyOnce.Do(func() {
		if s.dummyHash == "" {
			s.dummyHash, s.dummyErr = HashPassword("not anyone's password", s.cfg.Params)
		}
	})
	return s.dummyHash, s.dummyErr
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
	return s.liveSession(ctx, hash)
}

// liveSession is the identity of the session with the hash, if it exists
// and has not expired.
func (s *Service) liveSession(ctx context.Context, hash string) (Identity, error) {
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

// TicketTTL is how long a socket ticket waits for its handshake.
const TicketTTL = time.Minute

// Ticket is a single-use pass to open one socket.
type Ticket struct {
	Value     string
	ExpiresAt time.Time
}

// ErrTooManyTickets refuses a session that asks for tickets faster than
// any client opens sockets.
var ErrTooManyTickets = &chat.Error{Code: CodeRateLimited, Message: "too many socket tickets; try again in a minute"}

// IssueTicket gives the session a ticket to open one socket with, so that
// the session's token never travels in a URL. Like a token, only its hash
// is stored.
func (s *Service) IssueTicket(ctx context.Context, id Identity) (Ticket, error) {
	n, err := s.store.IncrementCounter(ctx, "tickets:"+id.TokenHash+":"+strconv.FormatInt(s.now().Unix()/60, 10), s.windowEnd())
	if err != nil {
		return Ticket{}, fmt.Errorf("auth: ticket: %w", err)
	}
	if n > s.cfg.MaxTicketsPerMinute {
		return Ticket{}, ErrTooManyTickets
	}
	value, hash, err := NewToken()
	if err != nil {
		return Ticket{}, err
	}
	t := store.Ticket{Hash: hash, SessionHash: id.TokenHash, Username: id.Username, ExpiresAt: s.now().Add(TicketTTL).Truncate(time.Second)}
	if err := s.store.CreateTicket(ctx, t); err != nil {
		return Ticket{}, fmt.Errorf("auth: ticket: %w", err)
	}
	return Ticket{Value: value, ExpiresAt: t.ExpiresAt}, nil
}

// RedeemTicket turns a ticket into the identity of the session it was
// issued to, once. A malformed, unknown, used or expired ticket, or one
// whose session has ended, is ErrUnauthenticated.
func (s *Service) RedeemTicket(ctx context.Context, ticket string) (Identity, error) {
	hash, err := TokenHash(ticket)
	if err != nil {
		return Identity{}, err
	}
	t, err := s.store.TakeTicket(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, ErrUnauthenticated
	}
	if err != nil {
		return Identity{}, fmt.Errorf("auth: redeem ticket: %w", err)
	}
	if !s.now().Before(t.ExpiresAt) {
		return Identity{}, ErrUnauthenticated
	}
	return s.liveSession(ctx, t.SessionHash)
}

// Logout ends the session at once.
func (s *Service) Logout(ctx context.Context, id Identity) error {
	if err := s.store.DeleteSession(ctx, id.TokenHash); err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
