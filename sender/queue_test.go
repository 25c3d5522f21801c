package sender_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/sender"
	"github.com/timeback/timeback-go/sqlite"
)

// queueImplementations are the Queue implementations that the conformance
// tests run against.
var queueImplementations = []struct {
	name string
	open func(t *testing.T) sender.Queue
}{
	{"memory", func(t *testing.T) sender.Queue { return sender.NewMemoryQueue() }},
	{"sqlite", func(t *testing.T) sender.Queue {
		o, err := sqlite.OpenOutbox(context.Background(), filepath.Join(t.TempDir(), "outbox.db"))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}},
}

func queueEntries(from, n int) []sender.Entry {
	at := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	out := make([]sender.Entry, n)
	for i := range out {
		id := storetest.EventID(from + i)
		out[i] = sender.Entry{ID: id, JSON: []byte(fmt.Sprintf(`{"id":%q}`, id)), EnqueuedAt: at}
	}
	return out
}

func TestQueueConformance(t *testing.T) {
	for _, impl := range queueImplementations {
		t.Run(impl.name, func(t *testing.T) {
			q := impl.open(t)
			defer q.Close()
			ctx := context.Background()
			first, second := queueEntries(0, 6), queueEntries(6, 4)
			if err := q.Append(ctx, first); err != nil {
				t.Fatalf("Append: %v", err)
			}
			if err := q.Append(ctx, second); err != nil {
				t.Fatalf("Append: %v", err)
			}
			all := append(append([]sender.Entry(nil), first...), second...)
			for i := 1; i < len(all); i++ {
				if all[i].Seq <= all[i-1].Seq {
					t.Fatalf("Seq %d follows %d, want increasing", all[i].Seq, all[i-1].Seq)
				}
			}

			// Delete out of order, including one not at the head.
			if err := q.Delete(ctx, []int64{all[3].Seq, all[0].Seq, all[1].Seq}); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if err := q.DeadLetter(ctx, all[4:5], 400, "400 invalid", all[4].EnqueuedAt); err != nil {
				t.Fatalf("DeadLetter: %v", err)
			}
			got, err := q.Peek(ctx, 3, 1<<20)
			if err != nil {
				t.Fatalf("Peek: %v", err)
			}
			wantIDs := []string{all[2].ID, all[5].ID, all[6].ID}
			if len(got) != 3 {
				t.Fatalf("Peek(3) returned %d entries, want 3", len(got))
			}
			for i, e := range got {
				if e.ID != wantIDs[i] {
					t.Errorf("Peek entry %d = %s, want %s", i, e.ID, wantIDs[i])
				}
			}

			st, err := q.Stats(ctx)
			if err != nil {
				t.Fatalf("Stats: %v", err)
			}
			if st.Queued != 6 || st.Dead != 1 || st.LastSeq != all[9].Seq {
				t.Errorf("Stats() = %+v, want 6 queued, 1 dead, LastSeq %d", st, all[9].Seq)
			}
			if want := int64(6 * len(all[0].JSON)); st.QueuedBytes != want {
				t.Errorf("Stats().QueuedBytes = %d, want %d", st.QueuedBytes, want)
			}
			if !st.Oldest.Equal(all[2].EnqueuedAt) {
				t.Errorf("Stats().Oldest = %v, want %v", st.Oldest, all[2].EnqueuedAt)
			}

			var seqs []int64
			for _, e := range all {
				seqs = append(seqs, e.Seq)
			}
			if err := q.Delete(ctx, seqs); err != nil {
				t.Fatalf("Delete all: %v", err)
			}
			if got, _ := q.Peek(ctx, 10, 1<<20); len(got) != 0 {
				t.Errorf("Peek after deleting everything returned %d entries", len(got))
			}
			st, _ = q.Stats(ctx)
			if st.Queued != 0 || st.QueuedBytes != 0 || !st.Oldest.IsZero() || st.LastSeq != 0 {
				t.Errorf("Stats() of an empty queue = %+v", st)
			}
		})
	}
}

// failingQueue is a MemoryQueue whose Append fails, as an outbox on a full
// disk does.
type failingQueue struct{ *sender.MemoryQueue }

func (failingQueue) Append(context.Context, []sender.Entry) error {
	return errors.New("sqlite: write outbox q.db: database or disk is full; free disk space and send again")
}

func TestSendQueueWriteFails(t *testing.T) {
	ep := newEndpoint(t, nil)
	cfg := testConfig(t, ep, newFakeClock())
	cfg.Queue = failingQueue{sender.NewMemoryQueue()}
	cfg.MaxQueueEvents = 3
	c := newClient(t, cfg)

	for range 3 {
		err := c.Send(context.Background(), newEvents(t, 0, 2)...)
		if err == nil || !strings.Contains(err.Error(), "free disk space") {
			t.Fatalf("Send on a failing queue = %v, want the queue's error", err)
		}
	}
	// The failed calls released their room: 3 attempts of 2 events would
	// otherwise pass the limit of 3 and report ErrQueueFull.
	if st := c.Stats(); st.Queued != 0 || st.QueuedBytes != 0 {
		t.Errorf("Stats() after failed Sends = %+v, want nothing queued", st)
	}
}

// deleteFailingQueue is a MemoryQueue whose Delete fails while failing is
// set, as the outbox's does on a full disk.
type deleteFailingQueue struct {
	*sender.MemoryQueue
	failing atomic.Bool
	deletes atomic.Int32
}

func (q *deleteFailingQueue) Delete(ctx context.Context, seqs []int64) error {
	q.deletes.Add(1)
	if q.failing.Load() {
		return errors.New("sqlite: write outbox q.db: database or disk is full; free disk space and send again")
	}
	return q.MemoryQueue.Delete(ctx, seqs)
}

func TestDeleteFailsNoRepost(t *testing.T) {
	ep := newEndpoint(t, nil)
	cfg := testConfig(t, ep, newFakeClock())
	queue := &deleteFailingQueue{MemoryQueue: sender.NewMemoryQueue()}
	queue.failing.Store(true)
	cfg.Queue = queue
	rec := &testkit.LogBuffer{}
	cfg.Logger = debugLogger(rec)
	c := newClient(t, cfg)

	if err := c.Send(context.Background(), newEvents(t, 0, 5)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// Flush ends although the delivered events cannot leave the queue.
	flush(t, c)
	if got := ep.Requests(); got != 1 {
		t.Errorf("%d posts while the queue cannot delete, want 1: delivered events were posted again", got)
	}
	if got := c.Stats().Delivered; got != 5 {
		t.Errorf("Stats().Delivered = %d, want 5", got)
	}
	if !strings.Contains(rec.String(), "free disk space") {
		t.Errorf("log = %q, want the queue's error", rec.String())
	}

	// Once the queue can delete again, the next events remove the earlier
	// ones too, still without posting them again.
	queue.failing.Store(false)
	if err := c.Send(context.Background(), newEvents(t, 5, 1)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)
	if got := ep.Requests(); got != 2 {
		t.Errorf("%d posts, want 2", got)
	}
	st, err := queue.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued != 0 {
		t.Errorf("queue holds %d events after the deletes succeeded, want 0", st.Queued)
	}
	for i := range 6 {
		if got := ep.Copies(storetest.EventID(i)); got != 1 {
			t.Errorf("endpoint received %d copies of %s, want 1", got, storetest.EventID(i))
		}
	}
}

func TestNewImmutableOutboxFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := sqlite.OpenOutbox(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	// File permissions do not stop root, the immutable attribute does.
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("skipped: chattr +i is not available here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })

	ep := newEndpoint(t, nil)
	cfg := testConfig(t, ep, newFakeClock())
	cfg.Queue, cfg.OutboxPath = nil, path
	c, err := sender.New(cfg)
	if err == nil {
		c.Close(context.Background())
		t.Fatal("New with an immutable outbox file succeeded; Send would fail on every call")
	}
	if !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), path) {
		t.Errorf("New with an immutable outbox = %q, want the path and that it is read-only", err)
	}
}
