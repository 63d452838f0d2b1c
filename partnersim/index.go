package partnersim

import (
	"slices"
	"sort"
)

// maxPending is how many new keys wait, sorted, beside the main index
// before they are merged into it (an O(n) merge every maxPending new keys).
const maxPending = 4096

// keyIndex keeps one entity's keys in order so that a list page costs
// O(page + log n) instead of sorting every record: a large sorted slice and
// a small sorted slice of keys added since the last merge. Keys are never
// removed; a list skips keys whose record is gone or a tombstone.
type keyIndex struct {
	sorted  []string
	pending []string
}

// add records a new key (one the records map did not hold).
func (x *keyIndex) add(k string) {
	if _, found := slices.BinarySearch(x.sorted, k); found {
		return // a dropped record written again
	}
	i, found := slices.BinarySearch(x.pending, k)
	if found {
		return
	}
	x.pending = slices.Insert(x.pending, i, k)
	if len(x.pending) > maxPending {
		x.merge()
	}
}

// addMany records many new keys at once: one sort and one merge.
func (x *keyIndex) addMany(keys []string) {
	x.pending = append(x.pending, keys...)
	slices.Sort(x.pending)
	x.pending = slices.Compact(x.pending)
	x.merge()
}

func (x *keyIndex) merge() {
	if len(x.pending) == 0 {
		return
	}
	out := make([]string, 0, len(x.sorted)+len(x.pending))
	i, j := 0, 0
	for i < len(x.sorted) && j < len(x.pending) {
		switch {
		case x.sorted[i] < x.pending[j]:
			out = append(out, x.sorted[i])
			i++
		case x.sorted[i] > x.pending[j]:
			out = append(out, x.pending[j])
			j++
		default:
			out = append(out, x.sorted[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, x.sorted[i:]...)
	out = append(out, x.pending[j:]...)
	x.sorted, x.pending = out, nil
}

// walk calls fn with every key greater than after, in order, until fn
// returns false.
func (x *keyIndex) walk(after string, fn func(k string) bool) {
	i := sort.Search(len(x.sorted), func(n int) bool { return x.sorted[n] > after })
	j := sort.Search(len(x.pending), func(n int) bool { return x.pending[n] > after })
	for i < len(x.sorted) || j < len(x.pending) {
		var k string
		if j >= len(x.pending) || i < len(x.sorted) && x.sorted[i] < x.pending[j] {
			k, i = x.sorted[i], i+1
		} else {
			k, j = x.pending[j], j+1
		}
		if !fn(k) {
			return
		}
	}
}

// len is the number of keys ever seen.
func (x *keyIndex) len() int { return len(x.sorted) + len(x.pending) }

// at is the n-th key (0 ≤ n < len) after merging: for picking at random.
func (x *keyIndex) at(n int) string {
	x.merge()
	return x.sorted[n]
}

// index returns the key index of an entity, creating it.
func (s *Server) index(entity string) *keyIndex {
	x := s.keys[entity]
	if x == nil {
		x = &keyIndex{}
		s.keys[entity] = x
	}
	return x
}

// setRecord stores a record and keeps the key index; s.mu is held.
func (s *Server) setRecord(id recordID, rec *record) {
	if _, ok := s.records[id]; !ok {
		s.index(id.entity).add(id.key)
	}
	s.records[id] = rec
}
