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

	// slots are ordered by sequence number. Those before head, and those
	// marked removed, hold no entry any more, only their sequence number
	// for the binary search.
	slots []slot[E]
	head  int
	n     int // entries in the list
	bytes int64
}

type slot[E any] struct {
	seq     int64
	removed bool
	entry   E // the zero value once removed, so that it keeps no memory
}

// New returns an empty list whose entries have the sequence number seq and
// the size in bytes size.
func New[E any](seq func(*E) int64, size func(*E) int) *List[E] {
	return &List[E]{seq: seq, size: size}
}

// Push adds e at the end. Its sequence number must be larger than that of
// every entry pushed before.
func (l *List[E]) Push(e E) {
	l.slots = append(l.slots, slot[E]{seq: l.seq(&e), entry: e})
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
	for i := l.head; i < len(l.slots) && len(out) < maxEntries; i++ {
		s := &l.slots[i]
		if s.removed {
			continue
		}
		n := l.size(&s.entry)
		if len(out) > 0 && size+n > maxBytes {
			break
		}
		size += n
		out = append(out, s.entry)
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
	return l.slots[l.head].entry, true
}

// Last returns the last entry, and false when the list is empty.
func (l *List[E]) Last() (E, bool) {
	for i := len(l.slots) - 1; i >= l.head; i-- {
		if !l.slots[i].removed {
			return l.slots[i].entry, true
		}
	}
	var zero E
	return zero, false
}

// Remove removes the entries with the sequence numbers seqs and skips the
// numbers it does not contain. It finds each one by binary search.
func (l *List[E]) Remove(seqs []int64) {
	var zero E
	for _, seq := range seqs {
		i, found := l.search(seq)
		if !found || l.slots[i].removed {
			continue
		}
		s := &l.slots[i]
		l.n--
		l.bytes -= int64(l.size(&s.entry))
		s.removed, s.entry = true, zero
	}
	for l.head < len(l.slots) && l.slots[l.head].removed {
		l.head++
	}
	// Compact once the removed slots outnumber the entries, so that memory
	// and the scans of Peek follow the list's length.
	if len(l.slots)-l.n > l.n+16 {
		live := make([]slot[E], 0, l.n)
		for _, s := range l.slots[l.head:] {
			if !s.removed {
				live = append(live, s)
			}
		}
		l.slots, l.head = live, 0
	}
}

// search returns the index of the slot with sequence number seq among those
// from head on, or where it would be, and whether it is there.
func (l *List[E]) search(seq int64) (int, bool) {
	lo, hi := l.head, len(l.slots)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.slots[mid].seq < seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(l.slots) && l.slots[lo].seq == seq
}

// Clear removes every entry and frees their memory.
func (l *List[E]) Clear() {
	l.slots, l.head, l.n, l.bytes = nil, 0, 0, 0
}
