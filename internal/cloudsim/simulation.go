package cloudsim

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/awsmeter"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/chatclient"
	"github.com/chatroom/chat/internal/cost"
	"github.com/chatroom/chat/internal/lambdarie"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/wsapi"
)

// setupWidth bounds the seeding and dialling done at once.
const setupWidth = 16

// simulation is the running cloud and what seeds it.
type simulation struct {
	c      Config
	stack  *lambdarie.Stack
	meters string
	store  store.Store
	auth   *auth.Service
	rooms  *rooms.Service
	http   *http.Client
	// clients hold the rooms' client sockets (Config.ClientCommand).
	clients clients
	run     string // makes names unique between runs on one table
}

func newSimulation(_ context.Context, c Config, stack *lambdarie.Stack, meters string, cl clients) (*simulation, error) {
	st := stack.Emulator.Store
	// People are made here, not through the auth function: a sign-up's
	// password hash is deliberately slow, and is not what is measured.
	cfg := auth.DefaultConfig()
	cfg.Params = authtest.Params
	a, err := auth.NewService(st, cfg, c.Logger)
	if err != nil {
		return nil, err
	}
	rs, err := rooms.NewService(st, c.Logger, time.Now, nil)
	if err != nil {
		return nil, err
	}
	return &simulation{c: c, stack: stack, meters: meters, store: st, auth: a, rooms: rs,
		http:    &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: setupWidth}},
		clients: cl,
		run:     strconv.FormatInt(time.Now().Unix()%100000, 36)}, nil
}

// room is one room of the simulation with its sockets open and joined;
// the sockets themselves are s.clients'.
type room struct {
	id      string
	members []*chatclient.Client
	sockets int
}

// measure seeds a room of n connections, sends it c.Messages messages and
// takes it down again.
func (s *simulation) measure(ctx context.Context, n int) (Result, error) {
	perMember := s.c.SocketsPerMember
	if perMember <= 0 {
		perMember = (n + chat.MaxMembers - 1) / chat.MaxMembers
	}
	members := (n + perMember - 1) / perMember
	if members > chat.MaxMembers {
		return Result{}, fmt.Errorf("%d connections at %d a member need %d members, past the %d a room holds", n, perMember, members, chat.MaxMembers)
	}
	if perMember > wsapi.MaxConnectionsPerUser {
		return Result{}, fmt.Errorf("%d connections need %d sockets a member, past the %d allowed", n, perMember, wsapi.MaxConnectionsPerUser)
	}
	start := time.Now()
	replacedBefore := s.stack.Replaced()
	// The tally counts from the sockets' first frames; nothing of this
	// run's messages comes before the sends.
	tally := newTally(s.c.Messages, n)
	r, err := s.seed(ctx, n, members, tally)
	if err != nil {
		return Result{}, err
	}
	defer s.takeDown(r)
	fmt.Fprintf(s.c.Progress, "room of %d: %d members, %d sockets joined in %v\n", n, members, r.sockets, time.Since(start).Round(time.Millisecond))

	// A big room's sends are spaced so its posts stay under half the
	// account's rate: what is measured is a message, not the quota.
	interval := s.c.Interval
	if s.c.PostRate > 0 {
		interval = max(interval, time.Duration(float64(n)/(s.c.PostRate/2)*float64(time.Second)))
	}
	time.Sleep(time.Second) // the meters' last writes of the seeding
	meterBefore, err := awsmeter.ReadDir(s.meters)
	if err != nil {
		return Result{}, err
	}
	s.stack.ResetInvocations()
	cpuBefore := sampleCPU(s.processes)
	sendStart := time.Now()
	for k := range s.c.Messages {
		sender := k % min(s.c.Senders, members) // socket j is member j%members's
		at := sendStart.Add(time.Duration(k) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return Result{}, ctx.Err()
			}
		}
		if s.c.OneAtATime && k > 0 && !tally.waitMessage(ctx, k-1, s.c.Drain) {
			return Result{}, fmt.Errorf("message %d did not reach every socket within %v", k-1, s.c.Drain)
		}
		at, err := s.clients.send(ctx, sender, chatclient.SendFrame(r.id, messageID(k), "message "+strconv.Itoa(k)))
		if err != nil {
			return Result{}, fmt.Errorf("sending message %d: %w", k, err)
		}
		tally.sent(k, at)
	}
	tally.wait(ctx, s.c.Drain)
	cpuAfter := sampleCPU(s.processes)
	time.Sleep(500 * time.Millisecond) // the meters' last writes
	meterAfter, err := awsmeter.ReadDir(s.meters)
	if err != nil {
		return Result{}, err
	}
	res := s.result(n, members, tally, meterAfter.Sub(meterBefore), s.stack.Invocations())
	if cpuBefore.ok && cpuAfter.ok {
		res.HostBusy = cpuAfter.host.busySince(cpuBefore.host)
	}
	res.CPU = cpuPerMessage(cpuBefore, cpuAfter, s.c.Messages)
	res.Replaced = s.stack.Replaced() - replacedBefore
	return res, nil
}

// processes names the processes of each part of the machine
// (cpuparts.go): each function's, by its logical id, and the others.
func (s *simulation) processes() map[string][]int {
	out := map[string][]int{partRIEs: s.stack.RIEPIDs(), partGateway: {os.Getpid()}}
	for fn, groups := range s.stack.CPUGroups() {
		for _, g := range groups {
			if pids, err := g.Procs(); err == nil {
				out[fn] = append(out[fn], pids...)
			}
		}
	}
	if pid := s.stack.Emulator.DynamoDBLocalPID; pid != 0 {
		out[partDynamoDB] = []int{pid}
	}
	if pid := s.clients.pid(); pid != 0 {
		out[partClients] = []int{pid}
	}
	return out
}

// seed makes the room's people, the room, and n sockets joined to it.
func (s *simulation) seed(ctx context.Context, n, members int, t *tally) (*room, error) {
	r := &room{members: make([]*chatclient.Client, members)}
	names := make([]string, members)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(setupWidth)
	for i := range members {
		names[i] = fmt.Sprintf("sim%s%dx%d", s.run, n, i)
		g.Go(func() error {
			sess, err := s.auth.Signup(gctx, names[i], "correct horse battery staple")
			if err != nil {
				return fmt.Errorf("signing up %s: %w", names[i], err)
			}
			r.members[i] = &chatclient.Client{BaseURL: s.stack.Emulator.URL, HTTP: s.http, Username: sess.Username, Token: sess.Token}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	created, err := s.rooms.Create(ctx, names[0], fmt.Sprintf("room of %d", n), names[1:min(members, chat.MaxMembersPerChange+1)])
	if err != nil {
		return nil, fmt.Errorf("creating the room: %w", err)
	}
	r.id = created.ID
	for from := chat.MaxMembersPerChange + 1; from < members; from += chat.MaxMembersPerChange {
		change, err := s.rooms.AddMembers(ctx, names[0], r.id, names[from:min(members, from+chat.MaxMembersPerChange)], false)
		if err != nil {
			return nil, fmt.Errorf("adding members: %w", err)
		}
		change.Delivery.Done() // nobody has a socket yet: nothing to push
	}
	// The sockets open through the gateway and the $connect function, as
	// people's would; they join in the store, directly: n joins through
	// join_room would announce each to all before it, n²/2 posts.
	// A ticket lasts a minute, and dialling thousands takes longer: they
	// are issued, and their sockets opened, a batch at a time.
	for first := 0; first < n; first += openBatch {
		tickets := make([]string, min(n-first, openBatch))
		g, gctx = errgroup.WithContext(ctx)
		g.SetLimit(setupWidth)
		for j := range tickets {
			g.Go(func() error {
				ticket, err := s.auth.IssueTicket(gctx, identityOf(r.members[(first+j)%members]))
				if err != nil {
					return fmt.Errorf("socket %d's ticket: %w", first+j, err)
				}
				tickets[j] = ticket.Value
				return nil
			})
		}
		err := g.Wait()
		if err == nil {
			err = s.clients.open(ctx, s.stack.Emulator.URL, first, tickets, t)
		}
		if err != nil {
			s.closeSockets()
			return nil, err
		}
		r.sockets += len(tickets)
	}
	presences := make([][]store.Presence, members)
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(setupWidth)
	for i, name := range names {
		g.Go(func() error {
			ids, err := s.store.UserConnections(gctx, name)
			if err != nil {
				return err
			}
			for _, id := range ids {
				presences[i] = append(presences[i], store.Presence{ConnectionID: id, Username: name, ExpiresAt: time.Now().Add(wsapi.ConnectionTTL)})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		s.closeSockets()
		return nil, err
	}
	joinStart := time.Now()
	joined := 0
	for _, ps := range presences {
		for _, p := range ps {
			if err := s.join(ctx, r.id, p); err != nil {
				s.closeSockets()
				return nil, err
			}
			if joined++; joined%2000 == 0 {
				fmt.Fprintf(s.c.Progress, "room of %d: %d sockets joined in %v\n", n, joined, time.Since(joinStart).Round(time.Millisecond))
			}
		}
	}
	// The joins were announced to nobody: mark them delivered, or the
	// first message would wait out rooms.MaxOrderWait for them.
	seeded, err := s.store.RoomAs(ctx, r.id)
	if err == nil {
		err = s.store.MarkDelivered(ctx, r.id, store.AllSlots, seeded.Version)
	}
	if err != nil {
		s.closeSockets()
		return nil, fmt.Errorf("marking the joins delivered: %w", err)
	}
	return r, nil
}

// join records socket p in the room as rooms.Join does, the user_joined
// event and the presence in one append, but without what rooms.Join does
// next: list the room's connections for the announcement, which nobody
// is sent here. n joins would read up to n rows each, minutes for a room
// of 10,000. The joins append to one stream, so they go one at a time.
func (s *simulation) join(ctx context.Context, roomID string, p store.Presence) error {
	state, err := s.store.RoomAs(ctx, roomID, p.Username)
	if err != nil {
		return fmt.Errorf("joining %s: %w", p.Username, err)
	}
	events, err := state.Join(p.Username, time.Now())
	if err != nil {
		return fmt.Errorf("joining %s: %w", p.Username, err)
	}
	req := store.AppendRequest{RoomID: roomID, ExpectedVersion: state.Version, Messages: state.Messages, Events: events, Join: &p}
	if _, err := s.store.Append(ctx, req); err != nil {
		return fmt.Errorf("joining %s: %w", p.Username, err)
	}
	return nil
}

// takeDown forgets the room's sockets in the store first, so that their
// $disconnect finds nothing to announce (n closes would otherwise post
// n²/2 leave lines), then closes them.
func (s *simulation) takeDown(r *room) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	present, err := s.store.RoomConnections(ctx, r.id)
	if err != nil {
		s.c.Logger.Warn("listing the room's sockets", "error", err.Error())
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(setupWidth)
	for _, p := range present {
		g.Go(func() error { return s.store.DeleteConnection(gctx, p.ConnectionID) })
	}
	if err := g.Wait(); err != nil {
		s.c.Logger.Warn("forgetting the room's sockets", "error", err.Error())
	}
	s.closeSockets()
}

func (s *simulation) closeSockets() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.clients.close(ctx); err != nil {
		s.c.Logger.Warn("closing the room's sockets", "error", err.Error())
	}
}

func identityOf(c *chatclient.Client) auth.Identity {
	hash, _ := auth.TokenHash(c.Token)
	return auth.Identity{Username: c.Username, TokenHash: hash}
}

func messageID(k int) string { return "sim-" + strconv.Itoa(k) }

// result turns the counts into the figures per message.
func (s *simulation) result(n, members int, t *tally, used awsmeter.Snapshot, inv map[string]lambdarie.InvocationStats) Result {
	res := Result{Connections: n, Members: members, Messages: s.c.Messages}
	lat := t.latencies()
	res.P50, res.P99, res.Max = quantile(lat, 0.50), quantile(lat, 0.99), quantile(lat, 1)
	res.Lost, res.Duplicated, res.Reordered = t.lost(), int(t.duplicated.Load()), int(t.reordered.Load())
	res.Problems = t.problems()
	per := 1 / float64(s.c.Messages)
	posts := used[awsmeter.Operation{Service: awsmeter.ServiceManagementAPI, Name: "PostToConnection"}]
	res.Posts = float64(posts.Calls) * per
	res.Throttled = float64(posts.Errors) * per
	db := used.Service(awsmeter.ServiceDynamoDB)
	res.RCU, res.WCU = db.ReadCapacityUnits*per, db.WriteCapacityUnits*per
	var calls int64
	var gbs float64
	res.Functions = map[string]FunctionTime{}
	for name, st := range inv {
		calls += st.Count
		gbs += st.GBSeconds()
		if st.Count > 0 {
			res.Functions[name] = FunctionTime{Invocations: float64(st.Count) * per, Mean: st.Duration / time.Duration(st.Count), Max: st.Max}
		}
	}
	res.Invocations = float64(calls) * per
	res.GBSeconds = gbs * per
	bill, err := cost.Of(cost.PerMessage{
		RoomSize: n, IncomingMessageUnits: 1, OutgoingMessageUnits: float64(posts.MessageUnits) * per,
		LambdaInvocations: res.Invocations,
		// GB-seconds, as seconds at 1 GB: the functions' sizes may differ.
		LambdaDuration: time.Duration(res.GBSeconds * float64(time.Second)), LambdaMemoryMB: 1024,
		ReadRequestUnits: res.RCU, WriteRequestUnits: res.WCU,
	})
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	res.Cost, res.Floor = bill.Total, cost.FloorPerMillion(n)
	return res
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
