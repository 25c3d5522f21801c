package sqlite

import (
	"sync"
	"time"

	"github.com/timeback/timeback-go/internal/seqlist"
)

// Bounds of an outbox tail. Past either one the tail drops its entries, and
// the outbox reads them from the file. A few envelopes' worth of events is
// enough while the sender keeps up, and it keeps the memory of a long outage
// small.
const (
	maxTailEntries = 4096
	maxTailBytes   = 2 << 20
)

// outboxTail keeps the newest queued entries in memory, so that Peek can
// return them without reading the file while the sender keeps up. Each
// durable write updates it as it changed the file.
//
// Every queued entry whose Seq is above diskSeq is in entries. Entries at
// or below diskSeq may be only in the file: those the outbox had when it was
// opened, and those the tail dropped. They are all older than the ones in
// entries, so Peek reads the file first until it has none of them left.
type outboxTail struct {
	mu      sync.Mutex
	entries *seqlist.List[OutboxEntry]
	diskSeq int64 // 0 when every queued entry is in entries
	// gen counts the times the tail dropped its entries, so that Peek can
	// tell whether the file region it found empty is still the current one.
	gen uint64
	// maxEntries and maxBytes are maxTailEntries and maxTailBytes, which
	// tests lower.
	maxEntries int
	maxBytes   int64
}

// tailChange describes a write's effect on the queued entries, applied to
// the tail once the write is durable.
type tailChange struct {
	appended []OutboxEntry
	removed  []int64
	// queuedUpTo, when set, is the largest Seq of the entries that the write
	// queued in SQL alone, as Requeue does, so the tail never saw them.
	queuedUpTo int64
}

func newOutboxTail(diskSeq int64) *outboxTail {
	return &outboxTail{
		entries: seqlist.New(
			func(e *OutboxEntry) int64 { return e.Seq },
			func(e *OutboxEntry) int { return len(e.JSON) }),
		diskSeq:    diskSeq,
		maxEntries: maxTailEntries,
		maxBytes:   maxTailBytes,
	}
}

// peek returns the oldest queued entries within the limits, and false when
// some of the oldest may be only in the file. Then it also returns the
// diskSeq and gen that the read of the file uses.
func (t *outboxTail) peek(maxEvents, maxBytes int) (entries []OutboxEntry, ok bool, diskSeq int64,
	gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.diskSeq != 0 {
		return nil, false, t.diskSeq, t.gen
	}
	return t.entries.Peek(maxEvents, maxBytes), true, 0, 0
}

// fileDrained records that the file held no queued entry at or below the
// diskSeq of generation gen.
func (t *outboxTail) fileDrained(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen == gen {
		t.diskSeq = 0
	}
}

// apply updates the tail with the changes of writes, in commit order. After
// a failed fsync the file may differ from what the writes meant, so the
// tail drops everything and Peek reads the file again.
func (t *outboxTail) apply(writes []*outboxWrite, syncErr error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range writes {
		ch := &w.change
		if ch.queuedUpTo != 0 {
			t.release(ch.queuedUpTo)
		}
		if len(ch.removed) > 0 {
			t.entries.Remove(ch.removed)
		}
		for _, e := range ch.appended {
			if t.entries.Len() >= t.maxEntries || t.entries.Bytes()+int64(len(e.JSON)) > t.maxBytes {
				t.release(e.Seq)
				continue
			}
			if e.Seq <= t.diskSeq {
				continue
			}
			// The file keeps milliseconds, and Peek returns the same time
			// from either place.
			e.EnqueuedAt = time.UnixMilli(e.EnqueuedAt.UnixMilli())
			t.entries.Push(e)
		}
	}
	if syncErr != nil {
		if last, ok := t.entries.Last(); ok {
			t.release(last.Seq)
		}
	}
}

// release drops every entry and marks the queued ones up to seq as being
// only in the file.
func (t *outboxTail) release(seq int64) {
	if last, ok := t.entries.Last(); ok {
		seq = max(seq, last.Seq)
	}
	t.entries.Clear()
	t.diskSeq = max(t.diskSeq, seq)
	t.gen++
}
