// Package faults wraps the store and push ports with injected failures, so
// tests can check that the chat keeps its invariants (append before
// broadcast; nothing acknowledged lost) when DynamoDB or the management API
// misbehave.
//
// Store fails chosen methods with errors shaped like DynamoDB's: throttling,
// a transaction conflict, a timeout, a 5xx. A fault strikes before the inner
// call (nothing happened) or after it succeeded (the write happened but the
// caller sees an error, as when a Lambda times out after storing). Pusher
// answers 410 Gone for some connections, fails some with a 500, and holds
// some past their deadline.
//
// Faults come at a set rate from a seeded math/rand/v2 source, so a run is
// repeatable, or exactly on the next N calls of a method, for precise tests.
package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/store"
)

// Kind is a kind of store failure.
type Kind int

// The store failures.
const (
	// Throttle is DynamoDB's ProvisionedThroughputExceededException.
	Throttle Kind = iota + 1
	// Conflict is a lost transaction: store.ErrConcurrency.
	Conflict
	// Timeout is context.DeadlineExceeded.
	Timeout
	// ServerError is an HTTP 500 from the service.
	ServerError
)

func (k Kind) String() string {
	switch k {
	case Throttle:
		return "throttle"
	case Conflict:
		return "conflict"
	case Timeout:
		return "timeout"
	case ServerError:
		return "5xx"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Kinds lists every store failure.
var Kinds = []Kind{Throttle, Conflict, Timeout, ServerError}

// Err returns the error a failure of method looks like.
func (k Kind) Err(method string) error {
	switch k {
	case Throttle:
		return fmt.Errorf("faults: %s: operation error DynamoDB: %w", method,
			&types.ProvisionedThroughputExceededException{Message: aws.String("The level of configured provisioned throughput for the table was exceeded.")})
	case Conflict:
		return fmt.Errorf("faults: %s: %w", method, store.ErrConcurrency)
	case Timeout:
		return fmt.Errorf("faults: %s: %w", method, context.DeadlineExceeded)
	case ServerError:
		return fmt.Errorf("faults: %s: operation error DynamoDB: %w", method, &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error"}},
			Err:      errors.New("500 internal server error"),
		})
	}
	return fmt.Errorf("faults: %s: injected failure", method)
}

// When says whether a store fault strikes before the inner call or after
// it succeeded.
type When int

// The moments a fault strikes.
const (
	Before When = iota
	After
	// Either strikes before or after, at random.
	Either
)

// Fault is one configured store failure.
type Fault struct {
	Kind Kind
	When When
}

// Store is a store.Store that fails as told.
type Store struct {
	inner store.Store

	mu      sync.Mutex
	rng     *rand.Rand
	rate    float64
	fault   Fault
	methods map[string]bool
	next    map[string][]Fault
	counts  map[string]int

	// OnFault, when set, is called (outside the lock) each time a fault
	// strikes, after the inner call for an After fault: a test can cancel
	// the handler's context there, as Lambda's timeout would.
	OnFault func(method string, f Fault)
}

var _ store.Store = (*Store)(nil)

// NewStore wraps inner; seed makes the rate-driven faults repeatable.
func NewStore(inner store.Store, seed uint64) *Store {
	return &Store{inner: inner, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), next: map[string][]Fault{}, counts: map[string]int{}}
}

// Inner returns the wrapped store, which never fails on purpose.
func (s *Store) Inner() store.Store { return s.inner }

// SetRate makes each call of the named methods fail with f at the given
// rate (0 to 1). No methods means none; it replaces any earlier rate.
func (s *Store) SetRate(rate float64, f Fault, methods ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.fault = rate, f
	s.methods = map[string]bool{}
	for _, m := range methods {
		s.methods[m] = true
	}
}

// FailNext makes the next n calls of method fail with f, ahead of any rate.
func (s *Store) FailNext(method string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		g := f
		if g.When == Either {
			g.When = When(s.rng.IntN(2))
		}
		s.next[method] = append(s.next[method], g)
	}
}

// Clear stops every fault.
func (s *Store) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate, s.methods = 0, nil
	clear(s.next)
}

// Injected returns how many faults struck method ("" for all methods).
func (s *Store) Injected(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method != "" {
		return s.counts[method]
	}
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

// pick decides whether this call of method fails, and how.
func (s *Store) pick(method string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.next[method]; len(q) > 0 {
		s.next[method] = q[1:]
		s.counts[method]++
		return q[0], true
	}
	if s.methods[method] && s.rng.Float64() < s.rate {
		s.counts[method]++
		f := s.fault
		if f.When == Either {
			f.When = When(s.rng.IntN(2))
		}
		return f, true
	}
	return Fault{}, false
}

func (s *Store) struck(method string, f Fault) error {
	if s.OnFault != nil {
		s.OnFault(method, f)
	}
	return f.Kind.Err(method)
}

// call runs inner unless a fault strikes before it; an After fault turns
// a success into the fault's error.
func call[T any](s *Store, method string, inner func() (T, error)) (T, error) {
	f, hit := s.pick(method)
	if hit && f.When == Before {
		var zero T
		return zero, s.struck(method, f)
	}
	v, err := inner()
	if err != nil || !hit {
		return v, err
	}
	var zero T
	return zero, s.struck(method, f)
}

func call0(s *Store, method string, inner func() error) error {
	_, err := call(s, method, func() (struct{}, error) { return struct{}{}, inner() })
	return err
}

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, req store.AppendRequest) (store.AppendResult, error) {
	return call(s, "Append", func() (store.AppendResult, error) { return s.inner.Append(ctx, req) })
}

// Room implements store.Store.
func (s *Store) Room(ctx context.Context, roomID string) (*chat.Room, error) {
	return call(s, "Room", func() (*chat.Room, error) { return s.inner.Room(ctx, roomID) })
}

// RecentRoomAs implements store.Store.
func (s *Store) RecentRoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error) {
	return call(s, "RecentRoomAs", func() (*chat.Room, error) { return s.inner.RecentRoomAs(ctx, roomID, usernames...) })
}

// RoomAs implements store.Store.
func (s *Store) RoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error) {
	return call(s, "RoomAs", func() (*chat.Room, error) { return s.inner.RoomAs(ctx, roomID, usernames...) })
}

// Message implements store.Store.
func (s *Store) Message(ctx context.Context, roomID, messageID string) (store.Message, error) {
	return call(s, "Message", func() (store.Message, error) { return s.inner.Message(ctx, roomID, messageID) })
}

// Membership implements store.Store.
func (s *Store) Membership(ctx context.Context, roomID, username string) (store.Membership, error) {
	return call(s, "Membership", func() (store.Membership, error) { return s.inner.Membership(ctx, roomID, username) })
}

// SetReadPosition implements store.Store.
func (s *Store) SetReadPosition(ctx context.Context, roomID, username string, p store.ReadPosition, mentionsSeen int64) (bool, error) {
	return call(s, "SetReadPosition", func() (bool, error) { return s.inner.SetReadPosition(ctx, roomID, username, p, mentionsSeen) })
}

// Audience implements store.Store.
func (s *Store) Audience(ctx context.Context, roomID string) ([]store.Membership, error) {
	return call(s, "Audience", func() ([]store.Membership, error) { return s.inner.Audience(ctx, roomID) })
}

// Memberships implements store.Store.
func (s *Store) Memberships(ctx context.Context, roomID string, usernames []string) ([]store.Membership, error) {
	return call(s, "Memberships", func() ([]store.Membership, error) { return s.inner.Memberships(ctx, roomID, usernames) })
}

// UserConnections implements store.Store.
func (s *Store) UserConnections(ctx context.Context, username string) ([]string, error) {
	return call(s, "UserConnections", func() ([]string, error) { return s.inner.UserConnections(ctx, username) })
}

// ReadForward implements store.Store.
func (s *Store) ReadForward(ctx context.Context, roomID string, afterSeq int64, limit int) (store.Page, error) {
	return call(s, "ReadForward", func() (store.Page, error) { return s.inner.ReadForward(ctx, roomID, afterSeq, limit) })
}

// ReadBackward implements store.Store.
func (s *Store) ReadBackward(ctx context.Context, roomID string, beforeSeq int64, limit int) (store.Page, error) {
	return call(s, "ReadBackward", func() (store.Page, error) { return s.inner.ReadBackward(ctx, roomID, beforeSeq, limit) })
}

// RoomsOf implements store.Store.
func (s *Store) RoomsOf(ctx context.Context, username string) ([]store.RoomSummary, error) {
	return call(s, "RoomsOf", func() ([]store.RoomSummary, error) { return s.inner.RoomsOf(ctx, username) })
}

// CreateUser implements store.Store.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return call0(s, "CreateUser", func() error { return s.inner.CreateUser(ctx, u) })
}

// User implements store.Store.
func (s *Store) User(ctx context.Context, username string) (store.User, error) {
	return call(s, "User", func() (store.User, error) { return s.inner.User(ctx, username) })
}

// ExistingUsers implements store.Store.
func (s *Store) ExistingUsers(ctx context.Context, usernames []string) (map[string]bool, error) {
	return call(s, "ExistingUsers", func() (map[string]bool, error) { return s.inner.ExistingUsers(ctx, usernames) })
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	return call0(s, "CreateSession", func() error { return s.inner.CreateSession(ctx, se) })
}

// Session implements store.Store.
func (s *Store) Session(ctx context.Context, tokenHash string) (store.Session, error) {
	return call(s, "Session", func() (store.Session, error) { return s.inner.Session(ctx, tokenHash) })
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	return call0(s, "DeleteSession", func() error { return s.inner.DeleteSession(ctx, tokenHash) })
}

// SessionConnections implements store.Store.
func (s *Store) SessionConnections(ctx context.Context, tokenHash string) ([]string, error) {
	return call(s, "SessionConnections", func() ([]string, error) { return s.inner.SessionConnections(ctx, tokenHash) })
}

// CreateTicket implements store.Store.
func (s *Store) CreateTicket(ctx context.Context, t store.Ticket) error {
	return call0(s, "CreateTicket", func() error { return s.inner.CreateTicket(ctx, t) })
}

// TakeTicket implements store.Store.
func (s *Store) TakeTicket(ctx context.Context, hash string) (store.Ticket, error) {
	return call(s, "TakeTicket", func() (store.Ticket, error) { return s.inner.TakeTicket(ctx, hash) })
}

// PutConnection implements store.Store.
func (s *Store) PutConnection(ctx context.Context, c store.Connection, maxPerUser int) error {
	return call0(s, "PutConnection", func() error { return s.inner.PutConnection(ctx, c, maxPerUser) })
}

// Connection implements store.Store.
func (s *Store) Connection(ctx context.Context, connectionID string) (store.Connection, error) {
	return call(s, "Connection", func() (store.Connection, error) { return s.inner.Connection(ctx, connectionID) })
}

// DeleteConnection implements store.Store.
func (s *Store) DeleteConnection(ctx context.Context, connectionID string) error {
	return call0(s, "DeleteConnection", func() error { return s.inner.DeleteConnection(ctx, connectionID) })
}

// ConnectionRooms implements store.Store.
func (s *Store) ConnectionRooms(ctx context.Context, connectionID string) ([]string, error) {
	return call(s, "ConnectionRooms", func() ([]string, error) { return s.inner.ConnectionRooms(ctx, connectionID) })
}

// RoomConnections implements store.Store.
func (s *Store) RoomConnections(ctx context.Context, roomID string) ([]store.Presence, error) {
	return call(s, "RoomConnections", func() ([]store.Presence, error) { return s.inner.RoomConnections(ctx, roomID) })
}

// RoomRoster implements store.Store.
func (s *Store) RoomRoster(ctx context.Context, roomID string) (store.Roster, error) {
	return call(s, "RoomRoster", func() (store.Roster, error) { return s.inner.RoomRoster(ctx, roomID) })
}

// RemovePresence implements store.Store.
func (s *Store) RemovePresence(ctx context.Context, roomID string, connectionIDs ...string) error {
	return call0(s, "RemovePresence", func() error { return s.inner.RemovePresence(ctx, roomID, connectionIDs...) })
}

// IncrementCounter implements store.Store.
func (s *Store) IncrementCounter(ctx context.Context, name string, expiresAt time.Time) (int64, error) {
	return call(s, "IncrementCounter", func() (int64, error) { return s.inner.IncrementCounter(ctx, name, expiresAt) })
}

// Counter implements store.Store.
func (s *Store) Counter(ctx context.Context, name string) (int64, error) {
	return call(s, "Counter", func() (int64, error) { return s.inner.Counter(ctx, name) })
}

// Close implements store.Store; it never fails on purpose.
func (s *Store) Close() error { return s.inner.Close() }

// PushKind is a kind of push failure.
type PushKind int

// The push failures.
const (
	// Gone is API Gateway's 410: the connection no longer exists, and
	// every later post to it is Gone too.
	Gone PushKind = iota + 1
	// Fail is a 500 from the management API.
	Fail
	// Delay holds the post past its deadline: it is not delivered and
	// fails with context.DeadlineExceeded.
	Delay
)

func (k PushKind) String() string {
	switch k {
	case Gone:
		return "gone"
	case Fail:
		return "fail"
	case Delay:
		return "delay"
	}
	return fmt.Sprintf("PushKind(%d)", int(k))
}

// PushKinds lists every push failure.
var PushKinds = []PushKind{Gone, Fail, Delay}

// ErrPush500 is the error a Fail fault reports.
var ErrPush500 = errors.New("faults: post to connection: 500 internal server error")

// Pusher is a push.Pusher that fails as told.
type Pusher struct {
	inner push.Pusher
	// Wait is how long a Delay fault holds a post (or until the context
	// is done, if sooner). Zero means 20ms.
	Wait time.Duration

	mu     sync.Mutex
	rng    *rand.Rand
	rate   float64
	kind   PushKind
	next   []PushKind
	forced map[string]PushKind
	gone   map[string]bool
	counts map[PushKind]int
}

var _ push.Pusher = (*Pusher)(nil)

// NewPusher wraps inner; seed makes the rate-driven faults repeatable.
func NewPusher(inner push.Pusher, seed uint64) *Pusher {
	return &Pusher{inner: inner, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		forced: map[string]PushKind{}, gone: map[string]bool{}, counts: map[PushKind]int{}}
}

// SetRate makes each post to one connection fail with kind at the rate.
func (p *Pusher) SetRate(rate float64, kind PushKind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate, p.kind = rate, kind
}

// FailNext makes the next n posts to one connection, whichever, fail with
// kind, ahead of any rate.
func (p *Pusher) FailNext(n int, kind PushKind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.next = append(p.next, kind)
	}
}

// FailFor makes every post to the connections fail with kind until Clear.
func (p *Pusher) FailFor(kind PushKind, ids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		p.forced[id] = kind
	}
}

// Clear stops every fault; connections already Gone stay gone.
func (p *Pusher) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate, p.next = 0, nil
	clear(p.forced)
}

// Gone reports whether a Gone fault struck the connection.
func (p *Pusher) Gone(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone[id]
}

// Injected returns how many faults of kind struck.
func (p *Pusher) Injected(kind PushKind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[kind]
}

func (p *Pusher) pick(id string) (PushKind, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var k PushKind
	switch {
	case p.gone[id]:
		return Gone, true
	case p.forced[id] != 0:
		k = p.forced[id]
	case len(p.next) > 0:
		k, p.next = p.next[0], p.next[1:]
	case p.rate > 0 && p.rng.Float64() < p.rate:
		k = p.kind
	default:
		return 0, false
	}
	p.counts[k]++
	if k == Gone {
		p.gone[id] = true
	}
	return k, true
}

// Post implements push.Pusher: the connections a fault strikes are left
// out of the inner post and reported Gone or Failed.
func (p *Pusher) Post(ctx context.Context, ids []string, frame []byte) push.Result {
	var res push.Result
	var pass, delayed []string
	fail := func(id string, err error) {
		if res.Failed == nil {
			res.Failed = map[string]error{}
		}
		res.Failed[id] = err
	}
	for _, id := range ids {
		k, hit := p.pick(id)
		switch {
		case !hit:
			pass = append(pass, id)
		case k == Gone:
			res.Gone = append(res.Gone, id)
		case k == Fail:
			fail(id, ErrPush500)
		default:
			delayed = append(delayed, id)
		}
	}
	if len(delayed) > 0 {
		wait := p.Wait
		if wait <= 0 {
			wait = 20 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		for _, id := range delayed {
			fail(id, fmt.Errorf("faults: post to %s: %w", id, context.DeadlineExceeded))
		}
	}
	if len(pass) > 0 {
		in := p.inner.Post(ctx, pass, frame)
		res.Gone = append(res.Gone, in.Gone...)
		for id, err := range in.Failed {
			fail(id, err)
		}
	}
	return res
}

// Disconnect implements push.Pusher: a connection struck Gone is ErrGone.
func (p *Pusher) Disconnect(ctx context.Context, connectionID string) error {
	if p.Gone(connectionID) {
		return push.ErrGone
	}
	return p.inner.Disconnect(ctx, connectionID)
}

// Delivered implements store.Store.
func (s *Store) Delivered(ctx context.Context, roomID string, consistent bool) (store.Delivered, error) {
	return call(s, "Delivered", func() (store.Delivered, error) { return s.inner.Delivered(ctx, roomID, consistent) })
}

// MarkDelivered implements store.Store.
func (s *Store) MarkDelivered(ctx context.Context, roomID string, slots store.Slots, seq int64) error {
	return call0(s, "MarkDelivered", func() error { return s.inner.MarkDelivered(ctx, roomID, slots, seq) })
}

// MarkHandedOff implements store.Store.
func (s *Store) MarkHandedOff(ctx context.Context, roomID string, seq int64) error {
	return call0(s, "MarkHandedOff", func() error { return s.inner.MarkHandedOff(ctx, roomID, seq) })
}
