package facts

import (
	"fmt"
	"sort"
	"time"

	"github.com/timeback/timeback-go"
)

// Totals are the learning facts of a period or a run.
type Totals struct {
	XP                 float64 `json:"xp"`
	ActiveSeconds      float64 `json:"activeSeconds"`
	InactiveSeconds    float64 `json:"inactiveSeconds"`
	WasteSeconds       float64 `json:"wasteSeconds"`
	UnknownSeconds     float64 `json:"unknownSeconds"`
	AntiPatternSeconds float64 `json:"antiPatternSeconds"`
	Questions          float64 `json:"questions"`
	CorrectQuestions   float64 `json:"correctQuestions"`
	// Accuracy is CorrectQuestions / Questions, nil when no question was
	// reported.
	Accuracy      *float64 `json:"accuracy"`
	MasteredUnits float64  `json:"masteredUnits"`
	// Completions counts the counted completions, at most one per run.
	Completions int `json:"completions"`
}

// Seconds returns the seconds of one category.
func (t *Totals) Seconds(c timeback.TimeCategory) float64 {
	switch c {
	case timeback.TimeActive:
		return t.ActiveSeconds
	case timeback.TimeInactive:
		return t.InactiveSeconds
	case timeback.TimeWaste:
		return t.WasteSeconds
	case timeback.TimeUnknown:
		return t.UnknownSeconds
	case timeback.TimeAntiPattern:
		return t.AntiPatternSeconds
	}
	return 0
}

func (t *Totals) addSeconds(c timeback.TimeCategory, s float64) {
	switch c {
	case timeback.TimeActive:
		t.ActiveSeconds += s
	case timeback.TimeInactive:
		t.InactiveSeconds += s
	case timeback.TimeWaste:
		t.WasteSeconds += s
	case timeback.TimeUnknown:
		t.UnknownSeconds += s
	case timeback.TimeAntiPattern:
		t.AntiPatternSeconds += s
	}
}

func (t *Totals) addCompletion(c Completion) {
	if !c.Counted {
		return
	}
	t.XP += c.XP
	t.Questions += c.TotalQuestions
	t.CorrectQuestions += c.CorrectQuestions
	t.MasteredUnits += c.MasteredUnits
	t.Completions++
}

func (t *Totals) add(o Totals) {
	t.XP += o.XP
	t.ActiveSeconds += o.ActiveSeconds
	t.InactiveSeconds += o.InactiveSeconds
	t.WasteSeconds += o.WasteSeconds
	t.UnknownSeconds += o.UnknownSeconds
	t.AntiPatternSeconds += o.AntiPatternSeconds
	t.Questions += o.Questions
	t.CorrectQuestions += o.CorrectQuestions
	t.MasteredUnits += o.MasteredUnits
	t.Completions += o.Completions
}

func (t *Totals) finish() {
	t.XP = round(t.XP, 1e6)
	for _, s := range []*float64{&t.ActiveSeconds, &t.InactiveSeconds, &t.WasteSeconds,
		&t.UnknownSeconds, &t.AntiPatternSeconds} {
		*s = round(*s, 1e6)
	}
	t.Accuracy = nil
	if t.Questions > 0 {
		a := t.CorrectQuestions / t.Questions
		t.Accuracy = &a
	}
}

// round removes the float noise that proportional splits leave, at a
// resolution of 1/scale.
func round(v, scale float64) float64 {
	if v < 0 {
		return -round(-v, scale)
	}
	return float64(int64(v*scale+0.5)) / scale
}

// Day is the facts of one calendar day in the query's time zone.
type Day struct {
	Date  Date      `json:"date"`
	Start time.Time `json:"start"` // first instant of the day
	End   time.Time `json:"end"`   // first instant of the next day
	Totals
}

// Daily sums windows and completions into the days of r. A window that
// spans several days is split between them in proportion to the part of it
// that falls on each; a completion counts on the day of its eventTime.
// Facts outside r are ignored.
func Daily(r Range, windows []Window, completions []Completion) []Day {
	n := r.Days()
	if n <= 0 {
		return nil
	}
	bounds := make([]time.Time, n+1)
	for i := range bounds {
		bounds[i] = r.From.AddDays(i).Start(r.Loc)
	}
	days := make([]Day, n)
	for i := range days {
		days[i] = Day{Date: r.From.AddDays(i), Start: bounds[i], End: bounds[i+1]}
	}
	dayOf := func(t time.Time) int {
		return sort.Search(len(bounds), func(i int) bool { return bounds[i].After(t) }) - 1
	}

	for _, w := range windows {
		if w.Start.Equal(w.End) {
			if i := dayOf(w.Start); i >= 0 && i < n {
				days[i].addSeconds(w.Category, w.Seconds)
			}
			continue
		}
		total := float64(w.Duration())
		for i := max(dayOf(w.Start), 0); i < n && bounds[i].Before(w.End); i++ {
			from, to := later(w.Start, bounds[i]), minTime(w.End, bounds[i+1])
			if to.After(from) {
				days[i].addSeconds(w.Category, w.Seconds*float64(to.Sub(from))/total)
			}
		}
	}
	for _, c := range completions {
		if i := dayOf(c.Time); i >= 0 && i < n {
			days[i].addCompletion(c)
		}
	}
	for i := range days {
		days[i].finish()
	}
	return days
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Week is the facts of one ISO week, Monday to Sunday, in the query's time
// zone.
type Week struct {
	Week  string    `json:"week"` // ISO 8601 week, such as 2026-W05
	From  Date      `json:"from"` // Monday
	To    Date      `json:"to"`   // Sunday
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Totals
}

// Weekly sums the facts into the ISO weeks that r touches. The first and
// last week are whole weeks even where r starts or ends inside them.
func Weekly(r Range, windows []Window, completions []Completion) []Week {
	wr := r.Weeks()
	days := Daily(wr, windows, completions)
	var weeks []Week
	for i := 0; i+7 <= len(days); i += 7 {
		y, n := days[i].Date.ISOWeek()
		w := Week{
			Week: fmt.Sprintf("%04d-W%02d", y, n), From: days[i].Date, To: days[i+6].Date,
			Start: days[i].Start, End: days[i+6].End,
		}
		for _, d := range days[i : i+7] {
			w.add(d.Totals)
		}
		w.finish()
		weeks = append(weeks, w)
	}
	return weeks
}
