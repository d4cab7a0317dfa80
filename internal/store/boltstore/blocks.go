package boltstore

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/chatroom/chat/internal/store"
)

// bucketBlocks holds a bucket per person who blocked anyone, keyed by the
// usernames they blocked. It is made by the first block, so a file written
// before blocking existed opens unchanged.
var bucketBlocks = []byte("blocks")

// blocked is the value of a block: the key says everything.
var blocked = []byte{1}

// Block implements store.Blocking. The count and the write are one
// transaction, and bbolt runs one writer at a time, so concurrent blocks
// cannot pass the limit together.
func (s *Store) Block(ctx context.Context, blocker, who string, limit int) error {
	if limit < 1 {
		return fmt.Errorf("boltstore: block limit %d is below 1", limit)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(bucketBlocks)
		if err != nil {
			return err
		}
		b, err := top.CreateBucketIfNotExists([]byte(blocker))
		if err != nil {
			return err
		}
		if b.Get([]byte(who)) != nil {
			return nil
		}
		// At most limit keys to walk: cheaper than keeping a count in step.
		n := 0
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if n++; n >= limit {
				return store.ErrLimit
			}
		}
		return b.Put([]byte(who), blocked)
	})
	if err != nil && !errors.Is(err, store.ErrLimit) {
		return fmt.Errorf("boltstore: block: %w", err)
	}
	return err
}

// Unblock implements store.Blocking.
func (s *Store) Unblock(ctx context.Context, blocker, who string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := blocksOf(tx, blocker)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(who))
	})
	if err != nil {
		return fmt.Errorf("boltstore: unblock: %w", err)
	}
	return nil
}

// Blocks implements store.Blocking: bbolt keeps keys in byte order, which
// for usernames is their order.
func (s *Store) Blocks(ctx context.Context, blocker string) ([]string, error) {
	var out []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := blocksOf(tx, blocker)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: blocks of %s: %w", blocker, err)
	}
	return out, nil
}

// BlockersAmong implements store.Blocking.
func (s *Store) BlockersAmong(ctx context.Context, target string, usernames []string) (map[string]bool, error) {
	out := make(map[string]bool)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, u := range usernames {
			if b := blocksOf(tx, u); b != nil && b.Get([]byte(target)) != nil {
				out[u] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: who blocked %s: %w", target, err)
	}
	return out, nil
}

func blocksOf(tx *bolt.Tx, blocker string) *bolt.Bucket {
	top := tx.Bucket(bucketBlocks)
	if top == nil {
		return nil
	}
	return top.Bucket([]byte(blocker))
}
