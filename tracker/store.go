package tracker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// RunState is the progress of a run as reported so far. The tracker saves
// it after every delivery to the sink, so that the run can resume in
// another session with its totals.
type RunState struct {
	RunID string `json:"runId"`
	// ActorID and ObjectID are the student and the activity of the run. A
	// run resumes only for the same two.
	ActorID  string `json:"actorId"`
	ObjectID string `json:"objectId"`
	// Active and Inactive are the totals of every window sent.
	Active   time.Duration `json:"activeNanos"`
	Inactive time.Duration `json:"inactiveNanos"`
	// Windows is the number of windows sent.
	Windows int `json:"windows"`
	// LastEnd is the end of the last window sent; zero before the first.
	LastEnd time.Time `json:"lastEnd"`
	// Completed is set once the run's ActivityCompletedEvent was sent.
	Completed bool `json:"completed"`
	// XPEarned is the xpEarned of the completion.
	XPEarned float64 `json:"xpEarned,omitempty"`
}

// RunStore keeps the RunState of runs between sessions.
type RunStore interface {
	// LoadRun returns the saved state of a run, or an error wrapping
	// ErrRunNotFound.
	LoadRun(ctx context.Context, runID string) (RunState, error)
	// SaveRun replaces the saved state of s.RunID.
	SaveRun(ctx context.Context, s RunState) error
}

// MemoryStore is a RunStore in memory, for one process. Its zero value is
// ready to use.
type MemoryStore struct {
	mu   sync.Mutex
	runs map[string]RunState
}

// LoadRun returns the state saved for runID.
func (m *MemoryStore) LoadRun(_ context.Context, runID string) (RunState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.runs[runID]
	if !ok {
		return RunState{}, fmt.Errorf("%w: run id %q", ErrRunNotFound, runID)
	}
	return s, nil
}

// SaveRun stores s under s.RunID.
func (m *MemoryStore) SaveRun(_ context.Context, s RunState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runs == nil {
		m.runs = make(map[string]RunState)
	}
	m.runs[s.RunID] = s
	return nil
}

// FileStore is a RunStore with one JSON file per run in Dir, written to a
// temporary file, synced and renamed, so that a crash leaves either the old
// or the new state. File names are the SHA-256 of the run id, so any run id
// is safe as a name.
type FileStore struct {
	// Dir is the folder of the state files. It is created when missing.
	Dir string
}

// LoadRun reads the state file of runID.
func (f FileStore) LoadRun(_ context.Context, runID string) (RunState, error) {
	path := f.path(runID)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return RunState{}, fmt.Errorf("%w: run id %q", ErrRunNotFound, runID)
	}
	if err != nil {
		return RunState{}, fmt.Errorf("tracker: read run state: %w", err)
	}
	var s RunState
	if err := json.Unmarshal(data, &s); err != nil {
		return RunState{}, fmt.Errorf("tracker: run state file %s is corrupt: %w", path, err)
	}
	if s.RunID != runID {
		return RunState{}, fmt.Errorf("tracker: run state file %s contains run id %q, not %q",
			path, s.RunID, runID)
	}
	return s, nil
}

// SaveRun writes the state file of s.RunID durably.
func (f FileStore) SaveRun(_ context.Context, s RunState) error {
	if f.Dir == "" {
		return errors.New("tracker: FileStore.Dir is empty; set the folder for run state files")
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("tracker: create run state folder: %w", err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("tracker: encode run state: %w", err)
	}

	tmp, err := os.CreateTemp(f.Dir, ".run-*.tmp")
	if err != nil {
		return fmt.Errorf("tracker: save run state: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("tracker: save run state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tracker: save run state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tracker: save run state: %w", err)
	}

	if err := os.Rename(tmp.Name(), f.path(s.RunID)); err != nil {
		return fmt.Errorf("tracker: save run state: %w", err)
	}
	return syncDir(f.Dir)
}

func (f FileStore) path(runID string) string {
	sum := sha256.Sum256([]byte(runID))
	return filepath.Join(f.Dir, hex.EncodeToString(sum[:16])+".json")
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tracker: sync run state folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tracker: sync run state folder: %w", err)
	}
	return nil
}
