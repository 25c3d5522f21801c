package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
)

// TestGuardProperties drives a run with random heartbeats and clock moves
// and checks that the counted time never exceeds the wall time plus the
// leeway, that the events carry exactly the counted totals, that every
// item fits its window, and that no window starts before the previous one
// ends.
func TestGuardProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		x := newHarness(t, nil)
		id := x.mustStart()
		wall := time.Duration(0)
		latest := time.Duration(0) // the furthest the clock got; it may step back
		seq := int64(0)

		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := range steps {
			step := time.Duration(rapid.Int64Range(-2000, 90000).Draw(rt, fmt.Sprintf("advanceMs%d", i))) *
				time.Millisecond
			x.clock.advance(step)
			wall += step
			latest = max(latest, wall)

			switch rapid.IntRange(0, 9).Draw(rt, fmt.Sprintf("kind%d", i)) {
			case 0: // a repeat of the last sequence number
				x.post("/activity/heartbeat", window(id, max(seq, 1), 5000, 0))
			case 1: // an out-of-order one
				x.post("/activity/heartbeat", window(id, max(seq-1, 1), 5000, 0))
			default:
				seq += rapid.Int64Range(1, 3).Draw(rt, fmt.Sprintf("seqStep%d", i))
				active := rapid.Int64Range(0, 120000).Draw(rt, fmt.Sprintf("activeMs%d", i))
				inactive := rapid.Int64Range(0, 120000).Draw(rt, fmt.Sprintf("inactiveMs%d", i))
				if resp := x.post("/activity/heartbeat", window(id, seq, active, inactive)); resp.status != 200 {
					rt.Fatalf("heartbeat %d: status %d %s", seq, resp.status, resp.body)
				}
			}
		}

		run := x.run(id)
		limit := latest + 2*time.Second
		if total := run.Active + run.Inactive; total > limit {
			rt.Fatalf("counted %v over %v of wall time, want at most %v", total, latest, limit)
		}
		var active, inactive float64
		var previousEnd time.Time
		for i, ts := range x.sink.timeSpent() {
			if start := ts.Items[0].Start; start.Before(previousEnd) {
				rt.Fatalf("window %d starts at %v, before the previous one ends at %v", i+1, start, previousEnd)
			}
			previousEnd = ts.Items[0].End
			for _, it := range ts.Items {
				if caliper.ExceedsWindow(it.Seconds, it.Start, it.End) {
					rt.Fatalf("item %s of %v s exceeds its window of %v s", it.Type, it.Seconds,
						it.End.Sub(it.Start).Seconds())
				}
				if it.Type == timeback.TimeActive {
					active += it.Seconds
				} else {
					inactive += it.Seconds
				}
			}
		}
		if got, want := active, run.Active.Seconds(); !closeTo(got, want) {
			rt.Fatalf("events carry %v s active, run counted %v s", got, want)
		}
		if got, want := inactive, run.Inactive.Seconds(); !closeTo(got, want) {
			rt.Fatalf("events carry %v s inactive, run counted %v s", got, want)
		}
	})
}

// TestHonestClientNeverCapped checks that a browser reporting exactly the
// wall time of each window, split in any way, loses nothing.
func TestHonestClientNeverCapped(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		x := newHarness(t, nil)
		id := x.mustStart()
		var want time.Duration
		for seq := int64(1); seq <= int64(rapid.IntRange(1, 30).Draw(rt, "beats")); seq++ {
			ms := rapid.Int64Range(0, 60000).Draw(rt, fmt.Sprintf("windowMs%d", seq))
			activeMs := rapid.Int64Range(0, ms).Draw(rt, fmt.Sprintf("activeMs%d", seq))
			x.clock.advance(time.Duration(ms) * time.Millisecond)
			reply := x.beat(id, seq, activeMs, ms-activeMs)
			if reply.Capped != (millis{}) {
				rt.Fatalf("heartbeat %d capped %+v", seq, reply.Capped)
			}
			want += time.Duration(ms) * time.Millisecond
		}
		if got := x.run(id); got.Active+got.Inactive != want {
			rt.Fatalf("counted %v, want %v", got.Active+got.Inactive, want)
		}
	})
}

func closeTo(a, b float64) bool {
	d := a - b
	return d < 1e-6 && d > -1e-6
}

// FuzzWindowRequest feeds arbitrary bodies to the heartbeat and end routes:
// none may cause a 5xx or a panic, and the run's totals stay within the
// wall time plus the leeway.
func FuzzWindowRequest(f *testing.F) {
	f.Add(`{"runId":"RUN","seq":1,"activeMs":15000,"inactiveMs":0}`, false)
	f.Add(`{"runId":"RUN","seq":2,"activeMs":-1,"inactiveMs":0}`, false)
	f.Add(`{"runId":"RUN","seq":1,"activeMs":1,"inactiveMs":1,"metrics":{"totalQuestions":1,"correctQuestions":1}}`, true)
	f.Add(`{"runId":"RUN","seq":1e3,"activeMs":1e300,"inactiveMs":0}`, false)
	f.Add(`{"runId":"RUN","seq":1,"activeMs":0,"inactiveMs":0,"metrics":{"xpEarned":1e309}}`, true)
	f.Add(`[]`, true)
	f.Add(`{"runId":"RUN","runId":"x"}`, false)
	f.Fuzz(func(t *testing.T, body string, end bool) {
		x := newHarness(t, nil)
		id := x.mustStart()
		x.clock.advance(15 * time.Second)
		path := "/activity/heartbeat"
		if end {
			path = "/activity/end"
		}
		resp := x.post(path, strings.ReplaceAll(body, "RUN", id))
		if resp.status >= 500 {
			t.Fatalf("status %d for %q: %s", resp.status, body, resp.body)
		}
		if resp.status != http.StatusOK && resp.message() == "" {
			t.Fatalf("status %d without a message for %q", resp.status, body)
		}
		run := x.run(id)
		if total := run.Active + run.Inactive; total > 17*time.Second {
			t.Fatalf("counted %v after 15 s of wall time", total)
		}
	})
}
