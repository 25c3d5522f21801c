package facts_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/internal/testkit"
)

const student = "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123"

// completedJSON and timeSpentJSON are the two events of the Timeback
// product page.
var (
	completedJSON = testkit.ActivityCompleted(testkit.CompletedID)
	timeSpentJSON = testkit.TimeSpent(testkit.TimeSpentID)
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := facts.LoadZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func date(t *testing.T, s string) facts.Date {
	t.Helper()
	d, err := facts.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func active(run string, start, end string, seconds float64) facts.Window {
	return facts.Window{StudentID: student, RunID: run, Category: timeback.TimeActive,
		Start: utc(start), End: utc(end), Seconds: seconds}
}

func near(got, want float64) bool { return math.Abs(got-want) < 1e-6 }

func TestDecodeCompleted(t *testing.T) {
	e, err := facts.Decode([]byte(completedJSON))
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != facts.KindCompleted {
		t.Errorf("Kind = %v, want KindCompleted", e.Kind)
	}
	if e.StudentID != student {
		t.Errorf("StudentID = %q, want %q", e.StudentID, student)
	}
	if e.RunID != "f47ac10b-58cc-4372-a567-0e02b2c3d479" {
		t.Errorf("RunID = %q", e.RunID)
	}
	if want := utc("2026-01-27T10:03:00Z"); !e.Time.Equal(want) {
		t.Errorf("Time = %v, want %v", e.Time, want)
	}
	m := e.Metrics
	if m.XPEarned != 80 {
		t.Errorf("XPEarned = %v, want 80", m.XPEarned)
	}
	if m.TotalQuestions == nil || *m.TotalQuestions != 10 {
		t.Errorf("TotalQuestions = %v, want 10", m.TotalQuestions)
	}
	if m.CorrectQuestions == nil || *m.CorrectQuestions != 8 {
		t.Errorf("CorrectQuestions = %v, want 8", m.CorrectQuestions)
	}
	if m.PctCompleteApp == nil || *m.PctCompleteApp != 67 {
		t.Errorf("PctCompleteApp = %v, want 67", m.PctCompleteApp)
	}
}

func TestDecodeTimeSpent(t *testing.T) {
	e, err := facts.Decode([]byte(timeSpentJSON))
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != facts.KindTimeSpent {
		t.Errorf("Kind = %v, want KindTimeSpent", e.Kind)
	}
	if len(e.Items) != 2 {
		t.Fatalf("got %d items, want 2", len(e.Items))
	}
	if got := e.Items[0]; got.Type != timeback.TimeActive || got.Seconds != 15 ||
		!got.Start.Equal(utc("2026-01-27T10:00:00Z")) || !got.End.Equal(utc("2026-01-27T10:00:15Z")) {
		t.Errorf("item 0 = %+v", got)
	}
	if got := e.Items[1]; got.Type != timeback.TimeInactive || !got.Start.IsZero() {
		t.Errorf("item 1 = %+v", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name, from, to, wantErr string
	}{
		{"other profile", `"profile": "TimebackProfile"`, `"profile": "GradingProfile"`, "not a TimebackProfile"},
		{"other action", `"action": "SpentTime"`, `"action": "Paused"`, "not a TimebackProfile"},
		{"bad eventTime", `"2026-01-27T10:00:15.000Z"`, `"2026-01-27 10:00:15"`, `eventTime "2026-01-27 10:00:15"`},
		{"bad category", `"type": "inactive"`, `"type": "idle"`, `generated.items[1].type "idle"`},
		{"bad startDate", `"startDate": "2026-01-27T10:00:00.000Z"`, `"startDate": "yesterday"`,
			`generated.items[0].startDate "yesterday"`},
		{"missing value", `"value": 0`, `"v": 0`, "generated.items[1].value is missing"},
		{"missing actor", `"id": "` + student + `"`, `"id": ""`, "actor.id is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := strings.Replace(timeSpentJSON, tt.from, tt.to, 1)
			if raw == timeSpentJSON {
				t.Fatalf("replacement %q not found", tt.from)
			}
			_, err := facts.Decode([]byte(raw))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Decode error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	_, err := facts.Decode([]byte(strings.Replace(completedJSON, "TimebackProfile", "Other", 1)))
	if !errors.Is(err, facts.ErrNotTimeback) {
		t.Errorf("Decode of another profile: error %v does not wrap ErrNotTimeback", err)
	}
	// Other profiles may give the actor as an IRI.
	iri := `{"id": "urn:uuid:1", "type": "NavigationEvent", "action": "NavigatedTo",
		"actor": "https://example.edu/users/554433", "object": "https://example.edu/page/1",
		"eventTime": "2026-01-27T10:00:00.000Z"}`
	if _, err := facts.Decode([]byte(iri)); !errors.Is(err, facts.ErrNotTimeback) {
		t.Errorf("Decode of an event with an IRI actor: error %v does not wrap ErrNotTimeback", err)
	}
	if _, err := facts.Decode([]byte(`[1, 2]`)); !errors.Is(err, facts.ErrInvalidEvent) {
		t.Errorf("Decode of an array: error %v does not wrap ErrInvalidEvent", err)
	}
}

func TestDeriveWindowPlacement(t *testing.T) {
	at := utc("2026-01-27T10:00:15Z")
	e := &facts.Event{Kind: facts.KindTimeSpent, ID: "urn:uuid:x", Time: at, StudentID: student, RunID: "r",
		Items: []timeback.TimeItem{
			{Type: timeback.TimeActive, Seconds: 10, Start: utc("2026-01-27T10:00:00Z"), End: utc("2026-01-27T10:00:15Z")},
			{Type: timeback.TimeInactive, Seconds: 5},
			{Type: timeback.TimeWaste, Seconds: 4, Start: utc("2026-01-27T09:00:00Z")},
			{Type: timeback.TimeUnknown, Seconds: 3, End: utc("2026-01-27T09:30:00Z")},
			{Type: timeback.TimeAntiPattern, Seconds: 0},
		}}
	d := facts.Derive("https://sensor.example.com", 7, e)
	want := []struct {
		cat        timeback.TimeCategory
		start, end string
		seconds    float64
	}{
		{timeback.TimeActive, "2026-01-27T10:00:00Z", "2026-01-27T10:00:15Z", 10},
		{timeback.TimeInactive, "2026-01-27T10:00:10Z", "2026-01-27T10:00:15Z", 5},
		{timeback.TimeWaste, "2026-01-27T09:00:00Z", "2026-01-27T09:00:04Z", 4},
		{timeback.TimeUnknown, "2026-01-27T09:29:57Z", "2026-01-27T09:30:00Z", 3},
	}
	if len(d.Windows) != len(want) {
		t.Fatalf("got %d windows, want %d: %+v", len(d.Windows), len(want), d.Windows)
	}
	for i, w := range want {
		got := d.Windows[i]
		if got.Category != w.cat || !got.Start.Equal(utc(w.start)) || !got.End.Equal(utc(w.end)) ||
			got.Seconds != w.seconds {
			t.Errorf("window %d = %s %v..%v %v, want %s %s..%s %v", i, got.Category, got.Start, got.End,
				got.Seconds, w.cat, w.start, w.end, w.seconds)
		}
		if got.EventSeq != 7 || got.Sensor != "https://sensor.example.com" || got.RunID != "r" {
			t.Errorf("window %d lost its origin: %+v", i, got)
		}
	}
	if d.Completion != nil {
		t.Errorf("a TimeSpentEvent derived a completion")
	}
}

func TestUncounted(t *testing.T) {
	counted := []facts.Window{
		active("r", "2026-01-27T10:00:00Z", "2026-01-27T10:00:15Z", 15),
		active("r", "2026-01-27T10:00:30Z", "2026-01-27T10:00:45Z", 15),
	}
	tests := []struct {
		name      string
		w         facts.Window
		wantSpans [][2]string
		wantSecs  float64
	}{
		{"same window again", active("r", "2026-01-27T10:00:00Z", "2026-01-27T10:00:15Z", 15), nil, 0},
		{"inside a counted one", active("r", "2026-01-27T10:00:05Z", "2026-01-27T10:00:10Z", 5), nil, 0},
		{"half overlap", active("r", "2026-01-27T10:00:10Z", "2026-01-27T10:00:20Z", 10),
			[][2]string{{"2026-01-27T10:00:15Z", "2026-01-27T10:00:20Z"}}, 5},
		{"spans the gap", active("r", "2026-01-27T10:00:00Z", "2026-01-27T10:01:00Z", 30),
			[][2]string{{"2026-01-27T10:00:15Z", "2026-01-27T10:00:30Z"}, {"2026-01-27T10:00:45Z", "2026-01-27T10:01:00Z"}}, 15},
		{"disjoint", active("r", "2026-01-27T11:00:00Z", "2026-01-27T11:00:15Z", 12),
			[][2]string{{"2026-01-27T11:00:00Z", "2026-01-27T11:00:15Z"}}, 12},
		{"other run", active("r2", "2026-01-27T10:00:00Z", "2026-01-27T10:00:15Z", 15),
			[][2]string{{"2026-01-27T10:00:00Z", "2026-01-27T10:00:15Z"}}, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := facts.Uncounted(counted, tt.w)
			if len(parts) != len(tt.wantSpans) {
				t.Fatalf("got %d parts, want %d: %+v", len(parts), len(tt.wantSpans), parts)
			}
			var secs float64
			for i, p := range parts {
				if !p.Start.Equal(utc(tt.wantSpans[i][0])) || !p.End.Equal(utc(tt.wantSpans[i][1])) {
					t.Errorf("part %d = %v..%v, want %s..%s", i, p.Start, p.End, tt.wantSpans[i][0], tt.wantSpans[i][1])
				}
				secs += p.Seconds
			}
			if !near(secs, tt.wantSecs) {
				t.Errorf("counted seconds = %v, want %v", secs, tt.wantSecs)
			}
		})
	}
}

func TestUncountedKeepsCategoriesApart(t *testing.T) {
	counted := []facts.Window{active("r", "2026-01-27T10:00:00Z", "2026-01-27T10:00:15Z", 10)}
	inactive := counted[0]
	inactive.Category, inactive.Seconds = timeback.TimeInactive, 5
	if got := facts.Uncounted(counted, inactive); len(got) != 1 || got[0].Seconds != 5 {
		t.Errorf("inactive window of the same heartbeat: got %+v, want it counted whole", got)
	}
	sub := counted[0]
	sub.SubType = "quiz"
	if got := facts.Uncounted(counted, sub); len(got) != 1 {
		t.Errorf("active window of another subType: got %+v, want it counted whole", got)
	}
}

func TestCountRepeatWithinBatch(t *testing.T) {
	w := active("r", "2026-01-27T10:00:00Z", "2026-01-27T10:00:15Z", 15)
	again := w
	again.EventID = "urn:uuid:resent"
	c := facts.Completion{StudentID: student, RunID: "r", XP: 1, Time: utc("2026-01-27T10:01:00Z")}
	derived := []facts.Derived{{Windows: []facts.Window{w}}, {Windows: []facts.Window{again}},
		{Completion: &c}, {Completion: &c}}
	windows, completions := facts.Count(nil, derived)
	if len(windows) != 1 {
		t.Errorf("got %d windows, want 1: %+v", len(windows), windows)
	}
	if len(completions) != 2 || !completions[0].Counted || completions[1].Counted {
		t.Errorf("completions = %+v, want the first counted and the second not", completions)
	}

	states := map[facts.RunKey]*facts.RunState{{StudentID: student, RunID: "r"}: {Completed: true}}
	_, completions = facts.Count(states, []facts.Derived{{Completion: &c}})
	if completions[0].Counted {
		t.Errorf("completion of a run completed earlier was counted")
	}
}

func TestDailyChicagoMidnight(t *testing.T) {
	r := facts.Range{From: date(t, "2026-01-27"), To: date(t, "2026-01-28"), Loc: zone(t, "America/Chicago")}
	// 23:59:50 to 00:00:10 Chicago time (UTC-6).
	w := active("r", "2026-01-28T05:59:50Z", "2026-01-28T06:00:10Z", 20)
	days := facts.Daily(r, []facts.Window{w}, nil)
	if len(days) != 2 {
		t.Fatalf("got %d days, want 2", len(days))
	}
	for i, want := range []float64{10, 10} {
		if !near(days[i].ActiveSeconds, want) {
			t.Errorf("%s active = %v, want %v", days[i].Date, days[i].ActiveSeconds, want)
		}
	}
	if want := utc("2026-01-28T06:00:00Z"); !days[1].Start.Equal(want) {
		t.Errorf("day 2 starts %v, want %v", days[1].Start, want)
	}

	utcDays := facts.Daily(facts.Range{From: r.From, To: r.To, Loc: time.UTC}, []facts.Window{w}, nil)
	if !near(utcDays[0].ActiveSeconds, 0) || !near(utcDays[1].ActiveSeconds, 20) {
		t.Errorf("in UTC: active = %v, %v; want 0, 20", utcDays[0].ActiveSeconds, utcDays[1].ActiveSeconds)
	}
}

func TestDailyKolkataMidnight(t *testing.T) {
	r := facts.Range{From: date(t, "2026-01-27"), To: date(t, "2026-01-28"), Loc: zone(t, "Asia/Kolkata")}
	// Kolkata is UTC+5:30, so its midnight is 18:30 UTC.
	w := active("r", "2026-01-27T18:29:45Z", "2026-01-27T18:30:15Z", 24)
	in := w
	in.Category, in.Seconds = timeback.TimeInactive, 6
	c := facts.Completion{StudentID: student, RunID: "r", XP: 3, TotalQuestions: 4, CorrectQuestions: 3,
		Time: utc("2026-01-27T18:31:00Z"), Counted: true}
	days := facts.Daily(r, []facts.Window{w, in}, []facts.Completion{c})
	if !near(days[0].ActiveSeconds, 12) || !near(days[1].ActiveSeconds, 12) {
		t.Errorf("active = %v, %v; want 12, 12", days[0].ActiveSeconds, days[1].ActiveSeconds)
	}
	if !near(days[0].InactiveSeconds, 3) || !near(days[1].InactiveSeconds, 3) {
		t.Errorf("inactive = %v, %v; want 3, 3", days[0].InactiveSeconds, days[1].InactiveSeconds)
	}
	if days[0].XP != 0 || days[1].XP != 3 {
		t.Errorf("XP = %v, %v; want 0, 3 (completion after Kolkata midnight)", days[0].XP, days[1].XP)
	}
	if days[1].Accuracy == nil || !near(*days[1].Accuracy, 0.75) {
		t.Errorf("accuracy = %v, want 0.75", days[1].Accuracy)
	}
	if days[0].Accuracy != nil {
		t.Errorf("accuracy of a day without questions = %v, want nil", *days[0].Accuracy)
	}
}

func TestDailyDaylightSavingChange(t *testing.T) {
	chicago := zone(t, "America/Chicago")
	r := facts.Range{From: date(t, "2026-03-07"), To: date(t, "2026-03-08"), Loc: chicago}
	// 23:30 CST on March 7 to 03:30 CDT on March 8: three hours, of which
	// 30 minutes fall on March 7; clocks skip 02:00 to 03:00.
	w := active("r", "2026-03-08T05:30:00Z", "2026-03-08T08:30:00Z", 10800)
	days := facts.Daily(r, []facts.Window{w}, nil)
	if !near(days[0].ActiveSeconds, 1800) || !near(days[1].ActiveSeconds, 9000) {
		t.Errorf("active = %v, %v; want 1800, 9000", days[0].ActiveSeconds, days[1].ActiveSeconds)
	}
	if got := days[1].End.Sub(days[1].Start); got != 23*time.Hour {
		t.Errorf("March 8 lasts %v, want 23h", got)
	}

	fall := facts.Range{From: date(t, "2026-11-01"), To: date(t, "2026-11-01"), Loc: chicago}
	d := facts.Daily(fall, nil, nil)
	if got := d[0].End.Sub(d[0].Start); got != 25*time.Hour {
		t.Errorf("November 1 lasts %v, want 25h", got)
	}
	// A whole-day window at the fall change stays within its 25 hours.
	full := active("r", "2026-11-01T05:00:00Z", "2026-11-02T06:00:00Z", 9000)
	d = facts.Daily(facts.Range{From: date(t, "2026-10-31"), To: date(t, "2026-11-02"), Loc: chicago},
		[]facts.Window{full}, nil)
	if !near(d[0].ActiveSeconds, 0) || !near(d[1].ActiveSeconds, 9000) || !near(d[2].ActiveSeconds, 0) {
		t.Errorf("active = %v, %v, %v; want 0, 9000, 0", d[0].ActiveSeconds, d[1].ActiveSeconds, d[2].ActiveSeconds)
	}
}

func TestDayStartSkippedMidnight(t *testing.T) {
	// Havana moves its clocks from 00:00 to 01:00 on 2026-03-08, so that
	// day begins at 01:00 local time, 05:00 UTC.
	havana := zone(t, "America/Havana")
	got := date(t, "2026-03-08").Start(havana)
	if want := utc("2026-03-08T05:00:00Z"); !got.Equal(want) {
		t.Errorf("start of 2026-03-08 in Havana = %v, want %v", got.UTC(), want)
	}
	prev := date(t, "2026-03-07").Start(havana)
	if want := utc("2026-03-07T05:00:00Z"); !prev.Equal(want) {
		t.Errorf("start of 2026-03-07 in Havana = %v, want %v", prev.UTC(), want)
	}
}

func TestDailyIgnoresOutside(t *testing.T) {
	r := facts.Range{From: date(t, "2026-01-27"), To: date(t, "2026-01-27"), Loc: time.UTC}
	ws := []facts.Window{
		active("r", "2026-01-26T23:59:00Z", "2026-01-27T00:01:00Z", 120),
		active("r", "2026-01-28T00:00:00Z", "2026-01-28T00:01:00Z", 60),
		{StudentID: student, RunID: "r", Category: timeback.TimeWaste,
			Start: utc("2026-01-27T12:00:00Z"), End: utc("2026-01-27T12:00:00Z"), Seconds: 2},
	}
	days := facts.Daily(r, ws, nil)
	if !near(days[0].ActiveSeconds, 60) {
		t.Errorf("active = %v, want 60", days[0].ActiveSeconds)
	}
	if !near(days[0].WasteSeconds, 2) {
		t.Errorf("waste of a zero-length window = %v, want 2", days[0].WasteSeconds)
	}
}

func TestWeekly(t *testing.T) {
	r := facts.Range{From: date(t, "2026-01-28"), To: date(t, "2026-02-03"), Loc: zone(t, "Asia/Kolkata")}
	// Sunday 2026-02-01 23:59:30 to Monday 00:00:30 in Kolkata.
	w := active("r", "2026-02-01T18:29:30Z", "2026-02-01T18:30:30Z", 60)
	c := facts.Completion{StudentID: student, RunID: "r", XP: 2, Time: utc("2026-01-26T00:00:00Z"), Counted: true}
	weeks := facts.Weekly(r, []facts.Window{w}, []facts.Completion{c})
	if len(weeks) != 2 {
		t.Fatalf("got %d weeks, want 2", len(weeks))
	}
	if weeks[0].Week != "2026-W05" || weeks[0].From.String() != "2026-01-26" || weeks[0].To.String() != "2026-02-01" {
		t.Errorf("week 0 = %s %s..%s, want 2026-W05 2026-01-26..2026-02-01", weeks[0].Week, weeks[0].From, weeks[0].To)
	}
	if weeks[1].Week != "2026-W06" {
		t.Errorf("week 1 = %s, want 2026-W06", weeks[1].Week)
	}
	if !near(weeks[0].ActiveSeconds, 30) || !near(weeks[1].ActiveSeconds, 30) {
		t.Errorf("active = %v, %v; want 30, 30", weeks[0].ActiveSeconds, weeks[1].ActiveSeconds)
	}
	if weeks[0].XP != 2 || weeks[0].Completions != 1 {
		t.Errorf("week 0 XP = %v, completions = %d; want 2, 1", weeks[0].XP, weeks[0].Completions)
	}
}

func TestParseRangeErrors(t *testing.T) {
	tests := []struct {
		from, to, tz, wantPath, wantMsg string
	}{
		{"2026-01-27", "2026-01-28", "Mars/Olympus", "tz", `unknown time zone "Mars/Olympus"`},
		{"2026-01-27", "2026-01-28", "Local", "tz", `"Local" is not an IANA zone`},
		{"2026-02-01", "2026-01-28", "UTC", "from", "from 2026-02-01 is after to 2026-01-28"},
		{"2016-01-01", "2025-12-31", "UTC", "to", "spans 3653 days, more than the maximum of 371"},
		{"27/01/2026", "2026-01-28", "UTC", "from", `"27/01/2026" is not a date`},
		{"2026-01-27", "", "UTC", "to", `"" is not a date`},
	}
	for _, tt := range tests {
		_, err := facts.ParseRange(tt.from, tt.to, tt.tz)
		var te *timeback.Error
		if !errors.As(err, &te) {
			t.Errorf("ParseRange(%q, %q, %q) error = %v, want a *timeback.Error", tt.from, tt.to, tt.tz, err)
			continue
		}
		if te.Code != timeback.CodeInvalid {
			t.Errorf("ParseRange(%q, %q, %q) code = %s, want invalid", tt.from, tt.to, tt.tz, te.Code)
		}
		if len(te.Fields) == 0 || te.Fields[0].Path != tt.wantPath || !strings.Contains(te.Fields[0].Message, tt.wantMsg) {
			t.Errorf("ParseRange(%q, %q, %q) fields = %+v, want %s: %q", tt.from, tt.to, tt.tz, te.Fields,
				tt.wantPath, tt.wantMsg)
		}
	}
	r, err := facts.ParseRange("2026-01-01", "2026-01-07", "")
	if err != nil || r.Loc != time.UTC || r.Days() != 7 {
		t.Errorf("ParseRange with empty tz = %+v, %v; want 7 days in UTC", r, err)
	}
}

func TestRunsFlags(t *testing.T) {
	var ws []facts.Window
	for i := range 4 { // four heartbeats of 15 s: one active minute
		start := utc("2026-01-27T10:00:00Z").Add(time.Duration(i) * 15 * time.Second)
		ws = append(ws, facts.Window{StudentID: student, RunID: "honest", Category: timeback.TimeActive,
			Start: start, End: start.Add(15 * time.Second), Seconds: 15})
	}
	honest := facts.Completion{StudentID: student, RunID: "honest", XP: 1, Time: utc("2026-01-27T10:01:00Z"),
		TotalQuestions: 5, CorrectQuestions: 5, Counted: true}
	again := honest
	again.EventID, again.Counted = "urn:uuid:again", false

	// Two subtypes of active time, each 15 s, in one 15 s window; and 5 XP.
	inflated := []facts.Window{
		{StudentID: student, RunID: "inflated", Category: timeback.TimeActive, SubType: "reading",
			Start: utc("2026-01-27T11:00:00Z"), End: utc("2026-01-27T11:00:15Z"), Seconds: 15},
		{StudentID: student, RunID: "inflated", Category: timeback.TimeActive, SubType: "quiz",
			Start: utc("2026-01-27T11:00:00Z"), End: utc("2026-01-27T11:00:15Z"), Seconds: 15},
	}
	greedy := facts.Completion{StudentID: student, RunID: "inflated", XP: 5, Time: utc("2026-01-27T11:00:20Z"),
		Counted: true}

	runs := facts.Runs(append(ws, inflated...), []facts.Completion{honest, again, greedy})
	if len(runs) != 2 {
		t.Fatalf("got %d runs, want 2", len(runs))
	}
	h, g := runs[0], runs[1]
	if h.RunID != "honest" || g.RunID != "inflated" {
		t.Fatalf("runs = %s, %s; want honest, inflated", h.RunID, g.RunID)
	}
	if h.WallSeconds != 60 || h.FocusedMinutes != 1 || h.XP != 1 || h.Completions != 1 {
		t.Errorf("honest run = wall %v, focused %v, XP %v, completions %d; want 60, 1, 1, 1",
			h.WallSeconds, h.FocusedMinutes, h.XP, h.Completions)
	}
	if !slices.Equal(h.Flags, []facts.Flag{facts.FlagRepeatedCompletion}) {
		t.Errorf("honest run flags = %v, want only repeated_completion", h.Flags)
	}
	if h.Accuracy == nil || *h.Accuracy != 1 {
		t.Errorf("honest run accuracy = %v, want 1", h.Accuracy)
	}
	if g.WallSeconds != 15 || g.ActiveSeconds != 30 {
		t.Errorf("inflated run = wall %v, active %v; want 15, 30", g.WallSeconds, g.ActiveSeconds)
	}
	if !g.HasFlag(facts.FlagXPAboveFocusedMinutes) || !g.HasFlag(facts.FlagActiveAboveWallTime) {
		t.Errorf("inflated run flags = %v, want XP above focused minutes and active above wall time", g.Flags)
	}
	if g.HasFlag(facts.FlagRepeatedCompletion) {
		t.Errorf("inflated run flagged as repeated")
	}
}

type memLedger struct {
	states   map[facts.RunKey]*facts.RunState
	locked   []facts.RunKey
	windows  []facts.Window
	complete []facts.Completion
}

func (l *memLedger) LockRuns(ctx context.Context, runs []facts.RunSpan) (map[facts.RunKey]*facts.RunState, error) {
	out := map[facts.RunKey]*facts.RunState{}
	for _, span := range runs {
		k := span.RunKey
		l.locked = append(l.locked, k)
		s := &facts.RunState{}
		for _, w := range l.windows {
			if w.Key() == k && !w.Start.After(span.End) && !w.End.Before(span.Start) {
				s.Windows = append(s.Windows, w)
			}
		}
		for _, c := range l.complete {
			if c.Key() == k && c.Counted {
				s.Completed = true
			}
		}
		out[k] = s
	}
	return out, nil
}

func (l *memLedger) Insert(ctx context.Context, ws []facts.Window, cs []facts.Completion) error {
	l.windows = append(l.windows, ws...)
	l.complete = append(l.complete, cs...)
	return nil
}

func TestKeepResentHeartbeat(t *testing.T) {
	l := &memLedger{}
	first := &timeback.StoredEvent{Seq: 1, Sensor: "s", JSON: []byte(timeSpentJSON)}
	resent := &timeback.StoredEvent{Seq: 2, Sensor: "s",
		JSON: []byte(strings.Replace(timeSpentJSON, "a1b2c3d4-e5f6", "00000000-e5f6", 1))}
	other := &timeback.StoredEvent{Seq: 3, Sensor: "s",
		JSON: []byte(strings.Replace(timeSpentJSON, `"TimebackProfile"`, `"GradingProfile"`, 1))}
	done := &timeback.StoredEvent{Seq: 4, Sensor: "s", JSON: []byte(completedJSON)}
	ctx := context.Background()
	if err := facts.Keep(ctx, l, []*timeback.StoredEvent{first, other}); err != nil {
		t.Fatal(err)
	}
	if err := facts.Keep(ctx, l, []*timeback.StoredEvent{resent, done}); err != nil {
		t.Fatal(err)
	}
	if len(l.windows) != 1 || l.windows[0].EventSeq != 1 {
		t.Errorf("windows = %+v, want only the first heartbeat's", l.windows)
	}
	if len(l.complete) != 1 || !l.complete[0].Counted || l.complete[0].XP != 80 {
		t.Errorf("completions = %+v, want one counted with 80 XP", l.complete)
	}
	if len(l.locked) != 2 {
		t.Errorf("locked %v, want the run locked once per Keep", l.locked)
	}

	bad := &timeback.StoredEvent{Seq: 5, Sensor: "s",
		JSON: []byte(strings.Replace(timeSpentJSON, "2026-01-27T10:00:15.000Z", "soon", 1))}
	if err := facts.Keep(ctx, l, []*timeback.StoredEvent{bad}); err == nil {
		t.Errorf("Keep of an undecodable TimebackProfile event returned no error")
	}
}

// TestRunsFlagsPerfectScore checks the XP flag against the XP rule: a
// perfect score earns 1.25 XP per focused minute, so the demo's 7.5 XP for
// 6 minutes at 5 of 5 is no violation, while 7.6 XP or 7.5 XP at 4 of 5 is.
func TestRunsFlagsPerfectScore(t *testing.T) {
	cases := []struct {
		name           string
		xp             float64
		total, correct float64
		want           bool
	}{
		{"perfect at 1.25", 7.5, 5, 5, false},
		{"perfect above 1.25", 7.6, 5, 5, true},
		{"not perfect above 1.0", 7.5, 5, 4, true},
		{"not perfect at 1.0", 6, 5, 4, false},
		{"no questions at 1.0", 6, 0, 0, false},
		{"no questions above 1.0", 6.1, 0, 0, true},
	}
	for _, c := range cases {
		// Six minutes of active time in 15 s heartbeats.
		var ws []facts.Window
		for i := range 24 {
			start := utc("2026-01-27T10:00:00Z").Add(time.Duration(i) * 15 * time.Second)
			ws = append(ws, facts.Window{StudentID: student, RunID: "r", Category: timeback.TimeActive,
				Start: start, End: start.Add(15 * time.Second), Seconds: 15})
		}
		done := facts.Completion{StudentID: student, RunID: "r", XP: c.xp, Time: utc("2026-01-27T10:06:00Z"),
			TotalQuestions: c.total, CorrectQuestions: c.correct, Counted: true}
		runs := facts.Runs(ws, []facts.Completion{done})
		if len(runs) != 1 {
			t.Fatalf("%s: got %d runs, want 1", c.name, len(runs))
		}
		if got := runs[0].HasFlag(facts.FlagXPAboveFocusedMinutes); got != c.want {
			t.Errorf("%s: XP %v for 6 min at %v of %v flagged %v, want %v", c.name, c.xp, c.correct,
				c.total, got, c.want)
		}
	}
}
