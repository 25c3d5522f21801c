package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timeback/timeback-go/sqlite"
)

func openOutbox(t *testing.T, path string) *sqlite.Outbox {
	t.Helper()
	o, err := sqlite.OpenOutbox(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenOutbox(%s): %v", path, err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func entries(from, n int, at time.Time) []sqlite.OutboxEntry {
	out := make([]sqlite.OutboxEntry, n)
	for i := range out {
		id := fmt.Sprintf("urn:uuid:e-%d", from+i)
		out[i] = sqlite.OutboxEntry{ID: id, JSON: []byte(`{"id":"` + id + `"}`), EnqueuedAt: at}
	}
	return out
}

var t0 = time.Date(2026, 1, 27, 10, 0, 0, 123_000_000, time.UTC)

func TestOutboxAppendPeekDelete(t *testing.T) {
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox.db"))
	ctx := context.Background()
	batch := entries(0, 5, t0)
	if err := o.Append(ctx, batch); err != nil {
		t.Fatalf("Append: %v", err)
	}
	for i := 1; i < len(batch); i++ {
		if batch[i].Seq <= batch[i-1].Seq {
			t.Errorf("Seq %d after %d, want increasing", batch[i].Seq, batch[i-1].Seq)
		}
	}

	got, err := o.Peek(ctx, 3, 1<<20)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("Peek(3) returned %d entries, want 3", len(got))
	}
	for i, e := range got {
		if e.Seq != batch[i].Seq || e.ID != batch[i].ID || string(e.JSON) != string(batch[i].JSON) {
			t.Errorf("Peek entry %d = %+v, want %+v", i, e, batch[i])
		}
		if !e.EnqueuedAt.Equal(t0) {
			t.Errorf("Peek entry %d EnqueuedAt = %v, want %v", i, e.EnqueuedAt, t0)
		}
	}

	if err := o.Delete(ctx, []int64{batch[0].Seq, batch[1].Seq}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	got, _ = o.Peek(ctx, 10, 1<<20)
	if len(got) != 3 || got[0].ID != batch[2].ID {
		t.Errorf("Peek after Delete = %d entries starting %v, want 3 starting %s", len(got), got, batch[2].ID)
	}
	st, err := o.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	want := sqlite.OutboxStats{Queued: 3, QueuedBytes: int64(3 * len(batch[0].JSON)), Oldest: t0,
		LastSeq: batch[4].Seq}
	if st.Queued != want.Queued || st.QueuedBytes != want.QueuedBytes || !st.Oldest.Equal(want.Oldest) ||
		st.LastSeq != want.LastSeq || st.Dead != 0 {
		t.Errorf("Stats() = %+v, want %+v", st, want)
	}
}

func TestOutboxPeekByteLimit(t *testing.T) {
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox.db"))
	ctx := context.Background()
	batch := entries(0, 5, t0)
	o.Append(ctx, batch)
	size := len(batch[0].JSON)

	got, _ := o.Peek(ctx, 10, 2*size+1)
	if len(got) != 2 {
		t.Errorf("Peek(maxBytes %d) returned %d entries, want 2", 2*size+1, len(got))
	}
	got, _ = o.Peek(ctx, 10, 1)
	if len(got) != 1 {
		t.Errorf("Peek(maxBytes 1) returned %d entries, want the first one anyway", len(got))
	}
}

func TestOutboxDeadLetterRequeue(t *testing.T) {
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox.db"))
	ctx := context.Background()
	batch := entries(0, 4, t0)
	o.Append(ctx, batch)
	failed := t0.Add(time.Minute)
	if err := o.DeadLetter(ctx, batch[1:3], 400, "400 invalid actor", failed); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}

	dead, err := o.DeadLetters(ctx, 0, 0)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	if len(dead) != 2 {
		t.Fatalf("DeadLetters returned %d, want 2", len(dead))
	}
	for i, d := range dead {
		if d.ID != batch[i+1].ID || d.Status != 400 || d.Message != "400 invalid actor" ||
			!d.FailedAt.Equal(failed) {
			t.Errorf("dead letter %d = %+v, want %s with status 400 failed at %v", i, d, batch[i+1].ID, failed)
		}
	}
	queued, _ := o.Peek(ctx, 10, 1<<20)
	if len(queued) != 2 || queued[0].ID != batch[0].ID || queued[1].ID != batch[3].ID {
		t.Errorf("queue after DeadLetter = %v, want entries 0 and 3", queued)
	}

	n, err := o.Requeue(ctx, batch[2].ID)
	if err != nil || n != 1 {
		t.Fatalf("Requeue(%s) = %d, %v, want 1", batch[2].ID, n, err)
	}
	queued, _ = o.Peek(ctx, 10, 1<<20)
	if len(queued) != 3 || queued[2].ID != batch[2].ID || queued[2].Seq <= batch[3].Seq {
		t.Errorf("queue after Requeue = %v, want %s last with a new Seq", queued, batch[2].ID)
	}
	n, err = o.Requeue(ctx)
	if err != nil || n != 1 {
		t.Errorf("Requeue() = %d, %v, want 1", n, err)
	}
	st, _ := o.Stats(ctx)
	if st.Dead != 0 || st.Queued != 4 {
		t.Errorf("Stats() after Requeue = %+v, want 4 queued and 0 dead", st)
	}
}

func TestOutboxReopenKeepsEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	ctx := context.Background()
	o, err := sqlite.OpenOutbox(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	batch := entries(0, 3, t0)
	o.Append(ctx, batch)
	o.Delete(ctx, []int64{batch[2].Seq})
	if err := o.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := o.Append(ctx, entries(9, 1, t0)); !errors.Is(err, sqlite.ErrOutboxClosed) {
		t.Errorf("Append after Close = %v, want ErrOutboxClosed", err)
	}

	o = openOutbox(t, path)
	got, _ := o.Peek(ctx, 10, 1<<20)
	if len(got) != 2 || got[0].ID != batch[0].ID || got[1].ID != batch[1].ID {
		t.Errorf("reopened outbox holds %v, want entries 0 and 1", got)
	}
	more := entries(3, 1, t0)
	o.Append(ctx, more)
	if more[0].Seq <= batch[2].Seq {
		t.Errorf("Seq after reopen = %d, want above the deleted %d", more[0].Seq, batch[2].Seq)
	}
}

func TestOutboxLockedByAnotherOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	openOutbox(t, path)
	_, err := sqlite.OpenOutbox(context.Background(), path)
	if !errors.Is(err, sqlite.ErrOutboxLocked) {
		t.Fatalf("second OpenOutbox = %v, want ErrOutboxLocked", err)
	}
	if !strings.Contains(err.Error(), "another outbox path") {
		t.Errorf("error %q does not say what to do", err)
	}
}

func TestOutboxCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	garbage := strings.Repeat("this is not a database ", 500)
	if err := os.WriteFile(path, []byte(garbage), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.OpenOutbox(context.Background(), path)
	if err == nil {
		t.Fatal("OpenOutbox(corrupt file) succeeded")
	}
	if !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "move the file aside") {
		t.Errorf("OpenOutbox(corrupt file) = %q, want it to say corrupt and what to do", err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != garbage {
		t.Errorf("OpenOutbox changed the corrupt file")
	}
}

func TestOutboxReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("skipped as root: file permissions do not stop root")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	o, err := sqlite.OpenOutbox(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	o.Append(context.Background(), entries(0, 1, t0))
	o.Close()
	os.Chmod(path, 0o400)
	os.Chmod(dir, 0o500)
	t.Cleanup(func() { os.Chmod(dir, 0o700) })

	_, err = sqlite.OpenOutbox(context.Background(), path)
	if err == nil {
		t.Fatal("OpenOutbox(read-only) succeeded")
	}
	if !strings.Contains(err.Error(), "permissions") {
		t.Errorf("OpenOutbox(read-only) = %q, want it to point at the permissions", err)
	}
}

func TestOutboxConcurrentAppends(t *testing.T) {
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox.db"))
	ctx := context.Background()
	var wg sync.WaitGroup
	seqs := make([][]int64, 16)
	seqOf := make([]map[string]int64, 16) // the Seq that Append set, by event id
	for g := range 16 {
		wg.Add(1)
		seqOf[g] = map[string]int64{}
		go func() {
			defer wg.Done()
			for i := range 50 {
				batch := entries(g*1000+i*2, 2, t0)
				if err := o.Append(ctx, batch); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				seqs[g] = append(seqs[g], batch[0].Seq, batch[1].Seq)
				for _, e := range batch {
					seqOf[g][e.ID] = e.Seq
				}
			}
		}()
	}
	wg.Wait()

	stored, err := o.Peek(ctx, 2000, 1<<30)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	want := map[string]int64{}
	for _, m := range seqOf {
		for id, seq := range m {
			want[id] = seq
		}
	}
	for _, e := range stored {
		if want[e.ID] != e.Seq {
			t.Errorf("event %s stored with Seq %d, Append set %d", e.ID, e.Seq, want[e.ID])
		}
	}

	seen := map[int64]bool{}
	for _, s := range seqs {
		for _, seq := range s {
			if seen[seq] {
				t.Errorf("Seq %d assigned twice", seq)
			}
			seen[seq] = true
		}
	}
	st, _ := o.Stats(ctx)
	if st.Queued != 1600 || len(seen) != 1600 {
		t.Errorf("queued %d with %d distinct Seq, want 1600", st.Queued, len(seen))
	}
}

func TestOutboxAppendCancelled(t *testing.T) {
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := o.Append(ctx, entries(0, 1, t0))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Append(cancelled) = %v, want context.Canceled", err)
	}
	st, _ := o.Stats(context.Background())
	if st.Queued != 0 {
		t.Errorf("queued %d after a cancelled Append, want 0", st.Queued)
	}
}

func TestOutboxDeleteScatteredSeqs(t *testing.T) {
	ctx := context.Background()
	o, err := sqlite.OpenOutbox(ctx, filepath.Join(t.TempDir(), "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	entries := make([]sqlite.OutboxEntry, 10)
	for i := range entries {
		entries[i] = sqlite.OutboxEntry{ID: fmt.Sprintf("urn:uuid:%d", i), JSON: []byte(`{}`),
			EnqueuedAt: time.Now()}
	}
	if err := o.Append(ctx, entries); err != nil {
		t.Fatal(err)
	}
	seq := func(i int) int64 { return entries[i].Seq }
	// Runs of one, of three and a gap, given out of order.
	if err := o.Delete(ctx, []int64{seq(9), seq(1), seq(2), seq(3), seq(6)}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	left, err := o.Peek(ctx, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range left {
		got = append(got, e.Seq)
	}
	want := []int64{seq(0), seq(4), seq(5), seq(7), seq(8)}
	if !slices.Equal(got, want) {
		t.Errorf("seqs left after Delete = %v, want %v", got, want)
	}
}

func TestOutboxCorruptPagesAfterOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := sqlite.OpenOutbox(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	entries := make([]sqlite.OutboxEntry, 300)
	for i := range entries {
		entries[i] = sqlite.OutboxEntry{ID: fmt.Sprintf("urn:uuid:%d", i),
			JSON: []byte(`{"pad":"` + strings.Repeat("x", 800) + `"}`), EnqueuedAt: time.Now()}
	}
	if err := o.Append(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	// The header page stays intact, so the open succeeds and the damage
	// shows only when the table is read.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := []byte(strings.Repeat("\xa5\x5a", 2048))
	for page := 10; page < 20; page++ {
		if _, err := f.WriteAt(garbage, int64(page)*4096); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	o, err = sqlite.OpenOutbox(ctx, path)
	if err == nil {
		defer o.Close()
		_, err = o.Stats(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), "is corrupt") || !strings.Contains(err.Error(), "move the file aside") {
		t.Errorf("reading an outbox with damaged pages = %v, want it to say the outbox is corrupt and what to do", err)
	}
}

func TestOutboxQueuedIDs(t *testing.T) {
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox.db"))
	ctx := context.Background()
	batch := entries(0, 3, t0)
	if err := o.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := o.Delete(ctx, []int64{batch[1].Seq}); err != nil {
		t.Fatal(err)
	}
	ids, err := o.QueuedIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{batch[0].ID, batch[2].ID}; !slices.Equal(ids, want) {
		t.Errorf("QueuedIDs after deleting the second of 3 = %v, want %v", ids, want)
	}
}

// TestOutboxPeekNothing checks that a Peek of no events returns nothing and
// hides nothing from the next Peek, for entries in memory and in the file.
func TestOutboxPeekNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	ctx := context.Background()
	o, err := sqlite.OpenOutbox(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Append(ctx, entries(0, 2, t0)); err != nil {
		t.Fatal(err)
	}
	o.Close()
	o = openOutbox(t, path) // the 2 entries are in the file only
	if err := o.Append(ctx, entries(2, 2, t0)); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, -1} {
		if got, err := o.Peek(ctx, limit, 1<<20); err != nil || len(got) != 0 {
			t.Errorf("Peek(%d) = %d entries, %v; want none", limit, len(got), err)
		}
	}
	got, err := o.Peek(ctx, 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "urn:uuid:e-0" {
		t.Errorf("Peek(10) after Peek(0) returned %d entries, want the 2 in the file", len(got))
	}
}

func TestOpenOutboxFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := sqlite.OpenOutbox(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "names a folder") {
		t.Fatalf("OpenOutbox(folder) = %v, want an error that says it names a folder", err)
	}
	if _, err := os.Stat(dir + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenOutbox(folder) left %s.lock behind", dir)
	}

	// A path ending in a separator names a folder even before it exists.
	missing := filepath.Join(dir, "new") + string(os.PathSeparator)
	_, err = sqlite.OpenOutbox(context.Background(), missing)
	if err == nil || !strings.Contains(err.Error(), "names a folder") {
		t.Fatalf("OpenOutbox(%q) = %v, want an error that says it names a folder", missing, err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenOutbox(%q) created the folder", missing)
	}
}
