package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/chatclient"
)

// Config is one run.
type Config struct {
	// BaseURL is the chat, e.g. http://127.0.0.1:3000.
	BaseURL string
	// Connections are held across Rooms for Duration.
	Connections, Rooms int
	Duration           time.Duration
	// ActionEvery is each connection's mean pause between two actions
	// (mostly sends; sometimes a leave and rejoin, or a drop and
	// reconnect). The default keeps the whole run well under what two
	// cores serve, so that what is measured is correctness, not overload.
	ActionEvery time.Duration
	// DropChance and LeaveChance are the odds that an action drops the
	// socket and reconnects, or leaves a room to join it again; the rest
	// are sends (0.03 and 0.07 when both are zero). A short run on a slow machine
	// acts only a few times per connection, so it raises them to see
	// every kind of action.
	DropChance, LeaveChance float64
	// Timeout bounds every wait for an answer (default 30s).
	Timeout time.Duration
	// ReportEvery is the period of the progress lines (default 5s).
	ReportEvery time.Duration
	// Seed makes the choices of a run repeatable (the timing is not).
	Seed uint64
	// Store, when set, is asked at the end for connection items left
	// behind; Gateway, when set, lists the open connections through the
	// run, so that every connection id is asked about.
	Store   ConnectionStore
	Gateway ConnectionLister
	// HTTP is the client for the HTTP and WebSocket APIs (default: one
	// that keeps enough idle connections for hundreds of clients).
	HTTP   *http.Client
	Logger *slog.Logger
}

// Defaults of a run: the figures.
const (
	DefaultConnections = 500
	DefaultRooms       = 20
	DefaultDuration    = 2 * time.Minute
	DefaultActionEvery = 10 * time.Second
	DefaultDropChance  = 0.03
	DefaultLeaveChance = 0.07
)

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("soak: no base URL"))
	}
	if c.Connections < 1 {
		errs = append(errs, fmt.Errorf("soak: %d connections: need at least one", c.Connections))
	}
	if c.Rooms < 1 {
		errs = append(errs, fmt.Errorf("soak: %d rooms: need at least one", c.Rooms))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("soak: duration %s: must be positive", c.Duration))
	}
	if c.ActionEvery < 0 || c.Timeout < 0 || c.ReportEvery < 0 {
		errs = append(errs, errors.New("soak: negative period"))
	}
	if c.DropChance < 0 || c.LeaveChance < 0 || c.DropChance+c.LeaveChance > 1 {
		errs = append(errs, fmt.Errorf("soak: drop chance %g and leave chance %g: each must be at least 0 and together at most 1", c.DropChance, c.LeaveChance))
	}
	return errors.Join(errs...)
}

const (
	// connectionsPerUser: people keep several tabs open, so connections
	// share users, and a room's online list counts each person once.
	connectionsPerUser = 2
	// roomsPerUser and roomsPerConnection: each person is in a few of
	// the rooms, each connection joins some of them.
	roomsPerUser       = 4
	roomsPerConnection = 2
	// heapSlack is how far the heap may end above where it started. The
	// soak's own bookkeeping is dropped before the end is measured, so
	// what remains is the server's and the clients' state, which should
	// be back where it was once everyone has gone. A leak of 20 KiB per
	// connection opened (a socket's buffers) or of 500 bytes per message
	// would pass it in a default run; tens of MiB of slack leave room for
	// the runtime's and the store's caches and for GC timing.
	heapSlack = 32 << 20
)

// Run soaks the chat at cfg.BaseURL and checks what it saw. The error is
// for a run that could not be carried out; a run whose checks failed
// returns its report with Failures.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ActionEvery == 0 {
		cfg.ActionEvery = DefaultActionEvery
	}
	if cfg.DropChance == 0 && cfg.LeaveChance == 0 {
		cfg.DropChance, cfg.LeaveChance = DefaultDropChance, DefaultLeaveChance
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.ReportEvery == 0 {
		cfg.ReportEvery = 5 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second}}
		defer cfg.HTTP.CloseIdleConnections()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x50a4))

	log.Info("soak: signing up and making rooms", "connections", cfg.Connections, "rooms", cfg.Rooms)
	setup, err := prepare(ctx, cfg, rng)
	if err != nil {
		return nil, err
	}
	rep := &Report{Connections: cfg.Connections, Rooms: cfg.Rooms, Users: len(setup.users)}
	heapStart := heapAfterGC()

	stats := &counters{}
	l := newLedger()
	var problemsMu sync.Mutex
	var problems []string
	problemCount := 0
	noteProblem := func(p string) {
		problemsMu.Lock()
		defer problemsMu.Unlock()
		problemCount++
		if len(problems) < maxExamples {
			problems = append(problems, p)
			log.Warn("soak: problem", "problem", p)
		}
	}
	how := behaviour{actionEvery: cfg.ActionEvery, dropChance: cfg.DropChance, leaveChance: cfg.LeaveChance, timeout: cfg.Timeout}
	clients := make([]*client, cfg.Connections)
	for i := range clients {
		user := setup.users[i/connectionsPerUser]
		rooms := slices.Clone(setup.roomsOf[user.Username])
		rng.Shuffle(len(rooms), func(a, b int) { rooms[a], rooms[b] = rooms[b], rooms[a] })
		rooms = rooms[:min(len(rooms), roomsPerConnection)]
		clients[i] = newClient(fmt.Sprintf("c%03d", i), user, rooms, how, rng.Uint64(), stats, l, noteProblem)
	}

	// Watchers: heap, progress and, in process, the connection ids.
	watch := &heapWatch{}
	watch.sample()
	seenIDs := map[string]bool{}
	var seenMu sync.Mutex
	sampleIDs := func() {
		if cfg.Gateway == nil {
			return
		}
		ids := cfg.Gateway.ConnectionIDs()
		seenMu.Lock()
		for _, id := range ids {
			seenIDs[id] = true
		}
		seenMu.Unlock()
	}
	began := time.Now()
	stopWatch := make(chan struct{})
	var watchers sync.WaitGroup
	watchers.Go(func() {
		heapTick, idTick, reportTick := time.NewTicker(2*time.Second), time.NewTicker(250*time.Millisecond), time.NewTicker(cfg.ReportEvery)
		defer heapTick.Stop()
		defer idTick.Stop()
		defer reportTick.Stop()
		for {
			select {
			case <-stopWatch:
				return
			case <-heapTick.C:
				watch.sample()
			case <-idTick.C:
				sampleIDs()
			case <-reportTick.C:
				live, inUse := watch.sample()
				log.Info("soak", "elapsed", time.Since(began).Round(time.Second).String(), "open", stats.open.Load(),
					"sent", stats.sent.Load(), "acked", stats.acked.Load(), "deliveries", stats.deliveries.Load(),
					"joins", stats.joins.Load(), "leaves", stats.leaves.Load(), "reconnects", stats.reconnects.Load(),
					"heap_live_mib", live>>20, "heap_in_use_mib", inUse>>20)
			}
		}
	})

	// The clients come in over a ramp, as people do, rather than in one
	// burst of handshakes.
	until := began.Add(cfg.Duration)
	ramp := min(10*time.Second, cfg.Duration/4)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			select {
			case <-time.After(ramp * time.Duration(i) / time.Duration(len(clients))):
			case <-ctx.Done():
			}
			c.run(ctx, until)
		})
	}
	wg.Wait()
	rep.Seconds = time.Since(began).Seconds()
	close(stopWatch)
	watchers.Wait()
	sampleIDs()
	log.Info("soak: everyone has left; checking", "elapsed", time.Since(began).Round(time.Second).String())

	rep.Sent, rep.Acknowledged, rep.Resent = stats.sent.Load(), stats.acked.Load(), stats.resent.Load()
	rep.RateLimited, rep.Deliveries = stats.rateLimited.Load(), stats.deliveries.Load()
	rep.Joins, rep.Leaves, rep.Reconnects = stats.joins.Load(), stats.leaves.Load(), stats.reconnects.Load()

	if cfg.Store != nil {
		rep.StoreChecked = true
		seenMu.Lock()
		ids := slices.Sorted(maps.Keys(seenIDs))
		seenMu.Unlock()
		rep.ConnectionIDsSeen = len(ids)
		left, err := awaitNoLeftovers(ctx, cfg.Store, ids, setup.rooms, setup.tokenHashes, cfg.Timeout)
		if err != nil {
			return nil, err
		}
		rep.LeftoverConnections, rep.LeftoverPresence, rep.LeftoverSessionLinks = left.Connections, left.Presence, left.SessionLinks
		rep.Examples = append(rep.Examples, left.Examples...)
	}
	online, err := strangersOnline(ctx, setup.inspector, setup.rooms, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	rep.LeftoverOnline = len(online)
	rep.Examples = append(rep.Examples, online[:min(len(online), maxExamples)]...)

	streams := map[string][]EventRef{}
	for _, room := range setup.rooms {
		events, err := setup.inspector.EventsAfter(ctx, room, 0)
		if err != nil {
			return nil, fmt.Errorf("soak: read the stream of room %s: %w", room, err)
		}
		refs := make([]EventRef, len(events))
		for i, e := range events {
			refs[i] = EventRef{Seq: e.Seq, Kind: e.Type, Username: e.Username, ClientMsgID: e.ClientMsgID}
		}
		streams[room] = refs
		rep.StreamEvents += len(refs)
	}
	var found Findings
	var acks []ack
	describe := func(room string, seq int64) string {
		if i := int(seq - 1); i >= 0 && i < len(streams[room]) && streams[room][i].Seq == seq {
			return streams[room][i].String()
		}
		return fmt.Sprint(seq)
	}
	for _, c := range clients {
		c.mu.Lock()
		c.obs.gaps(describe)
		found.Add(c.obs.Findings)
		acks = append(acks, c.acks...)
		rep.Unacknowledged += len(c.pending)
		c.mu.Unlock()
	}
	found.Add(checkStreams(streams, acks, l))
	found.Add(l.Findings)
	rep.Lost, rep.Duplicated, rep.Reordered, rep.Mismatched = found.Lost, found.Duplicated, found.Reordered, found.Mismatched
	rep.Examples = append(rep.Examples, found.Examples()...)
	problemsMu.Lock()
	rep.Problems = problemCount
	rep.Examples = append(rep.Examples, problems...)
	problemsMu.Unlock()

	// The soak's own bookkeeping goes before the end is measured: what
	// remains should be what there was before anyone connected.
	clients, streams, acks, l = nil, nil, nil, nil
	_, _, _, _ = clients, streams, acks, l
	rep.HeapStart, rep.HeapEnd = heapStart, heapAfterGC()
	rep.HeapPeak, rep.HeapPeakLive = watch.peaks()
	rep.HeapBound = heapStart + heapSlack
	rep.judge()
	return rep, nil
}

// setup is who and where: the people, the rooms, who is in which.
type setup struct {
	inspector   *chatclient.Client
	users       []*chatclient.Client
	rooms       []string
	roomsOf     map[string][]string
	tokenHashes []string
}

// prepare signs up a checker, who owns every room and never chats, and the
// people, and puts each person in a few rooms. Names carry a run id so a
// long-running server can be soaked again.
func prepare(ctx context.Context, cfg Config, rng *rand.Rand) (*setup, error) {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	id := make([]byte, 6)
	for i := range id {
		id[i] = letters[rng.IntN(len(letters))]
	}
	// The seed repeats the choices; the run id must still be new on a
	// server soaked before, so part of it is the time.
	prefix := fmt.Sprintf("sk%s%04d", id, time.Now().UnixNano()%10000)
	password := "soak-" + prefix + "-password"
	inspector, err := chatclient.SignUp(ctx, cfg.HTTP, cfg.BaseURL, prefix+"_check", password)
	if err != nil {
		return nil, fmt.Errorf("soak: sign up the checker: %w", err)
	}
	s := &setup{inspector: inspector, roomsOf: map[string][]string{}}
	nUsers := (cfg.Connections + connectionsPerUser - 1) / connectionsPerUser
	s.users = make([]*chatclient.Client, nUsers)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errs := make([]error, nUsers)
	for i := range s.users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			s.users[i], errs[i] = chatclient.SignUp(ctx, cfg.HTTP, cfg.BaseURL, fmt.Sprintf("%s_u%04d", prefix, i), password)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("soak: sign up: %w", err)
	}
	for _, u := range s.users {
		hash, err := auth.TokenHash(u.Token)
		if err != nil {
			return nil, fmt.Errorf("soak: the server's token: %w", err)
		}
		s.tokenHashes = append(s.tokenHashes, hash)
	}
	members := make([][]string, cfg.Rooms)
	k := min(roomsPerUser, cfg.Rooms)
	for _, u := range s.users {
		for _, r := range rng.Perm(cfg.Rooms)[:k] {
			members[r] = append(members[r], u.Username)
		}
	}
	for r := range cfg.Rooms {
		room, err := inspector.CreateRoom(ctx, fmt.Sprintf("soak %s room %d", prefix, r), nil)
		if err != nil {
			return nil, fmt.Errorf("soak: create room %d: %w", r, err)
		}
		if err := inspector.AddMembers(ctx, room.RoomID, members[r]); err != nil {
			return nil, fmt.Errorf("soak: add members to room %d: %w", r, err)
		}
		s.rooms = append(s.rooms, room.RoomID)
		for _, name := range members[r] {
			s.roomsOf[name] = append(s.roomsOf[name], room.RoomID)
		}
	}
	return s, nil
}

// awaitNoLeftovers asks the store until nothing is left or timeout passes:
// a closed socket's $disconnect runs after the client has gone.
func awaitNoLeftovers(ctx context.Context, st ConnectionStore, ids, rooms, hashes []string, timeout time.Duration) (Leftovers, error) {
	deadline := time.Now().Add(timeout)
	for {
		left, err := countLeftovers(ctx, st, ids, rooms, hashes)
		if err != nil || left.total() == 0 || time.Now().After(deadline) {
			return left, err
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return left, ctx.Err()
		}
	}
}

// strangersOnline joins every room as the checker, who is in all of them
// and never chatted, and lists anyone else the history's online list
// still names: presence left behind, seen the way any client sees it.
func strangersOnline(ctx context.Context, checker *chatclient.Client, rooms []string, timeout time.Duration) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := checker.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("soak: the checker's connection: %w", err)
	}
	defer conn.CloseNow()
	var strangers []string
	for _, room := range rooms {
		if err := conn.Send(ctx, chatclient.JoinFrame(room, -1)); err != nil {
			return nil, err
		}
		for {
			raw, err := conn.Read(ctx)
			if err != nil {
				return nil, fmt.Errorf("soak: the checker's history of room %s: %w", room, err)
			}
			f, err := chatclient.ParseFrame(raw)
			if err != nil {
				return nil, err
			}
			if f.Type != "history" || f.RoomID != room {
				continue
			}
			for _, name := range f.Online {
				if name != checker.Username {
					strangers = append(strangers, fmt.Sprintf("room %s still shows %s online", room, name))
				}
			}
			break
		}
	}
	sort.Strings(strangers)
	return strangers, conn.Close()
}
