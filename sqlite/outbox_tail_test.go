package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOutboxTailFollowsFile runs random appends, deliveries, dead letters,
// requeues and reopenings, some past the bounds of the tail. After each step
// it checks that the file has the queue of a model and that Peek returns the
// model's oldest entries. At the end it drains the queue through Peek and
// Delete, as the sender does.
func TestOutboxTailFollowsFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	open := func() *Outbox {
		o, err := OpenOutbox(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		// Bounds this low make the tail let go of its entries often.
		o.tail.mu.Lock()
		o.tail.maxEntries, o.tail.maxBytes = 300, 200<<10
		o.tail.mu.Unlock()
		return o
	}
	o := open()
	defer func() { o.Close() }()

	r := rand.New(rand.NewPCG(7, 8))
	var queued, dead []string // ids in Seq order
	next := 0
	now := time.Now()
	released := false // whether an append passed the bounds of the tail
	for step := range 150 {
		var op string
		switch n := r.IntN(20); {
		case n < 8:
			op = "append"
			count := 1 + r.IntN(150)
			entries := make([]OutboxEntry, count)
			for i := range entries {
				id := fmt.Sprintf("urn:uuid:%d", next)
				next++
				body := `{"id":"` + id + `","pad":"` + strings.Repeat("x", r.IntN(1500)) + `"}`
				entries[i] = OutboxEntry{ID: id, JSON: []byte(body), EnqueuedAt: now}
				queued = append(queued, id)
			}
			gen := o.tail.gen
			if err := o.Append(ctx, entries); err != nil {
				t.Fatal(err)
			}
			released = released || o.tail.gen != gen
		case n < 14:
			op = "deliver"
			got := peek(t, o, 1+r.IntN(150))
			var seqs []int64
			delivered := map[string]bool{}
			for _, e := range got {
				if r.IntN(4) > 0 {
					seqs = append(seqs, e.Seq)
					delivered[e.ID] = true
				}
			}
			queued = slices.DeleteFunc(queued, func(id string) bool { return delivered[id] })
			if err := o.Delete(ctx, seqs); err != nil {
				t.Fatal(err)
			}
		case n < 16:
			op = "dead-letter"
			got := peek(t, o, 50)
			if len(got) == 0 {
				continue
			}
			e := got[r.IntN(len(got))]
			if err := o.DeadLetter(ctx, []OutboxEntry{e}, 400, "bad", now); err != nil {
				t.Fatal(err)
			}
			queued = slices.DeleteFunc(queued, func(id string) bool { return id == e.ID })
			dead = append(dead, e.ID)
		case n < 18:
			op = "requeue"
			if _, err := o.Requeue(ctx); err != nil {
				t.Fatal(err)
			}
			// Requeue keeps the dead letters' order, which is the order of
			// their first Seq, the order in which they were appended.
			slices.SortFunc(dead, func(a, b string) int { return idNumber(a) - idNumber(b) })
			queued, dead = append(queued, dead...), nil
		default:
			op = "reopen"
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			o = open()
		}

		if got := fileIDs(t, o); !slices.Equal(got, queued) {
			t.Fatalf("step %d (%s): the file holds %d entries, the model %d", step, op, len(got), len(queued))
		}
		got := peek(t, o, 1000)
		if len(queued) > 0 && len(got) == 0 {
			t.Fatalf("step %d (%s): Peek returned nothing with %d queued", step, op, len(queued))
		}
		if ids := entryIDs(got); !slices.Equal(ids, queued[:len(ids)]) {
			t.Fatalf("step %d (%s): Peek returned %v..., want the oldest queued %v...", step, op,
				ids[:min(3, len(ids))], queued[:min(3, len(queued))])
		}
	}

	if !released {
		t.Error("no append passed the bounds of the tail")
	}
	var drained []string
	for {
		got := peek(t, o, 500)
		if len(got) == 0 {
			break
		}
		drained = append(drained, entryIDs(got)...)
		seqs := make([]int64, len(got))
		for i, e := range got {
			seqs[i] = e.Seq
		}
		if err := o.Delete(ctx, seqs); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(drained, queued) {
		t.Errorf("draining returned %d entries, want the %d queued in order", len(drained), len(queued))
	}
}

// TestOutboxTailServesNewEntries checks that entries appended by the
// running process are peeked from memory, with the times and contents that
// the file has.
func TestOutboxTailServesNewEntries(t *testing.T) {
	ctx := context.Background()
	o, err := OpenOutbox(ctx, filepath.Join(t.TempDir(), "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()

	at := time.Date(2026, 1, 27, 10, 0, 0, 123_456_789, time.UTC)
	entries := []OutboxEntry{
		{ID: "urn:uuid:1", JSON: []byte(`{"id":"urn:uuid:1"}`), EnqueuedAt: at},
		{ID: "urn:uuid:2", JSON: []byte(`{"id":"urn:uuid:2"}`), EnqueuedAt: at},
	}
	if err := o.Append(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if o.tail.diskSeq != 0 || o.tail.entries.Len() != 2 {
		t.Fatalf("tail after two appends: diskSeq %d, %d entries; want 0 and 2", o.tail.diskSeq,
			o.tail.entries.Len())
	}

	fromMemory := peek(t, o, 10)
	fromFile, err := o.peekFile(ctx, 1<<62, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromMemory) != 2 || len(fromFile) != 2 {
		t.Fatalf("Peek returned %d entries, the file %d; want 2", len(fromMemory), len(fromFile))
	}
	for i := range fromFile {
		m, f := fromMemory[i], fromFile[i]
		if m.Seq != f.Seq || m.ID != f.ID || string(m.JSON) != string(f.JSON) || !m.EnqueuedAt.Equal(f.EnqueuedAt) {
			t.Errorf("entry %d from memory = %+v, from the file %+v", i, m, f)
		}
	}
}

func peek(t *testing.T, o *Outbox, n int) []OutboxEntry {
	t.Helper()
	got, err := o.Peek(context.Background(), n, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func fileIDs(t *testing.T, o *Outbox) []string {
	t.Helper()
	rows, err := o.db.Query(`SELECT event_id FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func entryIDs(entries []OutboxEntry) []string {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids
}

// idNumber returns the number of an id urn:uuid:N made by the test.
func idNumber(id string) int {
	var n int
	fmt.Sscanf(id, "urn:uuid:%d", &n)
	return n
}
