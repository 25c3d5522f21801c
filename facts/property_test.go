package facts_test

import (
	"math"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
	"pgregory.net/rapid"
)

// TestCountProperties checks, for random heartbeats of one run resent and
// shifted at random, that the counted windows never overlap, cover exactly
// the time the heartbeats cover, and never count more seconds than were
// sent.
func TestCountProperties(t *testing.T) {
	base := utc("2026-03-08T05:00:00Z")
	chicago := zone(t, "America/Chicago")
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 30).Draw(t, "windows")
		var derived []facts.Derived
		var sent float64
		var all []facts.Window
		for i := range n {
			start := base.Add(time.Duration(rapid.IntRange(0, 600).Draw(t, "start")) * time.Second)
			length := time.Duration(rapid.IntRange(1, 120).Draw(t, "length")) * time.Second
			w := facts.Window{EventSeq: int64(i), StudentID: student, RunID: "r",
				Category: timeback.TimeActive, Start: start, End: start.Add(length),
				Seconds: length.Seconds() * rapid.Float64Range(0.1, 1).Draw(t, "share")}
			sent += w.Seconds
			all = append(all, w)
			derived = append(derived, facts.Derived{Windows: []facts.Window{w}})
		}
		counted, _ := facts.Count(nil, derived)

		var total float64
		for i, a := range counted {
			total += a.Seconds
			for _, b := range counted[i+1:] {
				if a.Start.Before(b.End) && b.Start.Before(a.End) {
					t.Fatalf("counted windows overlap: %v..%v and %v..%v", a.Start, a.End, b.Start, b.End)
				}
			}
		}
		if total > sent+1e-6 {
			t.Fatalf("counted %v seconds of %v sent", total, sent)
		}
		gotWall := facts.Runs(counted, nil)[0].WallSeconds
		wantWall := facts.Runs(all, nil)[0].WallSeconds
		if math.Abs(gotWall-wantWall) > 1e-6 {
			t.Fatalf("counted windows cover %v s, heartbeats cover %v s", gotWall, wantWall)
		}

		// Days in any zone add up to the counted total.
		r := facts.Range{From: facts.DateOf(base.Add(-24 * time.Hour)), To: facts.DateOf(base.Add(48 * time.Hour)),
			Loc: chicago}
		var daySum float64
		for _, d := range facts.Daily(r, counted, nil) {
			daySum += d.ActiveSeconds
		}
		if math.Abs(daySum-total) > 1e-3 {
			t.Fatalf("days sum to %v s, counted %v s", daySum, total)
		}
	})
}
