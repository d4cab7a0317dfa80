package faults

import "context"

// Block implements store.Store.
func (s *Store) Block(ctx context.Context, blocker, blocked string, limit int) error {
	return call0(s, "Block", func() error { return s.inner.Block(ctx, blocker, blocked, limit) })
}

// Unblock implements store.Store.
func (s *Store) Unblock(ctx context.Context, blocker, blocked string) error {
	return call0(s, "Unblock", func() error { return s.inner.Unblock(ctx, blocker, blocked) })
}

// Blocks implements store.Store.
func (s *Store) Blocks(ctx context.Context, blocker string) ([]string, error) {
	return call(s, "Blocks", func() ([]string, error) { return s.inner.Blocks(ctx, blocker) })
}

// BlockersAmong implements store.Store.
func (s *Store) BlockersAmong(ctx context.Context, target string, usernames []string) (map[string]bool, error) {
	return call(s, "BlockersAmong", func() (map[string]bool, error) { return s.inner.BlockersAmong(ctx, target, usernames) })
}
