package seqlist

import (
	"slices"
	"testing"
)

type entry struct {
	seq  int64
	size int
}

func newList() *List[entry] {
	return New(func(e *entry) int64 { return e.seq }, func(e *entry) int { return e.size })
}

func seqs(entries []entry) []int64 {
	out := make([]int64, len(entries))
	for i, e := range entries {
		out[i] = e.seq
	}
	return out
}

func TestListRemoveAnywhere(t *testing.T) {
	l := newList()
	for seq := int64(1); seq <= 10; seq++ {
		l.Push(entry{seq: seq * 2, size: 10})
	}
	// 7 and 40 are not in the list, 4 is removed twice.
	l.Remove([]int64{4, 10, 7, 4, 40})
	if got, want := seqs(l.Peek(100, 1000)), []int64{2, 6, 8, 12, 14, 16, 18, 20}; !slices.Equal(got, want) {
		t.Fatalf("Peek after removing 4 and 10 = %v, want %v", got, want)
	}
	if l.Len() != 8 || l.Bytes() != 80 {
		t.Errorf("Len, Bytes = %d, %d; want 8, 80", l.Len(), l.Bytes())
	}
	l.Remove([]int64{2, 6})
	if first, _ := l.First(); first.seq != 8 {
		t.Errorf("First after removing the front = %d, want 8", first.seq)
	}
	l.Remove([]int64{20})
	if last, _ := l.Last(); last.seq != 18 {
		t.Errorf("Last after removing the back = %d, want 18", last.seq)
	}
	l.Remove([]int64{8, 12, 14, 16, 18})
	if _, ok := l.First(); ok || l.Len() != 0 || l.Bytes() != 0 {
		t.Errorf("list not empty after removing everything: Len %d, Bytes %d", l.Len(), l.Bytes())
	}
	if _, ok := l.Last(); ok {
		t.Error("Last of an empty list reports an entry")
	}
}

func TestListPeekLimits(t *testing.T) {
	l := newList()
	for seq := int64(1); seq <= 5; seq++ {
		l.Push(entry{seq: seq, size: 100})
	}
	if got := seqs(l.Peek(3, 1000)); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("Peek(3, 1000) = %v, want the first 3", got)
	}
	if got := seqs(l.Peek(10, 250)); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("Peek(10, 250) = %v, want the 2 that fit", got)
	}
	if got := seqs(l.Peek(10, 1)); !slices.Equal(got, []int64{1}) {
		t.Errorf("Peek(10, 1) = %v, want the first even though it is larger", got)
	}
}

// TestListCompacts checks that the list does not keep the memory of
// removed entries, whether they leave from the front, as from a queue, or
// from behind an entry that stays.
func TestListCompacts(t *testing.T) {
	for _, keepFirst := range []bool{false, true} {
		l := newList()
		if keepFirst {
			l.Push(entry{seq: 0, size: 1})
		}
		for seq := int64(1); seq <= 100_000; seq++ {
			l.Push(entry{seq: seq, size: 1})
			if seq > 10 {
				l.Remove([]int64{seq - 10})
			}
		}
		want := 10
		if keepFirst {
			want = 11
		}
		if l.Len() != want {
			t.Fatalf("keepFirst %v: Len = %d, want %d", keepFirst, l.Len(), want)
		}
		if c := cap(l.slots); c > 1000 {
			t.Errorf("keepFirst %v: the list holds %d entries in an array of %d", keepFirst, want, c)
		}
		if got := seqs(l.Peek(100, 100)); len(got) != want || got[len(got)-1] != 100_000 {
			t.Errorf("keepFirst %v: Peek = %v, want the %d newest", keepFirst, got, want)
		}
	}
}

// TestListRemovedEntryReleased checks that a removed entry no longer
// references its memory, as the JSON of a delivered event.
func TestListRemovedEntryReleased(t *testing.T) {
	type big struct {
		seq  int64
		data []byte
	}
	l := New(func(e *big) int64 { return e.seq }, func(e *big) int { return len(e.data) })
	for seq := int64(1); seq <= 3; seq++ {
		l.Push(big{seq: seq, data: make([]byte, 1<<20)})
	}
	l.Remove([]int64{2})
	if l.slots[1].entry.data != nil {
		t.Error("the removed entry still references its data")
	}
	if l.Bytes() != 2<<20 {
		t.Errorf("Bytes = %d, want %d", l.Bytes(), 2<<20)
	}
}

func TestListClear(t *testing.T) {
	l := newList()
	l.Push(entry{seq: 1, size: 5})
	l.Clear()
	if l.Len() != 0 || l.Bytes() != 0 || l.slots != nil {
		t.Errorf("Clear left Len %d, Bytes %d", l.Len(), l.Bytes())
	}
}
