package facts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/timeback/timeback-go"
)

// Ledger is a store transaction's view of the facts tables, which Keep uses
// to add the facts of newly stored events.
type Ledger interface {
	// LockRuns returns what is counted already for the runs: whether each
	// is completed, and its counted windows that overlap or touch the span
	// of the new windows. No other transaction may add facts to these runs
	// until this one ends. Keep passes the runs sorted, so that row locks,
	// where a store takes them, are taken in one order.
	LockRuns(ctx context.Context, runs []RunSpan) (map[RunKey]*RunState, error)
	// Insert adds counted windows and completions.
	Insert(ctx context.Context, windows []Window, completions []Completion) error
}

// RunSpan is a run and the span of the new windows that Keep adds to it.
// Start and End are zero when only a completion is new.
type RunSpan struct {
	RunKey
	Start, End time.Time
}

// HasWindows reports whether the span covers any new window.
func (s RunSpan) HasWindows() bool { return !s.Start.IsZero() }

// RunState is what is already counted for one run.
type RunState struct {
	// Windows are the run's counted windows.
	Windows []Window
	// Completed is set when a counted completion is stored for the run.
	Completed bool
}

// Keep derives the facts of events that a store has just added, removes
// the time that windows counted earlier already cover, and inserts the rest
// through l, inside the store's transaction. Events that are not
// TimebackProfile events are skipped. An event that is one but cannot be
// decoded is an error wrapping ErrInvalidEvent, which should reject its
// batch; other errors are the ledger's.
func Keep(ctx context.Context, l Ledger, events []*timeback.StoredEvent) error {
	decoded := make([]*Event, len(events))
	for i, se := range events {
		e, err := Decode(se.JSON)
		if errors.Is(err, ErrNotTimeback) {
			continue
		}
		if err != nil {
			return err
		}
		decoded[i] = e
	}
	return KeepDecoded(ctx, l, events, decoded)
}

// KeepDecoded is Keep for a store that has decoded the events already, for
// example to reject a batch before writing it: decoded[i] is Decode of
// events[i], nil for an event that is not a TimebackProfile event.
func KeepDecoded(ctx context.Context, l Ledger, events []*timeback.StoredEvent, decoded []*Event) error {
	derived, runs := deriveAll(events, decoded)
	if len(runs) == 0 {
		return nil
	}
	states, err := l.LockRuns(ctx, runs)
	if err != nil {
		return fmt.Errorf("facts: lock runs: %w", err)
	}
	windows, completions := Count(states, derived)
	if err := l.Insert(ctx, windows, completions); err != nil {
		return fmt.Errorf("facts: insert: %w", err)
	}
	return nil
}

func deriveAll(events []*timeback.StoredEvent, decoded []*Event) ([]Derived, []RunSpan) {
	var derived []Derived
	index := map[RunKey]int{}
	var runs []RunSpan
	for i, se := range events {
		e := decoded[i]
		if e == nil {
			continue
		}
		d := Derive(se.Sensor, se.Seq, e)
		if len(d.Windows) == 0 && d.Completion == nil {
			continue
		}
		derived = append(derived, d)
		k := RunKey{e.StudentID, e.RunID}
		j, ok := index[k]
		if !ok {
			j = len(runs)
			index[k] = j
			runs = append(runs, RunSpan{RunKey: k})
		}
		for _, w := range d.Windows {
			span := &runs[j]
			if span.Start.IsZero() || w.Start.Before(span.Start) {
				span.Start = w.Start
			}
			if w.End.After(span.End) {
				span.End = w.End
			}
		}
	}
	slices.SortFunc(runs, func(a, b RunSpan) int { return compareRunKeys(a.RunKey, b.RunKey) })
	return derived, runs
}

func compareRunKeys(a, b RunKey) int {
	if c := strings.Compare(a.StudentID, b.StudentID); c != 0 {
		return c
	}
	return strings.Compare(a.RunID, b.RunID)
}

// Count decides, in the order given, what each derived fact adds to the
// runs' counted state: the uncovered parts of each window, and every
// completion, of which only the first of a run is marked Counted. It
// updates states as it goes, so a window repeated within one batch counts
// once too. States missing from the map are taken as empty.
func Count(states map[RunKey]*RunState, derived []Derived) ([]Window, []Completion) {
	var windows []Window
	var completions []Completion
	if states == nil {
		states = map[RunKey]*RunState{}
	}
	state := func(k RunKey) *RunState {
		s := states[k]
		if s == nil {
			s = &RunState{}
			states[k] = s
		}
		return s
	}
	for _, d := range derived {
		for _, w := range d.Windows {
			s := state(w.Key())
			parts := Uncounted(s.Windows, w)
			s.Windows = append(s.Windows, parts...)
			windows = append(windows, parts...)
		}
		if c := d.Completion; c != nil {
			s := state(c.Key())
			cc := *c
			cc.Counted = !s.Completed
			s.Completed = true
			completions = append(completions, cc)
		}
	}
	return windows, completions
}
