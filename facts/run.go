package facts

import (
	"math"
	"slices"
	"time"

	"github.com/timeback/timeback-go"
)

// Flag marks a run whose facts break a rule of the platform.
type Flag string

// The flags of a run.
const (
	// FlagXPAboveFocusedMinutes: the run's XP is above its focused
	// minutes, although 1 XP is worth 1 focused minute. A run whose
	// questions were all answered correctly may earn up to
	// timeback.PerfectAccuracyFactor times its focused minutes, as the XP
	// rule computes, before it is flagged.
	FlagXPAboveFocusedMinutes Flag = "xp_above_focused_minutes"
	// FlagActiveAboveWallTime: the run claims more active seconds than the
	// wall-clock time its windows cover, as an inflated or doubled
	// heartbeat would.
	FlagActiveAboveWallTime Flag = "active_above_wall_time"
	// FlagRepeatedCompletion: the run was completed more than once under
	// different event ids. Only the first completion counts.
	FlagRepeatedCompletion Flag = "repeated_completion"
)

// Run is the facts of one run of one student.
type Run struct {
	RunID     string `json:"runId"`
	StudentID string `json:"studentId"`
	Sensor    string `json:"sensor"`
	// Start and End are the earliest and latest instants of the run's
	// windows and completions.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// WallSeconds is the wall-clock time that at least one of the run's
	// windows covers, whatever its category.
	WallSeconds float64 `json:"wallSeconds"`
	// FocusedMinutes is the run's active time in minutes.
	FocusedMinutes float64 `json:"focusedMinutes"`
	Totals
	// CompletedAt is the eventTime of the counted completion, nil when the
	// run is not completed.
	CompletedAt *time.Time `json:"completedAt"`
	// PctComplete is the counted completion's pctCompleteApp.
	PctComplete *float64 `json:"pctComplete"`
	// RepeatedCompletions counts the completions that were not counted.
	RepeatedCompletions int    `json:"repeatedCompletions"`
	Flags               []Flag `json:"flags"`
}

// Runs returns the facts of each run that the windows and completions
// belong to, ordered by start. The facts given should be all that is stored
// for those runs, since the totals and flags are over whole runs.
func Runs(windows []Window, completions []Completion) []Run {
	byKey := map[RunKey]*Run{}
	runWindows := map[RunKey][]Window{}
	var keys []RunKey
	get := func(k RunKey, sensor string, t time.Time) *Run {
		r := byKey[k]
		if r == nil {
			r = &Run{RunID: k.RunID, StudentID: k.StudentID, Sensor: sensor, Start: t, End: t}
			byKey[k] = r
			keys = append(keys, k)
		}
		return r
	}
	for _, w := range windows {
		r := get(w.Key(), w.Sensor, w.Start)
		r.Start, r.End = minTime(r.Start, w.Start), later(r.End, w.End)
		r.addSeconds(w.Category, w.Seconds)
		runWindows[w.Key()] = append(runWindows[w.Key()], w)
	}
	for _, c := range completions {
		r := get(c.Key(), c.Sensor, c.Time)
		r.Start, r.End = minTime(r.Start, c.Time), later(r.End, c.Time)
		if !c.Counted {
			r.RepeatedCompletions++
			continue
		}
		r.addCompletion(c)
		at := c.Time
		r.CompletedAt, r.PctComplete = &at, c.PctComplete
	}

	runs := make([]Run, 0, len(keys))
	for _, k := range keys {
		r := byKey[k]
		r.WallSeconds = round(union(runWindows[k]).Seconds(), 1e6)
		r.finish()
		r.FocusedMinutes = round(r.ActiveSeconds/60, 1e6)
		r.Flags = flags(r)
		runs = append(runs, *r)
	}
	slices.SortFunc(runs, func(a, b Run) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return compareRunKeys(RunKey{a.StudentID, a.RunID}, RunKey{b.StudentID, b.RunID})
	})
	return runs
}

// flags returns the rules that r breaks. XP is compared with maxXP, and
// seconds with a millisecond of slack for the rounding of dates.
func flags(r *Run) []Flag {
	fs := []Flag{}
	if r.Completions > 0 && r.XP > maxXP(r)+1e-9 {
		fs = append(fs, FlagXPAboveFocusedMinutes)
	}
	if r.ActiveSeconds > r.WallSeconds+0.001 {
		fs = append(fs, FlagActiveAboveWallTime)
	}
	if r.RepeatedCompletions > 0 {
		fs = append(fs, FlagRepeatedCompletion)
	}
	return fs
}

// maxXP returns the most XP the XP rule gives for the run's focused time
// and accuracy on a first attempt, rounded half-up to one decimal as
// computed XP is: the focused minutes, times timeback.PerfectAccuracyFactor
// when every question was answered correctly.
func maxXP(r *Run) float64 {
	minutes := math.Floor(r.FocusedMinutes*10+0.5) / 10
	if r.Questions > 0 && r.CorrectQuestions >= r.Questions {
		return math.Floor(r.FocusedMinutes*timeback.PerfectAccuracyFactor*10+0.5) / 10
	}
	return minutes
}

// HasFlag reports whether the run carries f.
func (r Run) HasFlag(f Flag) bool { return slices.Contains(r.Flags, f) }

// Categories lists the time categories in the order reports show them.
var Categories = []timeback.TimeCategory{
	timeback.TimeActive, timeback.TimeInactive, timeback.TimeWaste,
	timeback.TimeUnknown, timeback.TimeAntiPattern,
}
