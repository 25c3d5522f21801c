package sender

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/timeback/timeback-go/internal/seqlist"
	"github.com/timeback/timeback-go/sqlite"
)

// Entry is one event in a Queue: its id, its encoded JSON and the Seq that
// orders it.
type Entry = sqlite.OutboxEntry

// QueueStats counts what a Queue contains.
type QueueStats = sqlite.OutboxStats

// DeadLetter is an event that the endpoint rejected, with the status and
// message of the rejection.
type DeadLetter = sqlite.DeadLetter

// Queue stores the events that wait for delivery. The SQLite outbox
// (sqlite.Outbox) implements it for real use and NewMemoryQueue for tests
// and comparisons. A Client is the only user of its Queue while it runs.
type Queue interface {
	// Append stores entries at the end of the queue, sets their Seq, and
	// returns once they are durable. The queue may keep the entries' JSON
	// without copying it, so the caller must not change it afterwards.
	Append(ctx context.Context, entries []Entry) error
	// Peek returns the oldest entries, at most maxEvents and, past the
	// first, at most maxBytes of JSON, and leaves them queued.
	Peek(ctx context.Context, maxEvents, maxBytes int) ([]Entry, error)
	// Delete removes delivered entries by Seq.
	Delete(ctx context.Context, seqs []int64) error
	// DeadLetter moves entries out of the queue and records why the
	// endpoint rejected them.
	DeadLetter(ctx context.Context, entries []Entry, status int, message string, at time.Time) error
	// Stats counts the queued events and the dead letters.
	Stats(ctx context.Context) (QueueStats, error)
	// Close releases the queue. Queued events stay where the queue keeps
	// them.
	Close() error
}

var _ Queue = (*sqlite.Outbox)(nil)

// MemoryQueue is a Queue in memory. Its events are lost when the process
// ends, so it suits tests and measurements, not delivery.
type MemoryQueue struct {
	mu     sync.Mutex
	list   *seqlist.List[Entry]
	dead   []DeadLetter
	next   int64
	closed bool
}

var _ Queue = (*MemoryQueue)(nil)

// errMemoryQueueClosed is returned by the methods of a closed MemoryQueue.
var errMemoryQueueClosed = errors.New("sender: memory queue closed")

// NewMemoryQueue returns an empty MemoryQueue.
func NewMemoryQueue() *MemoryQueue {
	return &MemoryQueue{list: seqlist.New(
		func(e *Entry) int64 { return e.Seq },
		func(e *Entry) int { return len(e.JSON) })}
}

// Append adds entries and sets their Seq.
func (q *MemoryQueue) Append(ctx context.Context, entries []Entry) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errMemoryQueueClosed
	}
	for i := range entries {
		q.next++
		entries[i].Seq = q.next
		entries[i].EnqueuedAt = entries[i].EnqueuedAt.Truncate(time.Millisecond)
		q.list.Push(entries[i])
	}
	return nil
}

// Peek returns the oldest entries within the limits.
func (q *MemoryQueue) Peek(ctx context.Context, maxEvents, maxBytes int) ([]Entry, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, errMemoryQueueClosed
	}
	return q.list.Peek(maxEvents, maxBytes), nil
}

// Delete removes entries by Seq.
func (q *MemoryQueue) Delete(ctx context.Context, seqs []int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errMemoryQueueClosed
	}
	q.list.Remove(seqs)
	return nil
}

// DeadLetter moves entries to the dead letters.
func (q *MemoryQueue) DeadLetter(ctx context.Context, entries []Entry, status int, message string,
	at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return errMemoryQueueClosed
	}
	seqs := make([]int64, len(entries))
	for i, e := range entries {
		seqs[i] = e.Seq
		q.dead = append(q.dead, DeadLetter{OutboxEntry: e, Status: status, Message: message,
			FailedAt: at})
	}
	q.list.Remove(seqs)
	return nil
}

// Stats counts the queued events and the dead letters.
func (q *MemoryQueue) Stats(ctx context.Context) (QueueStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := QueueStats{Queued: q.list.Len(), QueuedBytes: q.list.Bytes(), Dead: len(q.dead)}
	if first, ok := q.list.First(); ok {
		s.Oldest = first.EnqueuedAt
	}
	if last, ok := q.list.Last(); ok {
		s.LastSeq = last.Seq
	}
	return s, nil
}

// DeadLetters returns a copy of the dead letters, oldest first.
func (q *MemoryQueue) DeadLetters() []DeadLetter {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]DeadLetter(nil), q.dead...)
}

// Close marks the queue closed. Its entries stay readable through Stats and
// DeadLetters.
func (q *MemoryQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	return nil
}
