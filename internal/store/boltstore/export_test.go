package boltstore

import (
	bolt "go.etcd.io/bbolt"
)

// RawItems returns every key and value in the file, each as text, nested
// buckets included: what a look at the file with a bbolt browser shows.
func (s *Store) RawItems() []string {
	var out []string
	var walk func(b *bolt.Bucket)
	walk = func(b *bolt.Bucket) {
		_ = b.ForEach(func(k, v []byte) error {
			if v == nil {
				walk(b.Bucket(k))
				return nil
			}
			out = append(out, string(k)+"="+string(v))
			return nil
		})
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			walk(b)
			return nil
		})
	})
	return out
}
