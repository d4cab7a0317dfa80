package auth_test

import (
	"context"
	"errors"
	"github.com/chatroom/chat/internal/testkit"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// cheap are argon2id parameters that cost next to nothing, for every test
// but the one about DefaultParams.
var cheap = authtest.Params

// adapters are both stores, fresh for each test.
var adapters = storetest.Adapters()

// eachAdapter runs test once per adapter, each with a fresh store, in
// parallel with the other tests that use it.
func eachAdapter(t *testing.T, test func(t *testing.T, s store.Store)) {
	t.Helper()
	t.Parallel()
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			test(t, a.Open(t))
		})
	}
}

// newClock starts a clock at the beginning of the current real minute.
// The stores expire counters by the real clock, so the fake one must not
// lie far in the past or the failure counters would be born expired.
func newClock() *clock {
	return testkit.NewClock(time.Now().UTC().Truncate(time.Minute).Add(time.Second), 0)
}

const (
	testTTL                 = time.Hour
	testMaxFailed           = 3
	testMaxFailedPerAddress = 6
)

func testConfig(c *clock) auth.Config {
	return auth.Config{Params: cheap, SessionTTL: testTTL, MaxFailedLogins: testMaxFailed, MaxFailedLoginsPerAddress: testMaxFailedPerAddress, MaxTicketsPerMinute: 60, Now: c.Now}
}

func newService(t *testing.T, s auth.Store, c *clock) *auth.Service {
	t.Helper()
	svc, err := auth.NewService(s, testConfig(c), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// wantCode fails the test unless err carries the contract code.
func wantCode(t *testing.T, err error, code chat.Code) {
	t.Helper()
	got, ok := chat.CodeOf(err)
	if !ok || got != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

// recorder is a store that notes the name of every call before passing it
// on, and can make Session fail.
type recorder struct {
	auth.Store
	mu         sync.Mutex
	calls      []string
	sessionErr error
}

func (r *recorder) note(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, name)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func (r *recorder) CreateUser(ctx context.Context, u store.User) error {
	r.note("CreateUser")
	return r.Store.CreateUser(ctx, u)
}

func (r *recorder) User(ctx context.Context, username string) (store.User, error) {
	r.note("User")
	return r.Store.User(ctx, username)
}

func (r *recorder) CreateSession(ctx context.Context, s store.Session) error {
	r.note("CreateSession")
	return r.Store.CreateSession(ctx, s)
}

func (r *recorder) Session(ctx context.Context, tokenHash string) (store.Session, error) {
	r.note("Session")
	if r.sessionErr != nil {
		return store.Session{}, r.sessionErr
	}
	return r.Store.Session(ctx, tokenHash)
}

func (r *recorder) DeleteSession(ctx context.Context, tokenHash string) error {
	r.note("DeleteSession")
	return r.Store.DeleteSession(ctx, tokenHash)
}

func (r *recorder) IncrementCounter(ctx context.Context, name string, expiresAt time.Time) (int64, error) {
	r.note("IncrementCounter")
	return r.Store.IncrementCounter(ctx, name, expiresAt)
}

func (r *recorder) Counter(ctx context.Context, name string) (int64, error) {
	r.note("Counter")
	return r.Store.Counter(ctx, name)
}

var errOutage = errors.New("store unavailable")

// clock is the tests' hand-moved clock.
type clock = testkit.Clock
