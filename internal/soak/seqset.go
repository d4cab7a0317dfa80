package soak

// seqSet is a set of seqs as a bitmap: a client sees every seq of a room
// from its first join on, so the set is dense and a bit each is all it
// costs, where a map would cost some fifty bytes a seq across thousands of
// client-room pairs.
type seqSet struct{ words []uint64 }

// add puts seq in the set and reports whether it was there already.
func (s *seqSet) add(seq int64) (had bool) {
	if seq < 0 {
		return false
	}
	w := int(seq / 64)
	if w >= len(s.words) {
		grown := make([]uint64, max(w+1, 2*len(s.words)))
		copy(grown, s.words)
		s.words = grown
	}
	bit := uint64(1) << (seq % 64)
	had = s.words[w]&bit != 0
	s.words[w] |= bit
	return had
}

func (s *seqSet) has(seq int64) bool {
	if seq < 0 {
		return false
	}
	w := int(seq / 64)
	return w < len(s.words) && s.words[w]&(uint64(1)<<(seq%64)) != 0
}
