package tracker_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/tracker"
)

var (
	testStart = time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	student   = timeback.User{
		ID:    "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123",
		Email: "student-123@example.com",
	}
	lesson = timeback.ActivityContext{
		ID:      "https://myapp.example.com/activities/Math/g3/lesson-1",
		Subject: timeback.SubjectMath,
		AppName: "My App",
	}
	errSinkDown = errors.New("sink down")
)

func float(v float64) *float64 { return &v }

// tb is the part of testing.TB that rapid.T has too.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// recordSink is the tracker's sink in tests, which reads the windows and
// completions back from the events taken.
type recordSink struct{ testkit.RecordSink }

// windows returns the windows of the TimeSpentEvents taken, read back from
// their items.
func (s *recordSink) windows(t tb) []tracker.Window {
	t.Helper()
	var out []tracker.Window
	for _, ts := range testkit.EventsOf[*timeback.TimeSpent](&s.RecordSink) {
		out = append(out, windowOf(t, ts))
	}
	return out
}

func (s *recordSink) completions() []*timeback.ActivityCompleted {
	return testkit.EventsOf[*timeback.ActivityCompleted](&s.RecordSink)
}

func windowOf(t tb, ts *timeback.TimeSpent) tracker.Window {
	t.Helper()
	if len(ts.Items) != 2 {
		t.Fatalf("TimeSpentEvent %s has %d items, want active and inactive", ts.ID, len(ts.Items))
	}
	var w tracker.Window
	for _, it := range ts.Items {
		if w.Start.IsZero() {
			w.Start, w.End = it.Start, it.End
		}
		if !it.Start.Equal(w.Start) || !it.End.Equal(w.End) {
			t.Fatalf("TimeSpentEvent %s items have different windows", ts.ID)
		}
		d := time.Duration(math.Round(it.Seconds*1000)) * time.Millisecond
		switch it.Type {
		case timeback.TimeActive:
			w.Active = d
		case timeback.TimeInactive:
			w.Inactive = d
		default:
			t.Fatalf("TimeSpentEvent %s has item type %q", ts.ID, it.Type)
		}
	}
	if !ts.EventTime.Equal(w.End) {
		t.Errorf("TimeSpentEvent %s eventTime %v, want the window end %v", ts.ID, ts.EventTime, w.End)
	}
	return w
}

// harness runs a tracker on a fake clock that starts at testStart.
type harness struct {
	t     *testing.T
	clock *tracker.FakeClock
	sink  *recordSink
	tr    *tracker.Tracker
	run   *tracker.Run
	// errs are the errors passed to OnError.
	errs []error
}

func newHarness(t *testing.T, cfg tracker.Config) *harness {
	t.Helper()
	h := &harness{t: t, clock: tracker.NewFakeClock(testStart), sink: &recordSink{}}
	cfg.Clock = h.clock
	cfg.Sink = h.sink
	onError := cfg.OnError
	cfg.OnError = func(runID string, err error) {
		h.errs = append(h.errs, err)
		if onError != nil {
			onError(runID, err)
		}
	}
	tr, err := tracker.New(cfg)
	if err != nil {
		t.Fatalf("tracker.New: %v", err)
	}
	h.tr = tr
	return h
}

func (h *harness) start(runID string) error {
	run, err := h.tr.Start(context.Background(),
		tracker.Activity{Actor: student, Object: lesson, CourseID: "MATH-3", RunID: runID})
	if err == nil {
		h.run = run
	}
	return err
}

func (h *harness) mustStart() *tracker.Run {
	h.t.Helper()
	if err := h.start(""); err != nil {
		h.t.Fatalf("Start: %v", err)
	}
	return h.run
}

// offset returns the time d after testStart.
func offset(d time.Duration) time.Time { return testStart.Add(d) }

func win(from, to, active time.Duration) tracker.Window {
	return tracker.Window{Start: offset(from), End: offset(to), Active: active,
		Inactive: to - from - active}
}

func sumWindows(ws []tracker.Window) (active, inactive time.Duration) {
	for _, w := range ws {
		active += w.Active
		inactive += w.Inactive
	}
	return active, inactive
}

// checkWindows fails unless every window is sound on its own and no two
// overlap.
func checkWindows(t tb, ws []tracker.Window) {
	t.Helper()
	for i, w := range ws {
		if !w.End.After(w.Start) {
			t.Errorf("window %d: end %v is not after start %v", i, w.End, w.Start)
		}
		if w.Active < 0 || w.Inactive < 0 || w.Active+w.Inactive != w.Duration() {
			t.Errorf("window %d: active %v + inactive %v, want %v", i, w.Active, w.Inactive, w.Duration())
		}
		if w.Duration() > tracker.MaxWindow {
			t.Errorf("window %d: %v is longer than %v", i, w.Duration(), tracker.MaxWindow)
		}
		if i > 0 && w.Start.Before(ws[i-1].End) {
			t.Errorf("window %d starts at %v, before window %d ends at %v", i, w.Start, i-1, ws[i-1].End)
		}
	}
}
