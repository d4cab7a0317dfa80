package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/rooms"
)

func (f *faultStore) Block(ctx context.Context, blocker, blocked string, limit int) error {
	if err := f.hit("Block"); err != nil {
		return err
	}
	return f.Store.Block(ctx, blocker, blocked, limit)
}

func (f *faultStore) Unblock(ctx context.Context, blocker, blocked string) error {
	if err := f.hit("Unblock"); err != nil {
		return err
	}
	return f.Store.Unblock(ctx, blocker, blocked)
}

func (f *faultStore) Blocks(ctx context.Context, blocker string) ([]string, error) {
	if err := f.hit("Blocks"); err != nil {
		return nil, err
	}
	return f.Store.Blocks(ctx, blocker)
}

func (f *faultStore) BlockersAmong(ctx context.Context, target string, usernames []string) (map[string]bool, error) {
	if err := f.hit("BlockersAmong"); err != nil {
		return nil, err
	}
	return f.Store.BlockersAmong(ctx, target, usernames)
}

func (e *env) blocks(t *testing.T, username string) response {
	t.Helper()
	return e.as(t, username, "list-blocks.json", "")
}

func (e *env) block(t *testing.T, username, who string) response {
	t.Helper()
	return e.as(t, username, "block-user.json", "", withJSON(map[string]string{"username": who}))
}

func (e *env) unblock(t *testing.T, username, who string) response {
	t.Helper()
	return e.as(t, username, "unblock-user.json", "", withParam("username", who))
}

// TestBlocks: POST, DELETE and GET /me/blocks, and what a block does to
// the one blocked: they cannot add the blocker anywhere, and are told the
// blocker does not exist.
func TestBlocks(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol", "dave")
		e.blocks(t, "alice").wantJSON(t, 200, `{"usernames": []}`)

		// The file blocks bob.
		e.as(t, "alice", "block-user.json", "").wantStatus(t, 204)
		e.block(t, "alice", "Dave").wantStatus(t, 204)
		e.block(t, "alice", "bob").wantStatus(t, 204) // again: nothing changes
		e.blocks(t, "alice").wantJSON(t, 200, `{"usernames": ["bob", "dave"]}`)
		e.blocks(t, "bob").wantJSON(t, 200, `{"usernames": []}`)

		// bob cannot bring alice into a room, alone or with others, and
		// hears what he would of someone with no account; nothing of the
		// request happens.
		room := e.createRoom(t, "bob", "bobs", "carol")
		for _, c := range []struct {
			name      string
			file      string
			room      string
			body      map[string]any
			usernames []string
		}{
			{"create with her", "create-room.json", "", map[string]any{"name": "r", "members": []string{"alice"}}, []string{"alice"}},
			{"create with her and carol", "create-room.json", "", map[string]any{"name": "r", "members": []string{"carol", "ALICE"}}, []string{"alice"}},
			{"create with her and someone unknown", "create-room.json", "", map[string]any{"name": "r", "members": []string{"zed", "alice"}}, []string{"zed", "alice"}},
			{"add her", "add-members.json", room, map[string]any{"usernames": []string{"alice"}}, []string{"alice"}},
			{"add her as admin", "add-members.json", room, map[string]any{"usernames": []string{"alice"}, "admin": true}, []string{"alice"}},
			{"add her with someone addable", "add-members.json", room, map[string]any{"usernames": []string{"alice", "dave"}}, []string{"alice"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					e.as(t, "bob", c.file, c.room, withJSON(c.body)).wantError(t, 404, "user_not_found", c.usernames...)
				})
			})
		}
		e.listRooms(t, "alice").wantJSON(t, 200, `{"rooms": [], "next": null}`)

		// The block is alice's against bob alone: carol can add her, and
		// alice (who is not blocked by bob) can add bob.
		e.createRoom(t, "carol", "carols", "alice")
		e.createRoom(t, "alice", "alices", "bob")

		// Unblocked, bob can add her; unblocking again, or someone never
		// blocked, or someone with no account, is the same 204.
		e.as(t, "alice", "unblock-user.json", "").wantStatus(t, 204)
		for _, u := range []string{"bob", "carol", "zed", "alice"} {
			e.unblock(t, "alice", u).wantStatus(t, 204)
		}
		e.blocks(t, "alice").wantJSON(t, 200, `{"usernames": ["dave"]}`)
		e.addMembers(t, "bob", room, false, "alice").wantStatus(t, 200)
		e.notes.take()
	})
}

// TestBlockRefused: what a block request may be refused for, in the
// contract's order, changing nothing.
func TestBlockRefused(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob")
		e.block(t, "alice", "bob").wantStatus(t, 204)
		list := `{"usernames": ["bob"]}`
		for _, c := range []struct {
			name      string
			file      string
			token     string
			mods      []mod
			status    int
			code      string
			usernames []string
		}{
			{"yourself", "block-user.json", "alice", []mod{withJSON(map[string]string{"username": "alice"})}, 400, "invalid_username", []string{"alice"}},
			{"yourself in capitals", "block-user.json", "alice", []mod{withJSON(map[string]string{"username": "Alice"})}, 400, "invalid_username", []string{"alice"}},
			{"someone with no account", "block-user.json", "alice", []mod{withJSON(map[string]string{"username": "zed"})}, 404, "user_not_found", []string{"zed"}},
			{"a malformed name", "block-user.json", "alice", []mod{withJSON(map[string]string{"username": "b!"})}, 400, "invalid_username", []string{"b!"}},
			{"no name", "block-user.json", "alice", []mod{withBody(`{}`)}, 400, "invalid_username", nil},
			{"a name that is not a string", "block-user.json", "alice", []mod{withBody(`{"username": ["bob"]}`)}, 400, "invalid_json", nil},
			{"not JSON", "block-user.json", "alice", []mod{withBody(`{"username": "bob"`)}, 400, "invalid_json", nil},
			{"unblock a malformed name", "unblock-user.json", "alice", []mod{withParam("username", "b!")}, 400, "invalid_username", []string{"b!"}},
			{"block without a token", "block-user.json", "", []mod{withBody(`{`)}, 401, "unauthenticated", nil},
			{"unblock without a token", "unblock-user.json", "", nil, 401, "unauthenticated", nil},
			{"list without a token", "list-blocks.json", "", nil, 401, "unauthenticated", nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				token := ""
				if c.token != "" {
					token = e.token(t, c.token)
				}
				e.unchanged(t, func() {
					e.send(t, "rooms", c.file, token, "", c.mods...).wantError(t, c.status, c.code, c.usernames...)
				})
				e.blocks(t, "alice").wantJSON(t, 200, list)
			})
		}
	})
}

// TestBlockLimit fills alice's list to rooms.MaxBlocks, the last one
// through the route, and blocks once more: 400 too_many_blocks. The store
// suite holds the limit on both stores under racing writers; here it is
// the answer that counts, so the embedded store alone spares DynamoDB
// Local a thousand transactions.
func TestBlockLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, adapters[0].Open(t))
	e.signup(t, "alice", "bob", "carol")
	for i := range rooms.MaxBlocks - 1 {
		if err := e.raw.Block(context.Background(), "alice", fmt.Sprintf("filler_%04d", i), rooms.MaxBlocks); err != nil {
			t.Fatal(err)
		}
	}
	e.block(t, "alice", "bob").wantStatus(t, 204)
	e.block(t, "alice", "carol").wantError(t, 400, "too_many_blocks")
	e.block(t, "alice", "bob").wantStatus(t, 204) // already blocked: no new block
	var body struct{ Usernames []string }
	e.blocks(t, "alice").decode(t, &body)
	if len(body.Usernames) != rooms.MaxBlocks || body.Usernames[0] != "bob" {
		t.Fatalf("GET /me/blocks lists %d, first %q; want %d, bob first", len(body.Usernames), body.Usernames[:1], rooms.MaxBlocks)
	}
	e.unblock(t, "alice", "filler_0000").wantStatus(t, 204)
	e.block(t, "alice", "carol").wantStatus(t, 204)
}

// TestBlockInternalErrors: a store failure on the way of a block, or of
// the block check of an add, is a 500 that says nothing of the cause,
// which is logged with the request id; nothing is stored, added or
// blocked.
func TestBlockInternalErrors(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol")
		room := e.createRoom(t, "alice", "general")
		e.block(t, "carol", "bob").wantStatus(t, 204)
		addCarol := withJSON(map[string]any{"usernames": []string{"carol"}})
		for _, c := range []struct {
			name, file, user, room, method string
			mods                           []mod
		}{
			{"block: look the user up", "block-user.json", "alice", "", "ExistingUsers", nil},
			{"block: store it", "block-user.json", "alice", "", "Block", nil},
			{"unblock", "unblock-user.json", "carol", "", "Unblock", nil},
			{"list blocks", "list-blocks.json", "carol", "", "Blocks", nil},
			{"create a room: who blocked the owner", "create-room.json", "alice", "", "BlockersAmong", []mod{withJSON(map[string]any{"name": "r", "members": []string{"carol"}})}},
			{"add members: who blocked the adder", "add-members.json", "alice", room, "BlockersAmong", []mod{addCarol}},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := e.snapshot(t)
				blocks := map[string]string{}
				for _, u := range []string{"alice", "carol"} {
					blocks[u] = e.blocks(t, u).Body
				}
				e.notes.take()
				e.logs.take()
				e.st.set(c.method, connRefused, nil)
				r := e.as(t, c.user, c.file, c.room, c.mods...)
				e.st.clear()
				r.wantJSON(t, 500, `{"error": {"code": "internal", "message": "~."}}`)
				for _, leak := range []string{"refused", "10.0.3.7", "store", c.method} {
					if strings.Contains(strings.ToLower(r.Body), strings.ToLower(leak)) {
						t.Errorf("the 500 body leaks %q: %s", leak, r.Body)
					}
				}
				wantLogLine(t, e.logs.take(), "ERROR", r.req.RequestContext.RequestID, "connection refused")
				if after := e.snapshot(t); after != before {
					t.Errorf("the store changed on a failed request:\nbefore:\n%s\nafter:\n%s", before, after)
				}
				for u, was := range blocks {
					if now := e.blocks(t, u).Body; now != was {
						t.Errorf("%s's blocks went from %s to %s on a failed request", u, was, now)
					}
				}
				e.wantNoNotes(t)
			})
		}
	})
}
