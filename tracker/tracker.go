package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/timeback/timeback-go"
)

// Sink takes the events of a run. sender.Client is the durable Sink: Send
// returns once the events are on disk. Send takes all events or none.
type Sink interface {
	Send(ctx context.Context, events ...timeback.Event) error
}

// Defaults of Config.
const (
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultHiddenTimeout     = 10 * time.Minute
	DefaultSendTimeout       = 10 * time.Second
)

// Config configures a Tracker. Its zero value, with Sink set, tracks time
// with the defaults of the published Timeback SDK.
type Config struct {
	// Sink takes every event. Required.
	Sink Sink
	// HeartbeatInterval is the time between two heartbeats, each of which
	// sends the window since the previous one. Zero means 15 s.
	HeartbeatInterval time.Duration
	// HiddenTimeout is how long a run may stay hidden before heartbeats stop
	// until it is visible again. Zero means 10 min.
	HiddenTimeout time.Duration
	// DisableTimeTracking turns heartbeats and windows off: runs send only
	// their completion, and a time given in Metrics.ActiveTime.
	DisableTimeTracking bool
	// AllowXPAboveFocus accepts a given xpEarned above the run's focused
	// minutes (1.25 times them for a perfect score, as the XP rule gives).
	// False means Complete rejects it.
	AllowXPAboveFocus bool
	// Clock is the time source. Nil means SystemClock.
	Clock Clock
	// Store keeps run state between sessions. Nil means a MemoryStore of
	// the tracker, which resumes runs within this process only.
	Store RunStore
	// SendTimeout bounds each Send of a heartbeat or of the hidden timeout,
	// which run on timers with no caller context. Zero means 10 s.
	SendTimeout time.Duration
	// NewRunID returns the id of a new run. Nil means a random UUID.
	NewRunID func() string
	// Logger logs what fails on timers. Nil discards the logs.
	Logger *slog.Logger

	// Callbacks, each optional, called without locks held, so they may call
	// the run. OnError gets the errors of heartbeats and timeouts, which
	// have no caller to return them to.
	OnPause  func(runID string)
	OnResume func(runID string)
	OnFlush  func(runID string, w Window)
	OnError  func(runID string, err error)
}

// Tracker turns what happens to an activity into TimeSpentEvents and one
// ActivityCompletedEvent per run, following the Timeback activity models. A
// Tracker runs one activity at a time and is safe for concurrent use.
type Tracker struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	open *Run
}

// New returns a Tracker for cfg.
func New(cfg Config) (*Tracker, error) {
	if cfg.Sink == nil {
		return nil, errors.New("tracker: Config.Sink is nil; set the sink that takes the events")
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"HeartbeatInterval", cfg.HeartbeatInterval}, {"HiddenTimeout", cfg.HiddenTimeout},
		{"SendTimeout", cfg.SendTimeout}} {
		if d.value < 0 {
			return nil, fmt.Errorf("tracker: Config.%s is %v; it must be positive, or 0 for the default",
				d.name, d.value)
		}
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.HiddenTimeout == 0 {
		cfg.HiddenTimeout = DefaultHiddenTimeout
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Store == nil {
		cfg.Store = &MemoryStore{}
	}
	if cfg.NewRunID == nil {
		cfg.NewRunID = newRunID
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Tracker{cfg: cfg, log: log}, nil
}

// newRunID returns a random version 4 UUID without the urn:uuid: prefix, the
// form of extensions.runId on the Timeback product page.
func newRunID() string {
	return strings.TrimPrefix(timeback.NewEventID(), "urn:uuid:")
}

// Activity is the subject of a run: the student, the activity and the
// course.
type Activity struct {
	Actor  timeback.User
	Object timeback.ActivityContext
	// CourseID is extensions.courseId of every event, optional.
	CourseID string
	// EdApp is the IRI of the application, optional.
	EdApp string
	// RunID resumes a saved run: its totals are loaded from the Store, and a
	// run unknown to the Store starts from zero with this id. Empty starts a
	// new run with a new id.
	RunID string
}

// Current returns the open run, or nil.
func (t *Tracker) Current() *Run {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

// Start opens a run of a and starts its heartbeats. The run starts visible
// and not paused. It fails with ErrRunOpen while another run of t is open,
// and with ErrAlreadyCompleted for a run id the Store has as completed.
func (t *Tracker) Start(ctx context.Context, a Activity) (*Run, error) {
	if err := checkActivity(a); err != nil {
		return nil, err
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open != nil {
		return nil, fmt.Errorf("%w: run %s; end or complete it first", ErrRunOpen, t.open.id)
	}

	state, err := t.loadState(ctx, a)
	if err != nil {
		return nil, err
	}
	reading := t.cfg.Clock.Now()
	r := &Run{
		t:           t,
		activity:    a,
		id:          state.RunID,
		state:       state,
		base:        truncate(reading),
		baseReading: reading,
	}
	r.last = r.base
	if !state.LastEnd.IsZero() && r.base.Before(state.LastEnd) {
		return nil, fmt.Errorf("%w: run %s resumes at %s, before the end of its last window at %s",
			ErrClockBackwards, r.id, formatTime(r.base), formatTime(state.LastEnd))
	}
	if err := t.cfg.Store.SaveRun(ctx, state); err != nil {
		return nil, fmt.Errorf("tracker: start run %s: %w", r.id, err)
	}

	if !t.cfg.DisableTimeTracking {
		// The first heartbeat may fire before Start returns, and it locks
		// the run.
		r.mu.Lock()
		r.meter = NewMeter(r.base, true)
		r.scheduleHeartbeat()
		r.mu.Unlock()
	}
	t.open = r
	return r, nil
}

func (t *Tracker) loadState(ctx context.Context, a Activity) (RunState, error) {
	fresh := RunState{RunID: a.RunID, ActorID: a.Actor.ID, ObjectID: a.Object.ID}
	if a.RunID == "" {
		fresh.RunID = t.cfg.NewRunID()
		return fresh, nil
	}
	state, err := t.cfg.Store.LoadRun(ctx, a.RunID)
	switch {
	case errors.Is(err, ErrRunNotFound):
		return fresh, nil
	case err != nil:
		return RunState{}, fmt.Errorf("tracker: resume run %s: %w", a.RunID, err)
	case state.Completed:
		return RunState{}, fmt.Errorf("%w: run %s was completed with %v XP; start a new run",
			ErrAlreadyCompleted, a.RunID, state.XPEarned)
	case state.ActorID != a.Actor.ID:
		return RunState{}, fmt.Errorf("%w: run %s is of actor %s, not %s", ErrRunMismatch, a.RunID,
			state.ActorID, a.Actor.ID)
	case state.ObjectID != a.Object.ID:
		return RunState{}, fmt.Errorf("%w: run %s is of activity %s, not %s", ErrRunMismatch, a.RunID,
			state.ObjectID, a.Object.ID)
	}
	return state, nil
}

// checkActivity builds a throwaway event from a, so that a bad actor or
// object fails at Start with the constructor's message rather than at the
// first heartbeat.
func checkActivity(a Activity) error {
	if a.RunID != "" && strings.TrimSpace(a.RunID) == "" {
		return fmt.Errorf("tracker: run id %q is blank; leave it empty for a new run", a.RunID)
	}
	c := timeback.Common{Actor: a.Actor, Object: a.Object, EdApp: a.EdApp, RunID: a.RunID,
		CourseID: a.CourseID}
	if _, err := timeback.NewTimeSpent(c, timeback.TimeItem{Type: timeback.TimeActive}); err != nil {
		return fmt.Errorf("tracker: start: %w", err)
	}
	return nil
}

// release frees the tracker for the next run once r has nothing left to
// send.
func (t *Tracker) release(r *Run) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == r {
		t.open = nil
	}
}
