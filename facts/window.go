package facts

import (
	"slices"
	"time"

	"github.com/timeback/timeback-go"
)

// Window is a counted time window of a run: Seconds of one category, spread
// evenly over [Start, End). Start equals End for a window that has no
// length, whose seconds then belong to that instant.
type Window struct {
	EventSeq  int64 // store order of the event that sent it
	EventID   string
	Sensor    string
	StudentID string
	RunID     string
	Category  timeback.TimeCategory
	SubType   string
	Start     time.Time // UTC
	End       time.Time // UTC
	Seconds   float64
}

// Duration returns the window's length.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// Completion is the completion of a run, from an ActivityCompletedEvent.
type Completion struct {
	EventSeq  int64
	EventID   string
	Sensor    string
	StudentID string
	RunID     string
	Time      time.Time // eventTime, UTC
	XP        float64
	// TotalQuestions and CorrectQuestions are zero when absent.
	TotalQuestions   float64
	CorrectQuestions float64
	MasteredUnits    float64
	// PctComplete is generated.extensions.pctCompleteApp, nil when absent.
	PctComplete *float64
	// Counted is set on the first completion stored for a run. Later
	// completions of the same run, sent under new ids, are kept but not
	// counted, so that XP is never counted twice.
	Counted bool
}

// RunKey names one run of one student. Runs are keyed by student too, since
// run ids come from the sender and only the pair is trusted to be unique.
type RunKey struct {
	StudentID string
	RunID     string
}

// Key returns the run the window belongs to.
func (w Window) Key() RunKey { return RunKey{w.StudentID, w.RunID} }

// Key returns the run the completion belongs to.
func (c Completion) Key() RunKey { return RunKey{c.StudentID, c.RunID} }

// Derived is what one event contributes before overlap with windows counted
// earlier is removed: windows for a TimeSpentEvent, a completion for an
// ActivityCompletedEvent.
type Derived struct {
	Windows    []Window
	Completion *Completion
}

// Derive turns a decoded event into its uncounted facts. An item with both
// dates covers [startDate, endDate). An item with one date covers its
// seconds from or up to that date, and an item with none covers its seconds
// up to eventTime, the moment the heartbeat that sent it was taken. Items of
// zero seconds yield nothing.
func Derive(sensor string, seq int64, e *Event) Derived {
	var d Derived
	if e.Kind == KindCompleted {
		m := e.Metrics
		c := &Completion{
			EventSeq: seq, EventID: e.ID, Sensor: sensor, StudentID: e.StudentID, RunID: e.RunID,
			Time: e.Time, XP: m.XPEarned, PctComplete: m.PctCompleteApp,
		}
		if m.TotalQuestions != nil {
			c.TotalQuestions = *m.TotalQuestions
		}
		if m.CorrectQuestions != nil {
			c.CorrectQuestions = *m.CorrectQuestions
		}
		if m.MasteredUnits != nil {
			c.MasteredUnits = *m.MasteredUnits
		}
		d.Completion = c
		return d
	}
	for _, it := range e.Items {
		if it.Seconds <= 0 {
			continue
		}
		span := time.Duration(it.Seconds * float64(time.Second))
		start, end := it.Start, it.End
		switch {
		case !start.IsZero() && !end.IsZero():
		case !start.IsZero():
			end = start.Add(span)
		case !end.IsZero():
			start = end.Add(-span)
		default:
			end = e.Time
			start = end.Add(-span)
		}
		d.Windows = append(d.Windows, Window{
			EventSeq: seq, EventID: e.ID, Sensor: sensor, StudentID: e.StudentID, RunID: e.RunID,
			Category: it.Type, SubType: it.SubType, Start: start.UTC(), End: end.UTC(), Seconds: it.Seconds,
		})
	}
	return d
}

// sameSeries reports whether two windows count the same time: the same run,
// category and subtype. Windows of different categories or subtypes of one
// heartbeat share their dates on purpose and never cancel each other.
func sameSeries(a, b Window) bool {
	return a.StudentID == b.StudentID && a.RunID == b.RunID &&
		a.Category == b.Category && a.SubType == b.SubType
}

// Uncounted returns the parts of w that no window of counted covers in the
// same run, category and subtype. Each part keeps the share of w's seconds
// that its length is of w's length, so a window sent again under a new id
// yields nothing, and one that half overlaps yields half its seconds.
func Uncounted(counted []Window, w Window) []Window {
	var covers [][2]time.Time
	for _, c := range counted {
		if sameSeries(c, w) {
			covers = append(covers, [2]time.Time{c.Start, c.End})
		}
	}
	if w.Start.Equal(w.End) {
		for _, c := range covers {
			if !w.Start.Before(c[0]) && !w.Start.After(c[1]) {
				return nil
			}
		}
		return []Window{w}
	}
	slices.SortFunc(covers, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })

	var parts []Window
	total := w.Duration()
	cursor := w.Start
	emit := func(from, to time.Time) {
		if !from.Before(to) {
			return
		}
		p := w
		p.Start, p.End = from, to
		if from.Equal(w.Start) && to.Equal(w.End) {
			p.Seconds = w.Seconds
		} else {
			p.Seconds = w.Seconds * float64(to.Sub(from)) / float64(total)
		}
		parts = append(parts, p)
	}
	for _, c := range covers {
		if !c[1].After(cursor) || c[0].Equal(c[1]) {
			continue
		}
		if !c[0].Before(w.End) {
			break
		}
		emit(cursor, minTime(c[0], w.End))
		if c[1].After(cursor) {
			cursor = c[1]
		}
		if !cursor.Before(w.End) {
			return parts
		}
	}
	emit(cursor, w.End)
	return parts
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// union returns the total length covered by at least one window.
func union(ws []Window) time.Duration {
	spans := make([][2]time.Time, 0, len(ws))
	for _, w := range ws {
		spans = append(spans, [2]time.Time{w.Start, w.End})
	}
	slices.SortFunc(spans, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	var total time.Duration
	var cur [2]time.Time
	for i, s := range spans {
		switch {
		case i == 0:
			cur = s
		case s[0].After(cur[1]):
			total += cur[1].Sub(cur[0])
			cur = s
		case s[1].After(cur[1]):
			cur[1] = s[1]
		}
	}
	if len(spans) > 0 {
		total += cur[1].Sub(cur[0])
	}
	return total
}
