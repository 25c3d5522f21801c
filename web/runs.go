package web

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/timeback/timeback-go"
)

// RunState is the stage of a run's life.
type RunState uint8

// The states of a run. A run is open from a start until an end. An end
// without metrics closes the session but leaves the run resumable, and an
// end with metrics completes it for good.
const (
	RunOpen RunState = iota + 1
	RunClosed
	RunCompleted
)

func (s RunState) String() string {
	switch s {
	case RunOpen:
		return "open"
	case RunClosed:
		return "closed"
	case RunCompleted:
		return "completed"
	}
	return fmt.Sprintf("RunState(%d)", uint8(s))
}

// Run is the server's record of one activity run of one student. The
// handler trusts these numbers, never the browser's.
type Run struct {
	ID       string
	Owner    timeback.User
	Object   timeback.ActivityContext
	CourseID string
	State    RunState

	// Seq is the last accepted sequence number; the next message must carry
	// a larger one.
	Seq int64
	// LastHeartbeat is when the server accepted the last start, heartbeat
	// or end of the run. The time guard measures wall time from it.
	LastHeartbeat time.Time
	// Ahead is how much counted time ran ahead of wall time within the
	// leeway; the guard subtracts it from the next allowance.
	Ahead time.Duration
	// WindowEnd is the start of the session's next window: the end of the
	// last window sent, or the start of the session. It may be up to the
	// leeway after LastHeartbeat, while the run is Ahead.
	WindowEnd time.Time

	// Active and Inactive are the counted totals over all sessions.
	Active   time.Duration
	Inactive time.Duration
	// XPEarned is set when the run completed.
	XPEarned float64
}

// RunStore keeps the state of runs between requests. Implementations must
// run the Update functions of one run one at a time.
type RunStore interface {
	// Create stores a new run. It returns an error with CodeConflict when
	// the id is taken.
	Create(ctx context.Context, run Run) error
	// Update calls fn with the stored run and stores the changes when fn
	// returns nil. It returns an error with CodeNotFound for an unknown id.
	Update(ctx context.Context, id string, fn func(*Run) error) error
	// CountCompleted returns how many runs of the activity the owner
	// completed, which gives the attempt number of the next completion.
	CountCompleted(ctx context.Context, ownerID, activityID string) (int, error)
}

// MemoryRuns is a RunStore in memory. Runs are lost when the process ends:
// a browser that resumes an unknown run id starts it afresh under the same
// id. Its zero value is ready to use.
type MemoryRuns struct {
	// IdleTimeout is how long a run is kept after its last message. Zero
	// means 24 hours.
	IdleTimeout time.Duration
	// MaxRuns bounds the runs kept, so that a client starting runs in a
	// loop cannot exhaust memory; past it Create fails with
	// CodeUnavailable. Zero means 100,000.
	MaxRuns int
	// Now is the clock for idle expiry. Nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	runs      map[string]*memoryRun
	completed map[[2]string]int
	lastSweep time.Time
}

type memoryRun struct {
	mu   sync.Mutex
	run  Run
	seen time.Time
}

// sweepInterval is how often Create drops idle runs.
const sweepInterval = time.Minute

func (m *MemoryRuns) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Create stores run under run.ID.
func (m *MemoryRuns) Create(ctx context.Context, run Run) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runs == nil {
		m.runs = make(map[string]*memoryRun)
		m.completed = make(map[[2]string]int)
	}
	now := m.now()
	m.sweep(now)
	if _, ok := m.runs[run.ID]; ok {
		return timeback.Errorf(timeback.CodeConflict, "run %q already exists", run.ID)
	}
	limit := m.MaxRuns
	if limit <= 0 {
		limit = 100000
	}
	if len(m.runs) >= limit {
		return timeback.Errorf(timeback.CodeUnavailable,
			"cannot start run %q: %d runs are open, the maximum; retry later", run.ID, len(m.runs))
	}
	m.runs[run.ID] = &memoryRun{run: run, seen: now}
	return nil
}

// sweep drops runs idle for longer than IdleTimeout; m.mu is held.
func (m *MemoryRuns) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < sweepInterval {
		return
	}
	m.lastSweep = now
	idle := m.IdleTimeout
	if idle <= 0 {
		idle = 24 * time.Hour
	}
	for id, r := range m.runs {
		// TryLock skips runs being updated, which are not idle.
		if !r.mu.TryLock() {
			continue
		}
		if now.Sub(r.seen) > idle {
			delete(m.runs, id)
		}
		r.mu.Unlock()
	}
}

// Update calls fn with a copy of the run under the run's lock and stores
// the copy when fn returns nil.
func (m *MemoryRuns) Update(ctx context.Context, id string, fn func(*Run) error) error {
	m.mu.Lock()
	r, ok := m.runs[id]
	m.mu.Unlock()
	if !ok {
		return timeback.Errorf(timeback.CodeNotFound, "run %q not found", id)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	m.mu.Lock()
	current := m.runs[id] == r // false when a sweep dropped the run meanwhile
	m.mu.Unlock()
	if !current {
		return timeback.Errorf(timeback.CodeNotFound, "run %q not found", id)
	}
	run := r.run
	wasCompleted := run.State == RunCompleted
	if err := fn(&run); err != nil {
		return err
	}
	r.run = run
	r.seen = m.now()
	if run.State == RunCompleted && !wasCompleted {
		m.mu.Lock()
		m.completed[[2]string{run.Owner.ID, run.Object.ID}]++
		m.mu.Unlock()
	}
	return nil
}

// CountCompleted returns the completions of activityID by ownerID since the
// process started.
func (m *MemoryRuns) CountCompleted(ctx context.Context, ownerID, activityID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.completed[[2]string{ownerID, activityID}], nil
}

// Get returns a copy of the run with id, for tests and inspection.
func (m *MemoryRuns) Get(id string) (Run, bool) {
	m.mu.Lock()
	r, ok := m.runs[id]
	m.mu.Unlock()
	if !ok {
		return Run{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run, true
}
