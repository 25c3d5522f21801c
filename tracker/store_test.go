package tracker_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go/tracker"
)

func TestRunStores(t *testing.T) {
	stores := []struct {
		name  string
		store tracker.RunStore
	}{
		{"memory", &tracker.MemoryStore{}},
		{"file", tracker.FileStore{Dir: filepath.Join(t.TempDir(), "runs")}},
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := s.store.LoadRun(ctx, "run-1"); !errors.Is(err, tracker.ErrRunNotFound) {
				t.Fatalf("LoadRun of an unknown run = %v, want ErrRunNotFound", err)
			}
			want := tracker.RunState{RunID: "run-1", ActorID: student.ID, ObjectID: lesson.ID,
				Active: 90 * time.Second, Inactive: time.Second,
				Windows: 7, LastEnd: testStart.Add(time.Minute), Completed: true, XPEarned: 1.5}
			if err := s.store.SaveRun(ctx, want); err != nil {
				t.Fatal(err)
			}
			other := tracker.RunState{RunID: "../run 2"}
			if err := s.store.SaveRun(ctx, other); err != nil {
				t.Fatal(err)
			}
			got, err := s.store.LoadRun(ctx, "run-1")
			if err != nil {
				t.Fatal(err)
			}
			if !got.LastEnd.Equal(want.LastEnd) {
				t.Errorf("LastEnd %v, want %v", got.LastEnd, want.LastEnd)
			}
			got.LastEnd = want.LastEnd
			if got != want {
				t.Errorf("LoadRun = %+v, want %+v", got, want)
			}
			if got, err := s.store.LoadRun(ctx, "../run 2"); err != nil || got.RunID != "../run 2" {
				t.Errorf("LoadRun of a run id with a path in it = %+v, %v", got, err)
			}
		})
	}
}

func TestFileStoreCorrupt(t *testing.T) {
	dir := t.TempDir()
	store := tracker.FileStore{Dir: dir}
	ctx := context.Background()
	if err := store.SaveRun(ctx, tracker.RunState{RunID: "run-1"}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("got state files %v, want one", files)
	}
	if err := os.WriteFile(files[0], []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := store.LoadRun(ctx, "run-1")
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("LoadRun of a corrupt file = %v, want a corrupt file error", err)
	}

	// A tracker on the store refuses to resume the run rather than start
	// it again from zero.
	h := newHarness(t, tracker.Config{Store: store})
	if err := h.start("run-1"); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Start resuming a corrupt run = %v, want the corrupt file error", err)
	}
}

func TestFileStoreWithoutDir(t *testing.T) {
	err := tracker.FileStore{}.SaveRun(context.Background(), tracker.RunState{RunID: "x"})
	if err == nil || !strings.Contains(err.Error(), "Dir is empty") {
		t.Errorf("SaveRun without Dir = %v, want a Dir error", err)
	}
}

// failingStore saves nothing once failing is set.
type failingStore struct {
	tracker.MemoryStore
	failing bool
}

func (s *failingStore) SaveRun(ctx context.Context, st tracker.RunState) error {
	if s.failing {
		return errors.New("disk full")
	}
	return s.MemoryStore.SaveRun(ctx, st)
}

func TestEndWithFailingStore(t *testing.T) {
	store := &failingStore{}
	h := newHarness(t, tracker.Config{Store: store})
	run := h.mustStart()
	h.clock.Advance(5 * time.Second)
	store.failing = true
	err := run.End(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("End with a failing store = %v, want the store's error", err)
	}
	if got := len(h.sink.windows(t)); got != 1 {
		t.Errorf("sink got %d windows, want 1", got)
	}
	store.failing = false
	if err := h.start(""); err != nil {
		t.Errorf("Start after End with a failing store: %v", err)
	}
}
