package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/chatroom/chat/internal/store"
)

// blockTests are the suite's cases for store.Blocking.
var blockTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"Blocks", testBlocks},
	{"BlockLimit", testBlockLimit},
	{"ConcurrentBlocksKeepTheLimit", testConcurrentBlocks},
}

func wantBlocks(t testing.TB, s store.Store, blocker string, want ...string) {
	t.Helper()
	got, err := s.Blocks(context.Background(), blocker)
	if err != nil {
		t.Fatalf("Blocks(%s): %v", blocker, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Blocks(%s) = %q, want %q", blocker, got, want)
	}
}

func wantBlockers(t testing.TB, s store.Store, target string, among []string, want ...string) {
	t.Helper()
	got, err := s.BlockersAmong(context.Background(), target, among)
	if err != nil {
		t.Fatalf("BlockersAmong(%s): %v", target, err)
	}
	wantSet := map[string]bool{}
	for _, u := range want {
		wantSet[u] = true
	}
	if !maps.Equal(got, wantSet) {
		t.Fatalf("BlockersAmong(%s, %d names) = %v, want %v", target, len(among), got, wantSet)
	}
}

func testBlocks(t *testing.T, s store.Store) {
	ctx := context.Background()
	const limit = 1000
	wantBlocks(t, s, "alice")
	for _, u := range []string{"zoe", "bob", "carol"} {
		if err := s.Block(ctx, "alice", u, limit); err != nil {
			t.Fatalf("alice blocks %s: %v", u, err)
		}
	}
	if err := s.Block(ctx, "dave", "bob", limit); err != nil {
		t.Fatal(err)
	}
	wantBlocks(t, s, "alice", "bob", "carol", "zoe") // sorted, whatever the order of blocking
	wantBlocks(t, s, "dave", "bob")
	wantBlocks(t, s, "bob") // a block goes one way

	// Blocking again changes nothing.
	if err := s.Block(ctx, "alice", "bob", limit); err != nil {
		t.Fatalf("blocking again: %v", err)
	}
	wantBlocks(t, s, "alice", "bob", "carol", "zoe")

	wantBlockers(t, s, "bob", []string{"alice", "carol", "dave", "erin", "alice"}, "alice", "dave")
	wantBlockers(t, s, "alice", []string{"bob", "carol", "zoe"})
	wantBlockers(t, s, "bob", nil)
	// More names than one DynamoDB batch holds, the blockers at either end.
	many := []string{"dave"}
	for i := range 150 {
		many = append(many, fmt.Sprintf("ghost_%d", i))
	}
	many = append(many, "alice")
	wantBlockers(t, s, "bob", many, "alice", "dave")

	if err := s.Unblock(ctx, "alice", "bob"); err != nil {
		t.Fatal(err)
	}
	wantBlocks(t, s, "alice", "carol", "zoe")
	wantBlockers(t, s, "bob", []string{"alice", "dave"}, "dave")
	// Unblocking is idempotent, and unblocking someone never blocked is
	// nothing at all.
	for _, u := range []string{"bob", "nobody"} {
		if err := s.Unblock(ctx, "alice", u); err != nil {
			t.Fatalf("unblock %s: %v", u, err)
		}
	}
	if err := s.Unblock(ctx, "nobody", "alice"); err != nil {
		t.Fatal(err)
	}
	wantBlocks(t, s, "alice", "carol", "zoe")
	wantBlocks(t, s, "nobody")
}

func testBlockLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	const limit = 3
	for _, u := range []string{"bob", "carol", "dave"} {
		if err := s.Block(ctx, "alice", u, limit); err != nil {
			t.Fatalf("block %s: %v", u, err)
		}
	}
	if err := s.Block(ctx, "alice", "erin", limit); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("a block past the limit: %v, want ErrLimit", err)
	}
	wantBlocks(t, s, "alice", "bob", "carol", "dave")
	wantBlockers(t, s, "erin", []string{"alice"})
	// Blocking someone already blocked is no new block.
	if err := s.Block(ctx, "alice", "carol", limit); err != nil {
		t.Fatalf("blocking again at the limit: %v", err)
	}
	// An unblock makes room, and a repeated unblock makes no more.
	for range 2 {
		if err := s.Unblock(ctx, "carol" /* never blocked anyone */, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.Unblock(ctx, "alice", "carol"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Block(ctx, "alice", "erin", limit); err != nil {
		t.Fatalf("a block after an unblock: %v", err)
	}
	if err := s.Block(ctx, "alice", "frank", limit); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("a block past the limit after unblocks: %v, want ErrLimit", err)
	}
	wantBlocks(t, s, "alice", "bob", "dave", "erin")
	// The limit is each person's own.
	if err := s.Block(ctx, "bob", "alice", limit); err != nil {
		t.Fatal(err)
	}
}

// testConcurrentBlocks races blocks for one person: together they never
// pass the limit, and blocks and unblocks of the same name racing each
// other leave the count true.
func testConcurrentBlocks(t *testing.T, s store.Store) {
	ctx := context.Background()
	const limit = 5
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Block(ctx, "alice", fmt.Sprintf("user_%02d", i), limit) })
	}
	wg.Wait()
	var won []string
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, fmt.Sprintf("user_%02d", i))
		case !errors.Is(err, store.ErrLimit):
			t.Fatalf("block %d: %v", i, err)
		}
	}
	if len(won) != limit {
		t.Fatalf("%d of %d racing blocks stored, want the limit, %d", len(won), len(errs), limit)
	}
	wantBlocks(t, s, "alice", won...)

	for _, u := range won {
		if err := s.Unblock(ctx, "alice", u); err != nil {
			t.Fatal(err)
		}
	}
	// Each writer ends on an unblock, so whatever the interleaving the
	// last write to each name is one: both end unblocked.
	for w := range 4 {
		wg.Go(func() {
			for i := range 5 {
				u := []string{"x_user", "y_user"}[(w+i)%2]
				if err := s.Block(ctx, "alice", u, limit); err != nil {
					t.Errorf("block %s: %v", u, err)
				}
				if err := s.Unblock(ctx, "alice", u); err != nil {
					t.Errorf("unblock %s: %v", u, err)
				}
			}
		})
	}
	wg.Wait()
	wantBlocks(t, s, "alice")
	// The count agrees: exactly limit fresh blocks fit.
	for i := range limit {
		if err := s.Block(ctx, "alice", fmt.Sprintf("fresh_%d", i), limit); err != nil {
			t.Fatalf("fresh block %d after the race: %v (the count drifted)", i, err)
		}
	}
	if err := s.Block(ctx, "alice", "one_more", limit); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("block past the limit after the race: %v, want ErrLimit (the count drifted)", err)
	}
	wantBlocks(t, s, "alice", "fresh_0", "fresh_1", "fresh_2", "fresh_3", "fresh_4")
}
