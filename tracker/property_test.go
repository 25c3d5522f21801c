package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/timeback/timeback-go/tracker"
)

// model is a reference for the totals a run must report. It integrates the
// state over clock time lazily, at each action, without heartbeats or
// windows.
type model struct {
	timeout time.Duration

	clock    time.Time
	maxClock time.Time

	paused, hidden, suspended bool
	hiddenDue                 time.Time

	mark             time.Time // the state is counted from here on
	active, inactive time.Duration
	spans            []interval // tracked time
}

type interval struct{ start, end time.Time }

func (m *model) count(to time.Time) {
	if m.suspended {
		return
	}
	if d := to.Sub(m.mark); d > 0 {
		if !m.paused && !m.hidden {
			m.active += d
		} else {
			m.inactive += d
		}
	}
	m.mark = to
}

// moved applies a clock move: past the hidden timeout, tracking stops at
// the timeout.
func (m *model) moved(to time.Time) {
	m.clock = to
	if to.After(m.maxClock) {
		m.maxClock = to
	}
	if !m.suspended && m.hidden && !to.Before(m.hiddenDue) {
		m.count(m.hiddenDue)
		m.closeSpan(m.hiddenDue)
		m.suspended = true
	}
}

func (m *model) closeSpan(at time.Time) {
	m.spans[len(m.spans)-1].end = at
}

// act applies a state change at the clock's time.
func (m *model) act(paused, hidden bool) {
	at := m.clock
	if m.suspended && !hidden {
		m.suspended = false
		m.mark = at
		m.spans = append(m.spans, interval{start: at})
	}
	m.count(at)
	if hidden && !m.hidden {
		m.hiddenDue = at.Add(m.timeout)
	}
	m.paused, m.hidden = paused, hidden
}

func TestWindowsTileRun(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		heartbeat := rapid.SampledFrom([]time.Duration{5 * time.Second, 15 * time.Second, time.Minute}).
			Draw(rt, "heartbeat")
		timeout := rapid.SampledFrom([]time.Duration{30 * time.Second, 10 * time.Minute}).Draw(rt, "timeout")
		h := newHarness(t, tracker.Config{HeartbeatInterval: heartbeat, HiddenTimeout: timeout})
		run := h.mustStart()
		m := &model{timeout: timeout, clock: testStart, maxClock: testStart, mark: testStart,
			spans: []interval{{start: testStart}}}

		steps := rapid.IntRange(1, 30).Draw(rt, "steps")
		for i := range steps {
			label := fmt.Sprint("step ", i)
			switch op := rapid.IntRange(0, 8).Draw(rt, label); op {
			case 0, 1: // advance, stepping through the timers
				ms := rapid.Int64Range(0, 5*60*1000).Draw(rt, label+" ms")
				h.clock.Advance(time.Duration(ms) * time.Millisecond)
				m.moved(h.clock.Now())
			case 2: // jump forward, as a suspended machine
				ms := rapid.Int64Range(0, 40*3600*1000).Draw(rt, label+" ms")
				h.clock.Set(h.clock.Now().Add(time.Duration(ms) * time.Millisecond))
				m.moved(h.clock.Now())
			case 3: // jump back
				ms := rapid.Int64Range(1, 2*60*1000).Draw(rt, label+" ms")
				h.clock.Set(h.clock.Now().Add(-time.Duration(ms) * time.Millisecond))
				m.moved(h.clock.Now())
			case 4:
				err := run.Pause()
				checkAction(rt, m, "pause", err, m.paused, tracker.ErrAlreadyPaused)
				if err == nil {
					m.act(true, m.hidden)
				}
			case 5:
				err := run.Resume()
				checkAction(rt, m, "resume", err, !m.paused, tracker.ErrNotPaused)
				if err == nil {
					m.act(false, m.hidden)
				}
			case 6, 7:
				visible := op == 6
				err := run.SetVisible(visible)
				if visible != m.hidden {
					// The visibility it already has: nothing to record.
					if err != nil {
						rt.Fatalf("set visible %v again: %v", visible, err)
					}
					continue
				}
				checkAction(rt, m, "set visible", err, false, nil)
				if err == nil {
					m.act(m.paused, !visible)
				}
			case 8:
				err := run.Flush(context.Background())
				if m.suspended {
					// Nothing to cut, so the clock is not read.
					if err != nil {
						rt.Fatalf("flush while away: %v", err)
					}
					continue
				}
				checkAction(rt, m, "flush", err, false, nil)
			}
		}

		// End after the latest time the clock has read.
		h.clock.Set(m.maxClock.Add(time.Second))
		m.moved(h.clock.Now())
		if err := run.End(context.Background()); err != nil {
			rt.Fatalf("End: %v", err)
		}
		m.count(m.clock)
		if !m.suspended {
			m.closeSpan(m.clock)
		}
		if len(h.errs) > 0 {
			rt.Fatalf("OnError got %v", h.errs)
		}

		got := h.sink.windows(rt)
		checkWindows(rt, got)
		active, inactive := sumWindows(got)
		if active != m.active || inactive != m.inactive {
			rt.Fatalf("windows have active %v inactive %v, want %v and %v", active, inactive,
				m.active, m.inactive)
		}
		gotSpans, wantSpans := mergeWindows(got), mergeSpans(m.spans)
		if fmt.Sprint(gotSpans) != fmt.Sprint(wantSpans) {
			rt.Fatalf("windows cover %v, want %v", gotSpans, wantSpans)
		}
		if state := run.State(); state.Active != m.active || state.Windows != len(got) {
			rt.Fatalf("run state %+v, want active %v in %d windows", state, m.active, len(got))
		}
	})
}

// checkAction fails unless err is errWhen where the model expects it, and
// otherwise nil, or ErrClockBackwards for a clock behind a time already read.
func checkAction(rt *rapid.T, m *model, action string, err error, when bool, errWhen error) {
	if when {
		if !errors.Is(err, errWhen) {
			rt.Fatalf("%s: error %v, want %v", action, err, errWhen)
		}
		return
	}
	if errors.Is(err, tracker.ErrClockBackwards) {
		if !m.clock.Before(m.maxClock) {
			rt.Fatalf("%s: ErrClockBackwards at %v, the latest time the clock read", action, m.clock)
		}
		return
	}
	if err != nil {
		rt.Fatalf("%s: %v", action, err)
	}
	if m.clock.Before(m.mark) {
		rt.Fatalf("%s at %v succeeded, before the state change at %v", action, m.clock, m.mark)
	}
}

// mergeWindows joins windows that touch into the intervals they cover.
func mergeWindows(ws []tracker.Window) []interval {
	var spans []interval
	for _, w := range ws {
		spans = append(spans, interval{w.Start, w.End})
	}
	return mergeSpans(spans)
}

func mergeSpans(spans []interval) []interval {
	var out []interval
	for _, s := range spans {
		if !s.end.After(s.start) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].end.Equal(s.start) {
			out[n-1].end = s.end
			continue
		}
		out = append(out, s)
	}
	return out
}

func (i interval) String() string {
	return fmt.Sprintf("[%v %v]", i.start.Sub(testStart), i.end.Sub(testStart))
}
