package storetest

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
)

// RunFacts runs the suite of a store that keeps learning facts on ingest.
// open returns an empty store and the facts source that reads what it
// keeps; the suite closes the store.
func RunFacts(t *testing.T, open func(t *testing.T) (timeback.EventStore, facts.Source)) {
	tests := []struct {
		name string
		fn   func(*testing.T, timeback.EventStore, facts.Source)
	}{
		{"ResentHeartbeatCountsOnce", testResentHeartbeat},
		{"ConflictKeepsNoFacts", testConflictNoFacts},
		{"CompletionCountsOnce", testCompletionOnce},
		{"MidnightSplitPerZone", testMidnightSplit},
		{"StudentsAndSensors", testStudentsAndSensors},
		{"OtherEventsKeepNoFacts", testOtherEvents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, src := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s, src)
		})
	}
}

func daily(t *testing.T, src facts.Source, student int, from, to, tz string) []facts.Day {
	t.Helper()
	r, err := facts.ParseRange(from, to, tz)
	if err != nil {
		t.Fatal(err)
	}
	ws, cs, err := src.Facts(context.Background(), facts.Query{StudentID: Student(student),
		Start: r.Start(), End: r.End()})
	if err != nil {
		t.Fatal(err)
	}
	return facts.Daily(r, ws, cs)
}

func near(got, want float64) bool { return math.Abs(got-want) < 1e-6 }

func testResentHeartbeat(t *testing.T, s timeback.EventStore, src facts.Source) {
	start := t0
	end := start.Add(15 * time.Second)
	first := Heartbeat(EventID(1), Student(1), "run-1", start, end, 10, 5)
	appendOne(t, s, NewBatch(t, "job-1", Sensor, first))
	// The same window under new ids, once exact and once shifted by 5 s,
	// and the first event itself again.
	resent := Heartbeat(EventID(2), Student(1), "run-1", start, end, 10, 5)
	shifted := Heartbeat(EventID(3), Student(1), "run-1", start.Add(5*time.Second), end.Add(5*time.Second), 15, 0)
	res := appendOne(t, s, NewBatch(t, "job-2", Sensor, resent, shifted, first))
	if res.Err != nil || res.Stored != 2 || res.Duplicates != 1 {
		t.Fatalf("second batch = %+v, want 2 stored and 1 duplicate", res)
	}

	days := daily(t, src, 1, "2026-01-27", "2026-01-27", "UTC")
	// 10 s of the first window plus the last third of the shifted one.
	if !near(days[0].ActiveSeconds, 15) {
		t.Errorf("active seconds = %v, want 15", days[0].ActiveSeconds)
	}
	if !near(days[0].InactiveSeconds, 5) {
		t.Errorf("inactive seconds = %v, want 5", days[0].InactiveSeconds)
	}
}

func testConflictNoFacts(t *testing.T, s timeback.EventStore, src facts.Source) {
	appendOne(t, s, NewBatch(t, "job-1", Sensor, heartbeat(1, 1)))
	changed := Heartbeat(EventID(1), Student(1), "run-1", t0, t0.Add(15*time.Second), 15, 0)
	other := Heartbeat(EventID(7), Student(1), "run-2", t0.Add(time.Hour), t0.Add(time.Hour+15*time.Second), 15, 0)
	res := appendOne(t, s, NewBatch(t, "job-2", Sensor, other, changed))
	if res.Err == nil {
		t.Fatalf("conflicting batch was stored")
	}
	days := daily(t, src, 1, "2026-01-27", "2026-01-27", "UTC")
	if !near(days[0].ActiveSeconds, 10) {
		t.Errorf("active seconds = %v, want 10: the conflicting batch left facts", days[0].ActiveSeconds)
	}
}

func testCompletionOnce(t *testing.T, s timeback.EventStore, src facts.Source) {
	var beats [][]byte
	for i := range 8 { // two active minutes
		start := t0.Add(time.Duration(i) * 15 * time.Second)
		beats = append(beats, Heartbeat(EventID(i+1), Student(1), "run-1", start, start.Add(15*time.Second), 15, 0))
	}
	appendOne(t, s, NewBatch(t, "job-1", Sensor, beats...))
	done := Completed(EventID(20), Student(1), "run-1", t0.Add(2*time.Minute), 2, 10, 9)
	again := Completed(EventID(21), Student(1), "run-1", t0.Add(3*time.Minute), 2, 10, 9)
	appendOne(t, s, NewBatch(t, "job-2", Sensor, done))
	appendOne(t, s, NewBatch(t, "job-3", Sensor, again))

	days := daily(t, src, 1, "2026-01-27", "2026-01-27", "UTC")
	d := days[0]
	if d.XP != 2 || d.Completions != 1 || d.Questions != 10 || d.CorrectQuestions != 9 {
		t.Errorf("day = XP %v, completions %d, questions %v/%v; want 2, 1, 9/10",
			d.XP, d.Completions, d.CorrectQuestions, d.Questions)
	}
	if d.Accuracy == nil || !near(*d.Accuracy, 0.9) {
		t.Errorf("accuracy = %v, want 0.9", d.Accuracy)
	}

	ws, cs, err := src.Facts(context.Background(), facts.Query{Runs: []facts.RunKey{{StudentID: Student(1), RunID: "run-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	runs := facts.Runs(ws, cs)
	byID, byIDCompletions, err := src.Facts(context.Background(), facts.Query{RunID: "run-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byID) != len(ws) || len(byIDCompletions) != len(cs) {
		t.Errorf("query by run id found %d windows and %d completions, want %d and %d",
			len(byID), len(byIDCompletions), len(ws), len(cs))
	}
	if len(runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(runs))
	}
	r := runs[0]
	if r.FocusedMinutes != 2 || r.WallSeconds != 120 || r.RepeatedCompletions != 1 {
		t.Errorf("run = focused %v, wall %v, repeated %d; want 2, 120, 1", r.FocusedMinutes, r.WallSeconds,
			r.RepeatedCompletions)
	}
	if !slices.Equal(r.Flags, []facts.Flag{facts.FlagRepeatedCompletion}) {
		t.Errorf("run flags = %v, want only repeated_completion", r.Flags)
	}
}

func testMidnightSplit(t *testing.T, s timeback.EventStore, src facts.Source) {
	// 18:29:50 to 18:30:10 UTC crosses midnight in Kolkata (UTC+5:30).
	start := time.Date(2026, 1, 27, 18, 29, 50, 0, time.UTC)
	appendOne(t, s, NewBatch(t, "job-1", Sensor,
		Heartbeat(EventID(1), Student(1), "run-1", start, start.Add(20*time.Second), 20, 0)))

	days := daily(t, src, 1, "2026-01-27", "2026-01-28", "Asia/Kolkata")
	if !near(days[0].ActiveSeconds, 10) || !near(days[1].ActiveSeconds, 10) {
		t.Errorf("Kolkata days = %v, %v; want 10, 10", days[0].ActiveSeconds, days[1].ActiveSeconds)
	}
	days = daily(t, src, 1, "2026-01-27", "2026-01-28", "America/Chicago")
	if !near(days[0].ActiveSeconds, 20) || !near(days[1].ActiveSeconds, 0) {
		t.Errorf("Chicago days = %v, %v; want 20, 0", days[0].ActiveSeconds, days[1].ActiveSeconds)
	}
	// A query for the second Kolkata day alone still finds the window.
	days = daily(t, src, 1, "2026-01-28", "2026-01-28", "Asia/Kolkata")
	if !near(days[0].ActiveSeconds, 10) {
		t.Errorf("Kolkata 2026-01-28 alone = %v, want 10", days[0].ActiveSeconds)
	}
}

func testStudentsAndSensors(t *testing.T, s timeback.EventStore, src facts.Source) {
	const other = "https://other.example.com/sensor"
	appendOne(t, s, NewBatch(t, "job-1", Sensor, heartbeat(1, 2), heartbeat(2, 1)))
	appendOne(t, s, NewBatch(t, "job-2", other,
		Completed(EventID(3), Student(3), "run-3", t0, 1, 1, 1)))
	ctx := context.Background()

	got, err := src.Students(ctx, Sensor)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{Student(1), Student(2)}; !slices.Equal(got, want) {
		t.Errorf("Students(%s) = %v, want %v", Sensor, got, want)
	}
	got, err = src.Students(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{Student(1), Student(2), Student(3)}; !slices.Equal(got, want) {
		t.Errorf("Students(all) = %v, want %v", got, want)
	}
	got, err = src.Sensors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{Sensor, other}; !slices.Equal(got, want) {
		t.Errorf("Sensors = %v, want %v", got, want)
	}
	got, err = src.Students(ctx, "' OR ''='")
	if err != nil || len(got) != 0 {
		t.Errorf("Students of an unknown sensor = %v, %v; want none", got, err)
	}
}

func testOtherEvents(t *testing.T, s timeback.EventStore, src facts.Source) {
	res := appendOne(t, s, NewBatch(t, "job-1", Sensor, Navigation(EventID(1), t0), heartbeat(2, 1)))
	if res.Err != nil || res.Stored != 2 {
		t.Fatalf("batch with an event of another profile = %+v, want both stored", res)
	}
	days := daily(t, src, 1, "2026-01-27", "2026-01-27", "UTC")
	if !near(days[0].ActiveSeconds, 10) {
		t.Errorf("active seconds = %v, want 10 from the heartbeat alone", days[0].ActiveSeconds)
	}
}
