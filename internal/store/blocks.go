package store

import "context"

// Blocking holds whom each person blocked. Someone who blocked you cannot
// be added by you to a room; the use cases ask BlockersAmong before an add.
type Blocking interface {
	// Block records that blocker blocked blocked. Blocking someone already
	// blocked changes nothing and succeeds, even at the limit. When blocker
	// already holds limit blocks it returns ErrLimit and stores nothing;
	// the count holds under concurrent writers.
	Block(ctx context.Context, blocker, blocked string, limit int) error
	// Unblock removes the block. It is idempotent.
	Unblock(ctx context.Context, blocker, blocked string) error
	// Blocks lists whom blocker blocked, sorted by username.
	Blocks(ctx context.Context, blocker string) ([]string, error)
	// BlockersAmong reports which of usernames blocked target, read
	// consistently (a block takes effect at once). It costs one batch read
	// per hundred names, never one read per name.
	BlockersAmong(ctx context.Context, target string, usernames []string) (map[string]bool, error)
}
