package tracker

import (
	"fmt"
	"time"

	"github.com/timeback/timeback-go"
)

// MaxWindow is the longest window one TimeSpentEvent carries: the 86400 s
// that a time item may hold. Meter.Cut splits longer windows.
const MaxWindow = timeback.MaxItemSeconds * time.Second

// Window is one reported stretch of a run: the time from Start to End, split
// into active time (visible and not paused) and inactive time (paused or
// hidden). Active + Inactive always equals End - Start.
type Window struct {
	Start, End time.Time
	Active     time.Duration
	Inactive   time.Duration
}

// Duration returns End - Start.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// Items returns the window as the active and inactive items of a
// TimeSpentEvent, in seconds with millisecond precision, both dated with the
// window's start and end.
func (w Window) Items() []timeback.TimeItem {
	return []timeback.TimeItem{
		{Type: timeback.TimeActive, Seconds: itemSeconds(w.Active), Start: w.Start, End: w.End},
		{Type: timeback.TimeInactive, Seconds: itemSeconds(w.Inactive), Start: w.Start, End: w.End},
	}
}

// itemSeconds returns d in seconds as the nearest decimal with three places.
func itemSeconds(d time.Duration) float64 {
	return float64(d.Milliseconds()) / 1000
}

// span is a stretch of one state inside the open window of a Meter.
type span struct {
	start, end time.Time
	active     bool
}

// Meter accounts one window at a time: it records when the state switches
// between active and inactive, and Cut closes the open window and starts
// the next one where it ended, so consecutive windows leave no gap and never
// overlap. Times are truncated to milliseconds, the precision of Caliper
// dates. A time before the last one recorded is rejected with
// ErrClockBackwards and changes nothing.
//
// A Meter is not safe for concurrent use.
type Meter struct {
	start  time.Time // start of the open window
	last   time.Time // last state switch, or start
	active bool      // state since last
	spans  []span    // closed spans of the open window
}

// NewMeter returns a Meter whose first window starts at start in the given
// state.
func NewMeter(start time.Time, active bool) *Meter {
	start = truncate(start)
	return &Meter{start: start, last: start, active: active}
}

// Start returns the start of the open window.
func (m *Meter) Start() time.Time { return m.start }

// Last returns the latest time the Meter has recorded.
func (m *Meter) Last() time.Time { return m.last }

// Active reports whether the current state is active.
func (m *Meter) Active() bool { return m.active }

// Set records that the state is active or inactive from at on. Setting the
// state it already has changes nothing.
func (m *Meter) Set(at time.Time, active bool) error {
	at = truncate(at)
	if err := m.check(at); err != nil {
		return err
	}
	if active == m.active {
		return nil
	}
	if at.After(m.last) {
		m.spans = append(m.spans, span{start: m.last, end: at, active: m.active})
	}
	m.last, m.active = at, active
	return nil
}

// Peek returns the open window as if it were cut at at, without cutting it.
// Windows longer than MaxWindow are not split here.
func (m *Meter) Peek(at time.Time) (Window, error) {
	at = truncate(at)
	if err := m.check(at); err != nil {
		return Window{}, err
	}
	w := Window{Start: m.start, End: at}
	for _, s := range m.allSpans(at) {
		w.add(s)
	}
	return w, nil
}

// Cut closes the open window at at and starts the next one there, in the
// same state. It returns the closed window, split into pieces of at most
// MaxWindow, or nothing when the window is empty.
func (m *Meter) Cut(at time.Time) ([]Window, error) {
	at = truncate(at)
	if err := m.check(at); err != nil {
		return nil, err
	}
	if !at.After(m.start) {
		return nil, nil
	}
	windows := split(m.start, at, m.allSpans(at))
	m.start, m.last, m.spans = at, at, m.spans[:0]
	return windows, nil
}

func (m *Meter) check(at time.Time) error {
	if at.Before(m.last) {
		return fmt.Errorf("%w: %s is before %s, the last time recorded",
			ErrClockBackwards, formatTime(at), formatTime(m.last))
	}
	return nil
}

// allSpans returns the closed spans and the current state up to at.
func (m *Meter) allSpans(at time.Time) []span {
	all := append([]span(nil), m.spans...)
	if at.After(m.last) {
		all = append(all, span{start: m.last, end: at, active: m.active})
	}
	return all
}

// split tiles [start, end) with windows of at most MaxWindow and sums the
// spans into each.
func split(start, end time.Time, spans []span) []Window {
	var windows []Window
	for from := start; from.Before(end); {
		to := from.Add(MaxWindow)
		if to.After(end) {
			to = end
		}
		w := Window{Start: from, End: to}
		for _, s := range spans {
			w.add(clip(s, from, to))
		}
		windows = append(windows, w)
		from = to
	}
	return windows
}

func clip(s span, from, to time.Time) span {
	if s.start.Before(from) {
		s.start = from
	}
	if s.end.After(to) {
		s.end = to
	}
	return s
}

func (w *Window) add(s span) {
	d := s.end.Sub(s.start)
	if d <= 0 {
		return
	}
	if s.active {
		w.Active += d
	} else {
		w.Inactive += d
	}
}

func truncate(t time.Time) time.Time {
	return t.Truncate(time.Millisecond)
}

func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
