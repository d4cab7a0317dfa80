package dynamostore

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// maxParallelWrites bounds the single-item writes one call runs at once
// when it changes a row in each of a user's rooms (a connect, a
// disconnect) or each member row of a room (a repair): the rest wait for
// a free slot, so a user in many rooms takes longer rather than bursting
// the partition or the client's connection pool.
const maxParallelWrites = 8

// forEach runs fn on each of items, at most maxParallelWrites at once, and
// returns the first error.
func forEach[T any](ctx context.Context, items []T, fn func(context.Context, T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelWrites)
	for _, it := range items {
		g.Go(func() error { return fn(ctx, it) })
	}
	return g.Wait()
}
