package tracker_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/tracker"
)

// step is one action of a scenario.
type step struct {
	name    string
	do      func(h *harness) error
	wantErr error
}

func advance(d time.Duration) step {
	return step{name: "advance " + d.String(), do: func(h *harness) error { h.clock.Advance(d); return nil }}
}

// jump moves the clock without stepping through the timers, as a machine
// that was suspended.
func jump(d time.Duration) step {
	return step{name: "jump " + d.String(), do: func(h *harness) error {
		h.clock.Set(h.clock.Now().Add(d))
		return nil
	}}
}

func do(name string, f func(r *tracker.Run) error, wantErr error) step {
	return step{name: name, do: func(h *harness) error { return f(h.run) }, wantErr: wantErr}
}

func pause() step  { return do("pause", (*tracker.Run).Pause, nil) }
func resume() step { return do("resume", (*tracker.Run).Resume, nil) }
func hide() step {
	return do("hide", func(r *tracker.Run) error { return r.SetVisible(false) }, nil)
}
func show() step {
	return do("show", func(r *tracker.Run) error { return r.SetVisible(true) }, nil)
}
func end() step {
	return do("end", func(r *tracker.Run) error { return r.End(context.Background()) }, nil)
}
func complete(m tracker.Metrics) step {
	return do("complete", func(r *tracker.Run) error { return r.Complete(context.Background(), m) }, nil)
}
func endWithTime(d time.Duration) step {
	return do("end with time "+d.String(), func(r *tracker.Run) error {
		return r.EndWithTime(context.Background(), d)
	}, nil)
}
func fails(s step, err error) step {
	s.name += " (fails)"
	s.wantErr = err
	return s
}

// startRun starts a run: a new one, or with resume set, the run of the
// harness again.
func startRun(resume bool) step {
	return step{name: "start", do: func(h *harness) error {
		id := ""
		if resume {
			id = h.run.ID()
		}
		return h.start(id)
	}}
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name  string
		cfg   tracker.Config
		steps []step
		// want lists the windows sent, unless wantCount is set.
		want                 []tracker.Window
		wantCount            int
		wantActive           time.Duration
		wantInactive         time.Duration
		wantXP               []float64 // xpEarned of each completion sent
		wantPendingTimersEnd int
	}{
		{
			name:  "heartbeats",
			steps: []step{startRun(false), advance(45 * time.Second), end()},
			want: []tracker.Window{win(0, 15*time.Second, 15*time.Second),
				win(15*time.Second, 30*time.Second, 15*time.Second),
				win(30*time.Second, 45*time.Second, 15*time.Second)},
		},
		{
			name: "pause during a window",
			steps: []step{startRun(false), advance(5 * time.Second), pause(), advance(7 * time.Second),
				resume(), advance(8 * time.Second), end()},
			want: []tracker.Window{win(0, 15*time.Second, 8*time.Second),
				win(15*time.Second, 20*time.Second, 5*time.Second)},
		},
		{
			name: "pause across heartbeats",
			steps: []step{startRun(false), advance(10 * time.Second), pause(), advance(20 * time.Second),
				resume(), advance(2 * time.Second), end()},
			want: []tracker.Window{win(0, 15*time.Second, 10*time.Second),
				win(15*time.Second, 30*time.Second, 0), win(30*time.Second, 32*time.Second, 2*time.Second)},
		},
		{
			name: "hide past the timeout",
			cfg:  tracker.Config{HeartbeatInterval: time.Minute, HiddenTimeout: 3 * time.Minute},
			steps: []step{startRun(false), advance(90 * time.Second), hide(), advance(time.Hour), show(),
				advance(30 * time.Second), end()},
			want: []tracker.Window{win(0, time.Minute, time.Minute),
				win(time.Minute, 2*time.Minute, 30*time.Second),
				win(2*time.Minute, 3*time.Minute, 0), win(3*time.Minute, 4*time.Minute, 0),
				win(4*time.Minute, 4*time.Minute+30*time.Second, 0),
				// Away from 4m30s to 61m30s: nothing sent.
				win(61*time.Minute+30*time.Second, 62*time.Minute, 30*time.Second)},
		},
		{
			name: "hide past the timeout with defaults",
			steps: []step{startRun(false), advance(20 * time.Second), hide(), advance(15 * time.Minute),
				show(), advance(10 * time.Second), end()},
			wantCount:    43, // 0-15 s, 15-30 s, 39 from 30 s to 615 s, 615-620 s, 920-930 s
			wantActive:   30 * time.Second,
			wantInactive: 10 * time.Minute,
		},
		{
			name: "hidden within the timeout",
			cfg:  tracker.Config{HeartbeatInterval: time.Minute, HiddenTimeout: 3 * time.Minute},
			steps: []step{startRun(false), advance(30 * time.Second), hide(), advance(2 * time.Minute),
				show(), advance(30 * time.Second), end()},
			want: []tracker.Window{win(0, time.Minute, 30*time.Second),
				win(time.Minute, 2*time.Minute, 0), win(2*time.Minute, 3*time.Minute, 30*time.Second)},
		},
		{
			name: "paused while hidden past the timeout",
			cfg:  tracker.Config{HeartbeatInterval: time.Minute, HiddenTimeout: 3 * time.Minute},
			steps: []step{startRun(false), hide(), pause(), advance(10 * time.Minute), show(),
				advance(time.Minute), resume(), advance(time.Minute), end()},
			want: []tracker.Window{win(0, time.Minute, 0), win(time.Minute, 2*time.Minute, 0),
				win(2*time.Minute, 3*time.Minute, 0),
				win(10*time.Minute, 11*time.Minute, 0), win(11*time.Minute, 12*time.Minute, time.Minute)},
		},
		{
			name: "resume on a later day",
			steps: []step{startRun(false), advance(40 * time.Second), end(), jump(24 * time.Hour),
				startRun(true), advance(20 * time.Second), complete(tracker.Metrics{})},
			want: []tracker.Window{win(0, 15*time.Second, 15*time.Second),
				win(15*time.Second, 30*time.Second, 15*time.Second),
				win(30*time.Second, 40*time.Second, 10*time.Second),
				win(24*time.Hour+40*time.Second, 24*time.Hour+55*time.Second, 15*time.Second),
				win(24*time.Hour+55*time.Second, 24*time.Hour+60*time.Second, 5*time.Second)},
			wantXP: []float64{1}, // 60 s focused over both sessions
		},
		{
			name: "end without metrics",
			steps: []step{startRun(false), advance(10 * time.Second), end(), fails(end(), tracker.ErrRunEnded),
				fails(pause(), tracker.ErrRunEnded), fails(show(), tracker.ErrRunEnded),
				fails(complete(tracker.Metrics{}), tracker.ErrRunEnded)},
			want: []tracker.Window{win(0, 10*time.Second, 10*time.Second)},
		},
		{
			name: "complete twice",
			steps: []step{startRun(false), advance(2 * time.Minute), complete(tracker.Metrics{}),
				fails(complete(tracker.Metrics{}), tracker.ErrAlreadyCompleted),
				fails(startRun(true), tracker.ErrAlreadyCompleted)},
			wantCount:  8,
			wantActive: 2 * time.Minute,
			wantXP:     []float64{2},
		},
		{
			name:  "30 h run",
			steps: []step{startRun(false), advance(30 * time.Hour), end()},
			// 7200 heartbeats of 15 s.
			wantCount:  7200,
			wantActive: 30 * time.Hour,
		},
		{
			name:  "30 h without a heartbeat",
			steps: []step{startRun(false), jump(30 * time.Hour), end()},
			// The one heartbeat after the jump sends 30 h, split at 86400 s.
			want: []tracker.Window{win(0, 24*time.Hour, 24*time.Hour),
				win(24*time.Hour, 30*time.Hour, 6*time.Hour)},
		},
		{
			name: "30 h hidden window split",
			cfg:  tracker.Config{HeartbeatInterval: 40 * time.Hour, HiddenTimeout: 30 * time.Hour},
			steps: []step{startRun(false), advance(time.Hour), pause(), advance(25 * time.Hour),
				resume(), advance(4 * time.Hour), end()},
			want: []tracker.Window{win(0, 24*time.Hour, time.Hour),
				win(24*time.Hour, 30*time.Hour, 4*time.Hour)},
		},
		{
			name: "complete with questions",
			steps: []step{startRun(false), advance(10 * time.Minute), complete(tracker.Metrics{
				TotalQuestions: float(10), CorrectQuestions: float(10), Attempt: 2})},
			wantCount:  40,
			wantActive: 10 * time.Minute,
			wantXP:     []float64{6.3}, // 10 × 1.25 × 1/2 = 6.25, half-up
		},
		{
			name: "complete with given XP",
			steps: []step{startRun(false), advance(10 * time.Minute),
				fails(complete(tracker.Metrics{XPEarned: float(11)}), timeback.ErrXPAboveFocus),
				complete(tracker.Metrics{XPEarned: float(9.5)})},
			wantCount:  40,
			wantActive: 10 * time.Minute,
			wantXP:     []float64{9.5},
		},
		{
			name: "given XP above focus allowed",
			cfg:  tracker.Config{AllowXPAboveFocus: true},
			steps: []step{startRun(false), advance(time.Minute),
				complete(tracker.Metrics{XPEarned: float(80)})},
			wantCount:  4,
			wantActive: time.Minute,
			wantXP:     []float64{80},
		},
		{
			name: "pause twice",
			steps: []step{startRun(false), pause(), fails(pause(), tracker.ErrAlreadyPaused),
				advance(5 * time.Second), resume(), fails(resume(), tracker.ErrNotPaused),
				advance(5 * time.Second), end()},
			want: []tracker.Window{win(0, 10*time.Second, 5*time.Second)},
		},
		{
			name: "second run while open",
			steps: []step{startRun(false), advance(5 * time.Second), fails(startRun(false), tracker.ErrRunOpen),
				end(), startRun(false), advance(5 * time.Second), end()},
			want: []tracker.Window{win(0, 5*time.Second, 5*time.Second),
				win(5*time.Second, 10*time.Second, 5*time.Second)},
		},
		{
			name: "clock backwards",
			steps: []step{startRun(false), advance(20 * time.Second), jump(-10 * time.Second),
				fails(pause(), tracker.ErrClockBackwards), fails(end(), tracker.ErrClockBackwards),
				advance(30 * time.Second), pause(), advance(5 * time.Second), end()},
			// The pause and end at 10 s fail, because the heartbeat at 15 s
			// came first. The heartbeat due at 30 s fires when the clock reads
			// 30 s again, and the pause at 40 s falls into the window up to 45 s.
			want: []tracker.Window{win(0, 15*time.Second, 15*time.Second),
				win(15*time.Second, 30*time.Second, 15*time.Second),
				win(30*time.Second, 45*time.Second, 10*time.Second)},
		},
		{
			name: "time tracking off",
			cfg:  tracker.Config{DisableTimeTracking: true},
			steps: []step{startRun(false), advance(time.Hour), pause(), resume(),
				complete(tracker.Metrics{TotalQuestions: float(5), CorrectQuestions: float(4)})},
			want:   nil,
			wantXP: []float64{0},
		},
		{
			name: "time tracking off with time override",
			cfg:  tracker.Config{DisableTimeTracking: true},
			steps: []step{startRun(false), advance(time.Hour),
				fails(complete(tracker.Metrics{ActiveTime: durationPtr(2 * time.Hour)}),
					tracker.ErrInvalidMetrics),
				complete(tracker.Metrics{ActiveTime: durationPtr(20 * time.Minute)})},
			want:   []tracker.Window{win(0, time.Hour, 20*time.Minute)},
			wantXP: []float64{20},
		},
		{
			name: "end with time",
			cfg:  tracker.Config{DisableTimeTracking: true},
			steps: []step{startRun(false), advance(30 * time.Hour),
				fails(endWithTime(31*time.Hour), tracker.ErrInvalidMetrics),
				fails(endWithTime(-time.Second), tracker.ErrInvalidMetrics),
				endWithTime(25 * time.Hour), fails(endWithTime(time.Hour), tracker.ErrRunEnded)},
			want: []tracker.Window{win(0, 24*time.Hour, 24*time.Hour), win(24*time.Hour, 30*time.Hour, time.Hour)},
		},
		{
			name: "end with time while tracking",
			steps: []step{startRun(false), advance(15 * time.Second),
				fails(endWithTime(time.Second), tracker.ErrInvalidMetrics), end()},
			want: []tracker.Window{win(0, 15*time.Second, 15*time.Second)},
		},
		{
			name: "time override with tracking on",
			steps: []step{startRun(false), advance(time.Minute),
				fails(complete(tracker.Metrics{ActiveTime: durationPtr(time.Minute)}), tracker.ErrInvalidMetrics),
				end()},
			wantCount:  4,
			wantActive: time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			for i, s := range tt.steps {
				err := s.do(h)
				if !errors.Is(err, s.wantErr) || (s.wantErr != nil && err == nil) {
					t.Fatalf("step %d (%s): error = %v, want %v", i, s.name, err, s.wantErr)
				}
			}

			got := h.sink.windows(t)
			checkWindows(t, got)
			if tt.wantCount == 0 {
				if !slices.EqualFunc(got, tt.want, windowEqual) {
					t.Errorf("windows:\n got %s\nwant %s", formatWindows(got), formatWindows(tt.want))
				}
			} else {
				if len(got) != tt.wantCount {
					t.Errorf("got %d windows, want %d", len(got), tt.wantCount)
				}
				active, inactive := sumWindows(got)
				if active != tt.wantActive || inactive != tt.wantInactive {
					t.Errorf("active %v inactive %v, want %v and %v", active, inactive,
						tt.wantActive, tt.wantInactive)
				}
			}

			var xps []float64
			for _, c := range h.sink.completions() {
				xps = append(xps, c.Metrics.XPEarned)
			}
			if !slices.Equal(xps, tt.wantXP) {
				t.Errorf("completions with xpEarned %v, want %v", xps, tt.wantXP)
			}
			if len(h.errs) > 0 {
				t.Errorf("OnError got %v", h.errs)
			}
			if n := h.clock.Pending(); n != 0 {
				t.Errorf("%d timers pending after the last step, want 0", n)
			}
			checkEvents(t, h.sink.Events())
		})
	}
}

func durationPtr(d time.Duration) *time.Duration { return &d }

func windowEqual(a, b tracker.Window) bool {
	return a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.Active == b.Active && a.Inactive == b.Inactive
}

func formatWindows(ws []tracker.Window) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString("\n  [")
		b.WriteString(w.Start.Sub(testStart).String())
		b.WriteString(" ")
		b.WriteString(w.End.Sub(testStart).String())
		b.WriteString(" active ")
		b.WriteString(w.Active.String())
		b.WriteString("]")
	}
	return b.String()
}

// checkEvents fails unless the events have distinct ids, one run id per
// run, and the completion comes last in its run.
func checkEvents(t *testing.T, events []timeback.Event) {
	t.Helper()
	ids := make(map[string]bool)
	completed := make(map[string]bool)
	for _, e := range events {
		if ids[e.EventID()] {
			t.Errorf("event id %s sent twice", e.EventID())
		}
		ids[e.EventID()] = true
		var c timeback.Common
		switch e := e.(type) {
		case *timeback.TimeSpent:
			c = e.Common
		case *timeback.ActivityCompleted:
			c = e.Common
		}
		if c.RunID == "" || c.CourseID != "MATH-3" {
			t.Errorf("event %s has run id %q and course id %q", e.EventID(), c.RunID, c.CourseID)
		}
		if completed[c.RunID] {
			t.Errorf("event %s of run %s comes after the run's completion", e.EventID(), c.RunID)
		}
		if _, ok := e.(*timeback.ActivityCompleted); ok {
			completed[c.RunID] = true
		}
	}
}

func TestCompleteSendsFinalWindowFirst(t *testing.T) {
	h := newHarness(t, tracker.Config{})
	run := h.mustStart()
	h.clock.Advance(20 * time.Second)
	if err := run.Complete(context.Background(), tracker.Metrics{}); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	events := h.sink.Events()
	if len(events) != 3 {
		t.Fatalf("got %d events, want 2 windows and the completion", len(events))
	}
	last, ok := events[2].(*timeback.ActivityCompleted)
	if !ok {
		t.Fatalf("last event is %T, want the completion", events[2])
	}
	if !last.EventTime.Equal(offset(20 * time.Second)) {
		t.Errorf("completion eventTime %v, want %v", last.EventTime, offset(20*time.Second))
	}
	if last.RunID != run.ID() {
		t.Errorf("completion run id %q, want %q", last.RunID, run.ID())
	}
	if got, want := last.Metrics.XPEarned, 0.3; got != want {
		t.Errorf("xpEarned %v, want %v for 20 s", got, want)
	}
}

func TestCompleteBadMetrics(t *testing.T) {
	tests := []struct {
		name    string
		m       tracker.Metrics
		wantMsg string
	}{
		{"negative xp", tracker.Metrics{XPEarned: float(-1)}, "xpEarned: -1"},
		{"NaN xp", tracker.Metrics{XPEarned: float(math.NaN())}, "xpEarned: NaN"},
		{"total without correct", tracker.Metrics{TotalQuestions: float(5)}, "correctQuestions: missing"},
		{"correct without total", tracker.Metrics{CorrectQuestions: float(5)}, "totalQuestions: missing"},
		{"correct above total", tracker.Metrics{TotalQuestions: float(5), CorrectQuestions: float(6)},
			"correctQuestions: 6 exceeds totalQuestions 5"},
		{"negative units", tracker.Metrics{MasteredUnits: float(-2)}, "masteredUnits: -2"},
		{"NaN units", tracker.Metrics{MasteredUnits: float(math.NaN())}, "masteredUnits: NaN"},
		{"pct above 100", tracker.Metrics{PctCompleteApp: float(101)}, "pctCompleteApp: 101"},
		{"negative attempt", tracker.Metrics{Attempt: -1}, "attempt: -1"},
		{"xp above focus", tracker.Metrics{XPEarned: float(3)}, "xpEarned: 3 is above the run's 2 focused minutes"},
		{"negative override", tracker.Metrics{ActiveTime: durationPtr(-time.Second)}, "ActiveTime -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tracker.Config{})
			run := h.mustStart()
			h.clock.Advance(2 * time.Minute)
			before := run.State()
			err := run.Complete(context.Background(), tt.m)
			if !errors.Is(err, tracker.ErrInvalidMetrics) {
				t.Fatalf("Complete(%s) = %v, want ErrInvalidMetrics", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Complete(%s) error %q does not contain %q", tt.name, err, tt.wantMsg)
			}
			if after := run.State(); after != before {
				t.Errorf("state changed from %+v to %+v", before, after)
			}

			// The run is still open and completes with sound metrics.
			h.clock.Advance(time.Second)
			if err := run.Complete(context.Background(), tracker.Metrics{}); err != nil {
				t.Fatalf("Complete after the rejection: %v", err)
			}
			if got := len(h.sink.completions()); got != 1 {
				t.Errorf("got %d completions, want 1", got)
			}
		})
	}
}

func TestStartBadActivity(t *testing.T) {
	tests := []struct {
		name    string
		a       tracker.Activity
		wantMsg string
	}{
		{"actor id", tracker.Activity{Actor: timeback.User{ID: "student", Email: student.Email},
			Object: lesson}, `actor.id: "student"`},
		{"actor email", tracker.Activity{Actor: timeback.User{ID: student.ID}, Object: lesson},
			"actor.email"},
		{"subject", tracker.Activity{Actor: student, Object: timeback.ActivityContext{ID: lesson.ID,
			Subject: "Maths", AppName: "x"}}, `"Maths"`},
		{"blank run id", tracker.Activity{Actor: student, Object: lesson, RunID: "  "}, "blank"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tracker.Config{})
			_, err := h.tr.Start(context.Background(), tt.a)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Start = %v, want an error containing %q", err, tt.wantMsg)
			}
			if h.tr.Current() != nil {
				t.Errorf("a run is open after a rejected Start")
			}
			if n := h.clock.Pending(); n != 0 {
				t.Errorf("%d timers pending after a rejected Start", n)
			}
		})
	}
}

func TestNewRejectsConfig(t *testing.T) {
	if _, err := tracker.New(tracker.Config{}); err == nil {
		t.Errorf("New without a sink = nil error")
	}
	_, err := tracker.New(tracker.Config{Sink: &recordSink{}, HeartbeatInterval: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "HeartbeatInterval is -1s") {
		t.Errorf("New with a negative interval = %v, want a HeartbeatInterval error", err)
	}
}

func TestHeartbeatSinkFailure(t *testing.T) {
	h := newHarness(t, tracker.Config{})
	run := h.mustStart()
	h.sink.SetErr(errSinkDown)
	h.clock.Advance(30 * time.Second)
	if len(h.errs) != 2 || !errors.Is(h.errs[0], errSinkDown) {
		t.Fatalf("OnError got %v, want two sink errors", h.errs)
	}
	if got := len(h.sink.Events()); got != 0 {
		t.Fatalf("sink took %d events while down", got)
	}

	// The next heartbeat sends the windows kept back, with their ids.
	h.sink.SetErr(nil)
	h.clock.Advance(15 * time.Second)
	got := h.sink.windows(t)
	want := []tracker.Window{win(0, 15*time.Second, 15*time.Second),
		win(15*time.Second, 30*time.Second, 15*time.Second),
		win(30*time.Second, 45*time.Second, 15*time.Second)}
	if !slices.EqualFunc(got, want, windowEqual) {
		t.Errorf("windows:\n got %s\nwant %s", formatWindows(got), formatWindows(want))
	}
	if err := run.End(context.Background()); err != nil {
		t.Fatalf("End: %v", err)
	}
}

func TestEndSinkFailureKeepsRun(t *testing.T) {
	h := newHarness(t, tracker.Config{})
	run := h.mustStart()
	h.clock.Advance(10 * time.Second)
	h.sink.SetErr(errSinkDown)
	if err := run.End(context.Background()); !errors.Is(err, errSinkDown) {
		t.Fatalf("End with the sink down = %v, want the sink's error", err)
	}
	if err := h.start(""); !errors.Is(err, tracker.ErrRunOpen) {
		t.Fatalf("Start with events not sent = %v, want ErrRunOpen", err)
	}

	h.sink.SetErr(nil)
	h.clock.Advance(time.Minute)
	if err := run.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	want := []tracker.Window{win(0, 10*time.Second, 10*time.Second)}
	if got := h.sink.windows(t); !slices.EqualFunc(got, want, windowEqual) {
		t.Errorf("windows:\n got %s\nwant %s", formatWindows(got), formatWindows(want))
	}
	if err := h.start(""); err != nil {
		t.Errorf("Start after the flush: %v", err)
	}
}

func TestCompleteSinkFailureRetried(t *testing.T) {
	h := newHarness(t, tracker.Config{})
	run := h.mustStart()
	h.clock.Advance(time.Minute)
	h.sink.SetErr(errSinkDown)
	if err := run.Complete(context.Background(), tracker.Metrics{}); !errors.Is(err, errSinkDown) {
		t.Fatalf("Complete with the sink down = %v, want the sink's error", err)
	}
	if err := run.Complete(context.Background(), tracker.Metrics{}); !errors.Is(err, tracker.ErrAlreadyCompleted) {
		t.Fatalf("second Complete = %v, want ErrAlreadyCompleted", err)
	}
	h.sink.SetErr(nil)
	if err := run.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := len(h.sink.completions()); got != 1 {
		t.Errorf("got %d completions, want 1", got)
	}
}

func TestCallbacks(t *testing.T) {
	var got []string
	cfg := tracker.Config{
		OnPause:  func(string) { got = append(got, "pause") },
		OnResume: func(string) { got = append(got, "resume") },
		OnFlush: func(_ string, w tracker.Window) {
			got = append(got, "flush "+w.Active.String()+" "+w.Inactive.String())
		},
	}
	h := newHarness(t, cfg)
	run := h.mustStart()
	h.clock.Advance(5 * time.Second)
	if err := run.Pause(); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(15 * time.Second)
	if err := run.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := run.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"pause", "flush 5s 10s", "resume", "flush 0s 5s"}
	if !slices.Equal(got, want) {
		t.Errorf("callbacks %q, want %q", got, want)
	}
}

func TestCallbackMayCallRun(t *testing.T) {
	var h *harness
	cfg := tracker.Config{OnFlush: func(string, tracker.Window) {
		if h.run.State().Windows == 1 {
			_ = h.run.Pause()
		}
	}}
	h = newHarness(t, cfg)
	h.mustStart()
	h.clock.Advance(30 * time.Second)
	want := []tracker.Window{win(0, 15*time.Second, 15*time.Second), win(15*time.Second, 30*time.Second, 0)}
	if got := h.sink.windows(t); !slices.EqualFunc(got, want, windowEqual) {
		t.Errorf("windows:\n got %s\nwant %s", formatWindows(got), formatWindows(want))
	}
}

func TestResumeWithFileStore(t *testing.T) {
	store := tracker.FileStore{Dir: t.TempDir()}
	h := newHarness(t, tracker.Config{Store: store})
	run := h.mustStart()
	h.clock.Advance(50 * time.Second)
	if err := run.End(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Another process: a new tracker on the same store, a day later.
	h2 := newHarness(t, tracker.Config{Store: store})
	h2.clock.Set(testStart.Add(24 * time.Hour))
	if err := h2.start(run.ID()); err != nil {
		t.Fatalf("Start resuming %s: %v", run.ID(), err)
	}
	if got := h2.run.State().Active; got != 50*time.Second {
		t.Errorf("resumed run has active %v, want 50s", got)
	}
	h2.clock.Advance(10 * time.Second)
	xp := 1.0
	if err := h2.run.Complete(context.Background(), tracker.Metrics{XPEarned: &xp}); err != nil {
		t.Fatalf("Complete with 1 XP after 60 s: %v", err)
	}

	h3 := newHarness(t, tracker.Config{Store: store})
	h3.clock.Set(testStart.Add(48 * time.Hour))
	if err := h3.start(run.ID()); !errors.Is(err, tracker.ErrAlreadyCompleted) {
		t.Errorf("Start of a completed run = %v, want ErrAlreadyCompleted", err)
	}
}

func TestResumeOtherStudent(t *testing.T) {
	h := newHarness(t, tracker.Config{})
	run := h.mustStart()
	h.clock.Advance(time.Minute)
	if err := run.End(context.Background()); err != nil {
		t.Fatal(err)
	}

	other := timeback.User{ID: "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-9",
		Email: "student-9@example.com"}
	_, err := h.tr.Start(context.Background(), tracker.Activity{Actor: other, Object: lesson, RunID: run.ID()})
	if !errors.Is(err, tracker.ErrRunMismatch) || !strings.Contains(err.Error(), "student-9") {
		t.Errorf("Start of another student's run = %v, want ErrRunMismatch naming the student", err)
	}
	otherLesson := lesson
	otherLesson.ID = "https://myapp.example.com/activities/Math/g3/lesson-2"
	_, err = h.tr.Start(context.Background(), tracker.Activity{Actor: student, Object: otherLesson, RunID: run.ID()})
	if !errors.Is(err, tracker.ErrRunMismatch) || !strings.Contains(err.Error(), "lesson-2") {
		t.Errorf("Start of the run for another activity = %v, want ErrRunMismatch naming it", err)
	}
	if err := h.start(run.ID()); err != nil {
		t.Errorf("Start of the run by its own student: %v", err)
	}
}

func TestResumeBeforeLastWindow(t *testing.T) {
	h := newHarness(t, tracker.Config{})
	run := h.mustStart()
	h.clock.Advance(time.Minute)
	if err := run.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(testStart.Add(30 * time.Second))
	if err := h.start(run.ID()); !errors.Is(err, tracker.ErrClockBackwards) {
		t.Errorf("Start before the last window's end = %v, want ErrClockBackwards", err)
	}
}

func TestConcurrentActions(t *testing.T) {
	h := newHarness(t, tracker.Config{HeartbeatInterval: time.Second})
	run := h.mustStart()

	// One goroutine moves the clock, firing heartbeats, while this one acts.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			h.clock.Advance(7 * time.Millisecond)
		}
	}()
	for i := range 500 {
		_ = run.SetVisible(i%2 == 1)
		if i%3 == 0 {
			_ = run.Pause()
		} else {
			_ = run.Resume()
		}
		_ = run.State()
	}
	<-done
	if err := run.End(context.Background()); err != nil {
		t.Fatal(err)
	}

	got := h.sink.windows(t)
	checkWindows(t, got)
	if first, last := got[0].Start, got[len(got)-1].End; last.Sub(first) != 14*time.Second {
		t.Errorf("windows span %v to %v, want 14 s", first, last)
	}
	var total time.Duration
	for _, w := range got {
		total += w.Duration()
	}
	if total != 14*time.Second {
		t.Errorf("windows sum to %v, want 14s", total)
	}
}

// discardSink encodes every event, as a sender does, and keeps none.
type discardSink struct{}

func (discardSink) Send(_ context.Context, events ...timeback.Event) error {
	for _, e := range events {
		if _, err := e.MarshalJSON(); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkHeartbeat measures one heartbeat: cutting the window, building
// and encoding its TimeSpentEvent and saving the run state in memory.
func BenchmarkHeartbeat(b *testing.B) {
	clock := tracker.NewFakeClock(testStart)
	tr, err := tracker.New(tracker.Config{Sink: discardSink{}, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	run, err := tr.Start(context.Background(), tracker.Activity{Actor: student, Object: lesson, CourseID: "MATH-3"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%4 == 0 {
			run.Pause()
		} else if i%4 == 2 {
			run.Resume()
		}
		clock.Advance(tracker.DefaultHeartbeatInterval)
	}
	if got := run.State().Windows; got < b.N {
		b.Fatalf("%d windows after %d heartbeats", got, b.N)
	}
}

func TestHiddenTimeoutStopsTimers(t *testing.T) {
	h := newHarness(t, tracker.Config{})
	run := h.mustStart()
	if err := run.SetVisible(false); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(tracker.DefaultHiddenTimeout)
	if n := h.clock.Pending(); n != 0 {
		t.Errorf("%d timers pending after the hidden timeout, want 0", n)
	}
	sent := len(h.sink.Events())
	h.clock.Advance(time.Hour)
	if got := len(h.sink.Events()); got != sent {
		t.Errorf("sink got %d events while away, want none", got-sent)
	}

	if err := run.SetVisible(true); err != nil {
		t.Fatal(err)
	}
	if n := h.clock.Pending(); n != 1 {
		t.Errorf("%d timers pending after the return, want the heartbeat", n)
	}
	h.clock.Advance(tracker.DefaultHeartbeatInterval)
	got := h.sink.windows(t)
	if last := got[len(got)-1]; !windowEqual(last, win(70*time.Minute, 70*time.Minute+15*time.Second, 15*time.Second)) {
		t.Errorf("window after the return %s, want 15 s active from 70 min", formatWindows([]tracker.Window{last}))
	}
}
