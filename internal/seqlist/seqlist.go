// Package seqlist keeps queued entries in memory in the order of their
// sequence numbers. Entries join at the end and may leave from anywhere, as
// when one event of an envelope is rejected, but they usually leave from
// the front, which the list makes cheap.
package seqlist

// List holds entries of type E in increasing order of the sequence number
// that its seq function reads. The zero value cannot be used, so call New.
type List[E any] struct {
	seq  func(*E) int64
	size func(*E) int

	// entries are ordered by sequence number. Those before head, and those
	// marked in removed, have been removed.
	entries []E
	removed []bool
	head    int
	n       int
	bytes   int64
}

// New returns an empty list whose entries have the sequence number seq and
// the size in bytes size.
func New[E any](seq func(*E) int64, size func(*E) int) *List[E] {
	return &List[E]{seq: seq, size: size}
}

// Push adds e at the end. Its sequence number must be larger than that of
// every entry pushed before.
func (l *List[E]) Push(e E) {
	l.entries = append(l.entries, e)
	l.removed = append(l.removed, false)
	l.n++
	l.bytes += int64(l.size(&e))
}

// Len returns the number of entries.
func (l *List[E]) Len() int { return l.n }

// Bytes returns the total size of the entries.
func (l *List[E]) Bytes() int64 { return l.bytes }

// Peek returns copies of the first entries, at most maxEntries of them and,
// past the first, at most maxBytes in total.
func (l *List[E]) Peek(maxEntries, maxBytes int) []E {
	var out []E
	size := 0
	for i := l.head; i < len(l.entries) && len(out) < maxEntries; i++ {
		if l.removed[i] {
			continue
		}
		e := &l.entries[i]
		n := l.size(e)
		if len(out) > 0 && size+n > maxBytes {
			break
		}
		size += n
		out = append(out, *e)
	}
	return out
}

// First returns the first entry, and false when the list is empty. Removed
// entries never stay at the front, so it takes constant time.
func (l *List[E]) First() (E, bool) {
	if l.n == 0 {
		var zero E
		return zero, false
	}
	return l.entries[l.head], true
}

// Last returns the last entry, and false when the list is empty.
func (l *List[E]) Last() (E, bool) {
	for i := len(l.entries) - 1; i >= l.head; i-- {
		if !l.removed[i] {
			return l.entries[i], true
		}
	}
	var zero E
	return zero, false
}

// Remove removes the entries with the sequence numbers seqs and skips the
// numbers it does not contain. It finds each one by binary search.
func (l *List[E]) Remove(seqs []int64) {
	for _, seq := range seqs {
		i, found := l.search(seq)
		if !found || l.removed[i] {
			continue
		}
		l.removed[i] = true
		l.n--
		l.bytes -= int64(l.size(&l.entries[i]))
	}
	var zero E
	for l.head < len(l.entries) && l.removed[l.head] {
		l.entries[l.head] = zero
		l.head++
	}
	// Compact once the removed front is the larger part, so that memory
	// follows the list's length.
	if l.head > len(l.entries)/2 {
		l.entries = append([]E(nil), l.entries[l.head:]...)
		l.removed = append([]bool(nil), l.removed[l.head:]...)
		l.head = 0
	}
}

// search returns the index of the entry with sequence number seq among
// those from head on, or where it would be, and whether it is there.
func (l *List[E]) search(seq int64) (int, bool) {
	lo, hi := l.head, len(l.entries)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.seq(&l.entries[mid]) < seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(l.entries) && l.seq(&l.entries[lo]) == seq
}

// Clear removes every entry and frees their memory.
func (l *List[E]) Clear() {
	l.entries, l.removed, l.head, l.n, l.bytes = nil, nil, 0, 0, 0
}
