package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/timeback/timeback-go"
)

func TestStartCreatesRun(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	if id == "" {
		t.Fatal("start returned an empty runId")
	}
	run := x.run(id)
	if run.Owner != ann {
		t.Errorf("owner = %+v, want %+v", run.Owner, ann)
	}
	if got, want := run.Object.ID, "https://quiz.example.com/activities/Math/g3/lesson-1"; got != want {
		t.Errorf("object.id = %q, want %q", got, want)
	}
	if run.Object.AppName != "Quiz" {
		t.Errorf("app name = %q, want Quiz", run.Object.AppName)
	}
	if run.Object.Activity == nil || run.Object.Activity.Name != "Lesson 1" {
		t.Errorf("activity = %+v, want name Lesson 1", run.Object.Activity)
	}
	if run.CourseID != "MATH-3" {
		t.Errorf("courseId = %q, want MATH-3", run.CourseID)
	}
	if run.State != RunOpen {
		t.Errorf("state = %v, want open", run.State)
	}
	if !run.LastHeartbeat.Equal(testStart) {
		t.Errorf("last heartbeat = %v, want %v", run.LastHeartbeat, testStart)
	}
}

func TestHeartbeatSendsTimeSpent(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	reply := x.beat(id, 1, 12000, 3000)

	if reply.Counted != (millis{12000, 3000}) {
		t.Errorf("counted = %+v, want 12000/3000", reply.Counted)
	}
	if reply.Capped != (millis{}) {
		t.Errorf("capped = %+v, want none", reply.Capped)
	}
	events := x.sink.timeSpent()
	if len(events) != 1 {
		t.Fatalf("events = %d, want 1", len(events))
	}
	ts := events[0]
	if ts.Actor != ann {
		t.Errorf("actor = %+v, want ann", ts.Actor)
	}
	if ts.RunID != id || ts.CourseID != "MATH-3" {
		t.Errorf("runId, courseId = %q, %q; want %q, MATH-3", ts.RunID, ts.CourseID, id)
	}
	if got := itemSeconds(ts, timeback.TimeActive); got != 12 {
		t.Errorf("active = %v s, want 12", got)
	}
	if got := itemSeconds(ts, timeback.TimeInactive); got != 3 {
		t.Errorf("inactive = %v s, want 3", got)
	}
	for _, it := range ts.Items {
		if !it.Start.Equal(testStart) || !it.End.Equal(testStart.Add(15*time.Second)) {
			t.Errorf("item %s window = %v..%v, want %v..+15s", it.Type, it.Start, it.End, testStart)
		}
	}
	if _, final := ts.Extensions[ExtensionFinalFlush]; final {
		t.Error("a heartbeat carries the final-flush extension")
	}
	data, err := json.Marshal(ts)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if _, problems := timeback.ParseEvent(data); len(problems) > 0 {
		t.Errorf("event does not parse back: %v", problems)
	}

	run := x.run(id)
	if run.Active != 12*time.Second || run.Inactive != 3*time.Second || run.Seq != 1 {
		t.Errorf("run totals = %v/%v seq %d, want 12s/3s seq 1", run.Active, run.Inactive, run.Seq)
	}
}

func TestHeartbeatAfterUntrackedGap(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	x.beat(id, 1, 5000, 10000) // hidden, then the hidden timeout stops heartbeats

	// The page returns after 20 minutes and reports a fresh 15 s window.
	x.clock.advance(20*time.Minute + 15*time.Second)
	x.beat(id, 2, 15000, 0)
	events := x.sink.timeSpent()
	last := events[len(events)-1]
	wantEnd := testStart.Add(30*time.Second + 20*time.Minute)
	for _, it := range last.Items {
		if !it.Start.Equal(wantEnd.Add(-15*time.Second)) || !it.End.Equal(wantEnd) {
			t.Errorf("item %s window = %v..%v, want the last 15 s before %v", it.Type, it.Start, it.End, wantEnd)
		}
	}
}

func TestHeartbeatEmptyWindowSendsNothing(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	x.beat(id, 1, 0, 0)
	if n := len(x.sink.timeSpent()); n != 0 {
		t.Errorf("events = %d, want 0 for an empty window", n)
	}
	if got := x.run(id).Seq; got != 1 {
		t.Errorf("seq = %d, want 1", got)
	}
}

func TestHeartbeatDuplicateIgnored(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	x.beat(id, 1, 15000, 0)
	x.clock.advance(15 * time.Second)
	reply := x.beat(id, 1, 15000, 0)

	if !reply.Duplicate {
		t.Error("repeated seq 1: duplicate = false, want true")
	}
	if reply.Totals != (millis{15000, 0}) {
		t.Errorf("totals = %+v, want 15000/0", reply.Totals)
	}
	if n := len(x.sink.timeSpent()); n != 1 {
		t.Errorf("events = %d, want 1", n)
	}
	if got := counterValue(t, x.h.metrics.duplicates); got != 1 {
		t.Errorf("duplicates metric = %v, want 1", got)
	}
	// The duplicate does not move the guard's reference time, so the next
	// window still gets the wall time since the accepted heartbeat.
	x.clock.advance(15 * time.Second)
	if got := x.beat(id, 2, 30000, 0).Counted.ActiveMs; got != 30000 {
		t.Errorf("window after duplicate counted %d ms, want 30000", got)
	}
}

func TestHeartbeatRejected(t *testing.T) {
	tests := []struct {
		name       string
		body       any
		headers    []string
		student    string
		wantStatus int
		wantText   []string
	}{
		{"not json", `{"runId": "r", "seq": 1,`, nil, "", 400, []string{"not JSON"}},
		{"garbage", `hello`, nil, "", 400, []string{"not JSON"}},
		{"array", `[1,2]`, nil, "", 400, []string{"JSON object"}},
		{"empty body", ``, nil, "", 400, []string{"empty"}},
		{"trailing data", `{"runId":"RUN","seq":1,"activeMs":0,"inactiveMs":0} {}`, nil, "", 400,
			[]string{"after the JSON object"}},
		{"unknown field", `{"runId":"RUN","seq":1,"activeMs":0,"inactiveMs":0,"xp":5}`, nil, "", 400,
			[]string{`"xp"`}},
		{"negative active", window("RUN", 1, -5, 0), nil, "", 400, []string{"activeMs", "-5", "negative"}},
		{"negative inactive", window("RUN", 1, 0, -1), nil, "", 400, []string{"inactiveMs", "-1"}},
		{"huge active", window("RUN", 1, 1e12, 0), nil, "", 400, []string{"activeMs", "1000000000000", "86400000"}},
		{"fractional ms", `{"runId":"RUN","seq":1,"activeMs":1.5,"inactiveMs":0}`, nil, "", 400,
			[]string{"activeMs", "integer", "1.5"}},
		{"string ms", `{"runId":"RUN","seq":1,"activeMs":"10","inactiveMs":0}`, nil, "", 400,
			[]string{"activeMs", "integer"}},
		{"duplicate key", `{"runId":"RUN","seq":2,"activeMs":1,"activeMs":90000,"inactiveMs":0}`, nil, "", 400,
			[]string{"activeMs", "more than once"}},
		{"integer out of range", `{"runId":"RUN","seq":2,"activeMs":99999999999999999999,"inactiveMs":0}`, nil, "",
			400, []string{"activeMs", "99999999999999999999", "out of range"}},
		{"missing seq", `{"runId":"RUN","activeMs":0,"inactiveMs":0}`, nil, "", 400, []string{"seq", "missing"}},
		{"zero seq", window("RUN", 0, 0, 0), nil, "", 400, []string{"seq", "0"}},
		{"huge seq", window("RUN", 1<<60, 0, 0), nil, "", 400, []string{"seq"}},
		{"missing active", `{"runId":"RUN","seq":1,"inactiveMs":0}`, nil, "", 400, []string{"activeMs", "missing"}},
		{"missing run", `{"seq":1,"activeMs":0,"inactiveMs":0}`, nil, "", 400, []string{"runId", "missing"}},
		{"bad run id", window("a b", 1, 0, 0), nil, "", 400, []string{"runId", `"a b"`}},
		{"metrics on heartbeat", `{"runId":"RUN","seq":1,"activeMs":0,"inactiveMs":0,"metrics":{}}`, nil, "", 400,
			[]string{"metrics"}},
		{"unknown run", window("no-such-run", 1, 0, 0), nil, "", 404, []string{`"no-such-run"`, "not found"}},
		{"other student", window("RUN", 1, 1000, 0), nil, bob.Email, 404, []string{"not found for this student"}},
		{"no student", window("RUN", 1, 0, 0), nil, "-", 401, []string{"no student"}},
		{"unknown student", window("RUN", 1, 0, 0), nil, "eve@example.com", 404, []string{"eve@example.com"}},
		{"form body", `runId=RUN`, []string{"Content-Type", "application/x-www-form-urlencoded"}, "", 415,
			[]string{"application/x-www-form-urlencoded"}},
		{"text on heartbeat", window("RUN", 1, 0, 0), []string{"Content-Type", "text/plain"}, "", 415,
			[]string{"text/plain"}},
		{"latin1", window("RUN", 1, 0, 0), []string{"Content-Type", "application/json; charset=latin1"}, "", 415,
			[]string{"latin1"}},
		{"no content type", window("RUN", 1, 0, 0), []string{"Content-Type", ""}, "", 415,
			[]string{"Content-Type"}},
		{"oversized", `{"runId":"` + strings.Repeat("a", 20000) + `"}`, nil, "", 413, []string{"16384"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newHarness(t, nil)
			id := x.mustStart()
			x.clock.advance(15 * time.Second)
			x.beat(id, 1, 15000, 0)
			before := x.run(id)
			eventsBefore := len(x.sink.timeSpent())

			switch tt.student {
			case "":
			case "-":
				x.student = ""
			default:
				x.student = tt.student
			}
			body := tt.body
			if m, ok := body.(map[string]any); ok && m["runId"] == "RUN" {
				m["runId"] = id
			}
			if s, ok := body.(string); ok {
				body = strings.ReplaceAll(s, "RUN", id)
			}
			x.clock.advance(15 * time.Second)
			resp := x.post("/activity/heartbeat", body, tt.headers...)

			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.status, tt.wantStatus, resp.body)
			}
			var e errorBody
			resp.decode(t, &e)
			if e.Status != "error" {
				t.Errorf("status field = %q, want error", e.Status)
			}
			if !containsAll(e.Message, tt.wantText...) {
				t.Errorf("message %q does not contain %q", e.Message, tt.wantText)
			}
			after := x.run(id)
			if after.Active != before.Active || after.Inactive != before.Inactive || after.Seq != before.Seq {
				t.Errorf("run changed: %v/%v seq %d, want %v/%v seq %d", after.Active, after.Inactive,
					after.Seq, before.Active, before.Inactive, before.Seq)
			}
			if n := len(x.sink.timeSpent()); n != eventsBefore {
				t.Errorf("events = %d, want %d", n, eventsBefore)
			}
			if !strings.Contains(x.logs.String(), "request rejected") {
				t.Error("rejection not logged")
			}
		})
	}
}

func TestHeartbeatOutOfOrder(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	x.beat(id, 3, 15000, 0)
	x.clock.advance(15 * time.Second)
	resp := x.post("/activity/heartbeat", window(id, 2, 15000, 0))
	if resp.status != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400", resp.status)
	}
	if msg := resp.message(); !containsAll(msg, "seq", "2", "out of order", "3") {
		t.Errorf("message %q does not explain the order", msg)
	}
	if got := x.run(id).Active; got != 15*time.Second {
		t.Errorf("active = %v, want 15s", got)
	}
}

func TestTimeGuardCapsClaims(t *testing.T) {
	reg := prometheus.NewRegistry()
	x := newHarness(t, func(c *Config) { c.Registerer = reg })
	id := x.mustStart()

	x.clock.advance(15 * time.Second)
	reply := x.beat(id, 1, 60000, 30000)
	// 15 s of wall time and 2 s of leeway: 17 s active, nothing inactive.
	if reply.Counted != (millis{17000, 0}) {
		t.Errorf("counted = %+v, want 17000/0", reply.Counted)
	}
	if reply.Capped != (millis{43000, 30000}) {
		t.Errorf("capped = %+v, want 43000/30000", reply.Capped)
	}
	if got := counterValue(t, x.h.metrics.capped.WithLabelValues("active")); got != 1 {
		t.Errorf("capped active metric = %v, want 1", got)
	}
	if got := counterValue(t, x.h.metrics.cappedTime.WithLabelValues("active")); got != 43 {
		t.Errorf("capped active seconds = %v, want 43", got)
	}
	if got := counterValue(t, x.h.metrics.capped.WithLabelValues("inactive")); got != 1 {
		t.Errorf("capped inactive metric = %v, want 1", got)
	}
	logs := x.logs.String()
	if !containsAll(logs, "claimed time capped", id, "removed=43s", "type=active") {
		t.Errorf("cap not logged with run and amount:\n%s", logs)
	}
	if n := gatheredSeries(t, reg, "timeback_web_time_capped_total"); n != 2 {
		t.Errorf("registered capped series = %d, want 2", n)
	}

	// The event carries the capped value within its own window.
	ts := x.sink.timeSpent()[0]
	if got := itemSeconds(ts, timeback.TimeActive); got != 17 {
		t.Errorf("event active = %v s, want 17", got)
	}
	for _, it := range ts.Items {
		if span := it.End.Sub(it.Start).Seconds(); it.Seconds > span {
			t.Errorf("item %s value %v s exceeds its window of %v s", it.Type, it.Seconds, span)
		}
	}
}

func TestTimeGuardLeewayIsBudget(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()

	// A client sends a heartbeat every second, each claiming 3 s. Without
	// a shared budget it would gain 2 s per message.
	var total int64
	for seq := int64(1); seq <= 30; seq++ {
		x.clock.advance(time.Second)
		total += x.beat(id, seq, 3000, 0).Counted.ActiveMs
	}
	if max := int64(30000 + 2000); total > max {
		t.Errorf("counted %d ms over 30 s of wall time, want at most %d", total, max)
	}
	if total < 30000 {
		t.Errorf("counted %d ms, want at least the 30000 of wall time", total)
	}
}

func TestTimeGuardHonestJitter(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()

	// A heartbeat that arrives 1 s late, then one on time: the second
	// claims 1 s more than the wall time since the first and keeps it.
	x.clock.advance(16 * time.Second)
	x.beat(id, 1, 15000, 0)
	x.clock.advance(14 * time.Second)
	reply := x.beat(id, 2, 15000, 0)
	if reply.Capped != (millis{}) {
		t.Errorf("capped = %+v, want nothing for 1 s of jitter", reply.Capped)
	}
	if got := counterValue(t, x.h.metrics.capped.WithLabelValues("active")); got != 0 {
		t.Errorf("capped metric = %v, want 0", got)
	}
}

func TestWindowsTileUnderJitter(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()

	// One heartbeat on time, one 1 s early, one 1 s late: every window
	// starts where the previous one ended and spans exactly its time.
	for seq, arrival := range []time.Duration{15 * time.Second, 14 * time.Second, 16 * time.Second} {
		x.clock.advance(arrival)
		x.beat(id, int64(seq+1), 15000, 0)
	}
	events := x.sink.timeSpent()
	if len(events) != 3 {
		t.Fatalf("events = %d, want 3", len(events))
	}
	wantStart := testStart
	for i, ts := range events {
		it := ts.Items[0]
		wantEnd := wantStart.Add(15 * time.Second)
		if !it.Start.Equal(wantStart) || !it.End.Equal(wantEnd) {
			t.Errorf("window %d = %v..%v, want %v..%v", i+1, it.Start, it.End, wantStart, wantEnd)
		}
		wantStart = wantEnd
	}
}

func TestWindowsTileAfterClockBackwards(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	x.beat(id, 1, 15000, 0)
	x.clock.advance(-time.Minute)
	x.beat(id, 2, 1000, 0)
	resp := x.post("/activity/end", window(id, 3, 0, 0))
	if resp.status != http.StatusOK {
		t.Fatalf("end: status %d, body %s", resp.status, resp.body)
	}
	events := x.sink.timeSpent()
	for i := 1; i < len(events); i++ {
		prevEnd, start := events[i-1].Items[0].End, events[i].Items[0].Start
		if start.Before(prevEnd) {
			t.Errorf("window %d starts at %v, before the end of window %d at %v", i+1, start, i, prevEnd)
		}
	}
}

func TestWindowsTileAcrossQuickResume(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()

	// The end claims 2 s more than the wall time, so its window ends 2 s
	// after the server's clock; the resume comes 1 s later.
	x.clock.advance(15 * time.Second)
	x.beat(id, 1, 15000, 0)
	x.clock.advance(13 * time.Second)
	if resp := x.post("/activity/end", window(id, 2, 15000, 0)); resp.status != http.StatusOK {
		t.Fatalf("end: status %d, body %s", resp.status, resp.body)
	}
	x.clock.advance(time.Second)
	if resp := x.post("/activity/start", startBody(id)); resp.status != http.StatusOK {
		t.Fatalf("resume: status %d, body %s", resp.status, resp.body)
	}
	x.clock.advance(15 * time.Second)
	x.beat(id, 3, 15000, 0)

	events := x.sink.timeSpent()
	for i := 1; i < len(events); i++ {
		prevEnd, start := events[i-1].Items[0].End, events[i].Items[0].Start
		if start.Before(prevEnd) {
			t.Errorf("window %d starts at %v, before window %d ends at %v", i+1, start, i, prevEnd)
		}
	}
	if run := x.run(id); run.Active > 44*time.Second+2*time.Second {
		t.Errorf("counted %v active over 44 s of wall time, want at most 46 s", run.Active)
	}
}

func TestTimeGuardClockBackwards(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(-time.Minute)
	reply := x.beat(id, 1, 15000, 0)
	if reply.Counted.ActiveMs > 2000 {
		t.Errorf("counted %d ms after the clock stepped back, want at most the 2000 ms leeway",
			reply.Counted.ActiveMs)
	}
}

func TestGuardWindow(t *testing.T) {
	s := time.Second
	tests := []struct {
		name                     string
		active, inactive         time.Duration
		elapsed, ahead, leeway   time.Duration
		wantActive, wantInactive time.Duration
		wantCappedA, wantCappedI time.Duration
		wantAhead                time.Duration
	}{
		{"honest", 10 * s, 5 * s, 15 * s, 0, 2 * s, 10 * s, 5 * s, 0, 0, 0},
		{"within leeway", 16 * s, 0, 15 * s, 0, 2 * s, 16 * s, 0, 0, 0, s},
		{"active capped", 60 * s, 0, 15 * s, 0, 2 * s, 17 * s, 0, 43 * s, 0, 2 * s},
		{"inactive gets the rest", 10 * s, 10 * s, 15 * s, 0, 2 * s, 10 * s, 7 * s, 0, 3 * s, 2 * s},
		{"ahead reduces budget", 15 * s, 0, 15 * s, 2 * s, 2 * s, 15 * s, 0, 0, 0, 2 * s},
		{"ahead used up", 16 * s, 0, 15 * s, 2 * s, 2 * s, 15 * s, 0, s, 0, 2 * s},
		{"under-claim repays", 10 * s, 0, 15 * s, 2 * s, 2 * s, 10 * s, 0, 0, 0, 0},
		{"no leeway", 16 * s, 0, 15 * s, 0, 0, 15 * s, 0, s, 0, 0},
		{"clock backwards", 5 * s, 5 * s, -10 * s, 0, 2 * s, 2 * s, 0, 3 * s, 5 * s, 2 * s},
		{"ahead beyond budget", 5 * s, 0, 0, 5 * s, 2 * s, 0, 0, 5 * s, 0, 5 * s},
	}
	for _, tt := range tests {
		got := guardWindow(tt.active, tt.inactive, tt.elapsed, tt.ahead, tt.leeway)
		want := allowance{tt.wantActive, tt.wantInactive, tt.wantCappedA, tt.wantCappedI, tt.wantAhead}
		if got != want {
			t.Errorf("%s: guardWindow = %+v, want %+v", tt.name, got, want)
		}
	}
}

func TestEndWithoutMetricsClosesSession(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	x.beat(id, 1, 15000, 0)
	x.clock.advance(5 * time.Second)
	resp := x.post("/activity/end", window(id, 2, 4000, 1000))
	if resp.status != http.StatusOK {
		t.Fatalf("end: status %d, body %s", resp.status, resp.body)
	}
	var reply windowReply
	resp.decode(t, &reply)
	if reply.State != "closed" || reply.XPEarned != nil {
		t.Errorf("reply state %q xp %v, want closed without xp", reply.State, reply.XPEarned)
	}
	events := x.sink.timeSpent()
	if len(events) != 2 {
		t.Fatalf("events = %d, want 2", len(events))
	}
	if events[1].Extensions[ExtensionFinalFlush] != true {
		t.Errorf("final event extensions = %v, want finalFlush true", events[1].Extensions)
	}
	if n := len(x.sink.completions()); n != 0 {
		t.Errorf("completions = %d, want 0", n)
	}

	// The repeated beacon is ignored; a heartbeat after the end is not.
	if got := x.post("/activity/end", window(id, 2, 4000, 1000)); got.status != 200 {
		t.Errorf("repeated end: status %d, want 200", got.status)
	}
	if n := len(x.sink.timeSpent()); n != 2 {
		t.Errorf("events after repeated end = %d, want 2", n)
	}
	resp = x.post("/activity/heartbeat", window(id, 3, 1000, 0))
	if resp.status != http.StatusConflict || !strings.Contains(resp.message(), "ended") {
		t.Errorf("heartbeat after end: status %d %q, want 409 naming the end", resp.status, resp.message())
	}
}

func TestEndFinalFlushSentWhenEmpty(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(time.Second)
	resp := x.post("/activity/end", window(id, 1, 0, 0))
	if resp.status != http.StatusOK {
		t.Fatalf("end: status %d, body %s", resp.status, resp.body)
	}
	events := x.sink.timeSpent()
	if len(events) != 1 || events[0].Extensions[ExtensionFinalFlush] != true {
		t.Fatalf("events = %d, want one final flush", len(events))
	}
}

func TestResumeContinuesRun(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	x.beat(id, 1, 15000, 0)
	x.post("/activity/end", window(id, 2, 0, 0))

	// Another day: the app resumes the saved run.
	x.clock.advance(26 * time.Hour)
	resp := x.post("/activity/start", startBody(id))
	if resp.status != http.StatusOK {
		t.Fatalf("resume: status %d, body %s", resp.status, resp.body)
	}
	var reply startReply
	resp.decode(t, &reply)
	if reply.RunID != id || reply.Seq != 2 || !reply.Resumed {
		t.Errorf("resume reply = %+v, want run %s seq 2 resumed", reply, id)
	}
	if reply.Totals.ActiveMs != 15000 {
		t.Errorf("resumed totals = %+v, want 15000 active", reply.Totals)
	}

	// The fresh window starts at the resume, not at the previous session.
	x.clock.advance(15 * time.Second)
	got := x.beat(id, 3, 15000, 0)
	if got.Capped != (millis{}) || got.Totals.ActiveMs != 30000 {
		t.Errorf("after resume: capped %+v totals %+v, want none and 30000", got.Capped, got.Totals)
	}
	events := x.sink.timeSpent()
	last := events[len(events)-1]
	if want := testStart.Add(15*time.Second + 26*time.Hour); !last.Items[0].Start.Equal(want) {
		t.Errorf("window start = %v, want %v", last.Items[0].Start, want)
	}
}

func TestResumeRejected(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(time.Minute)
	x.post("/activity/end", map[string]any{"runId": id, "seq": 1, "activeMs": 60000, "inactiveMs": 0,
		"metrics": map[string]any{"totalQuestions": 2, "correctQuestions": 2}})

	if resp := x.post("/activity/start", startBody(id)); resp.status != http.StatusConflict ||
		!strings.Contains(resp.message(), "completed") {
		t.Errorf("resume completed run: status %d %q, want 409 completed", resp.status, resp.message())
	}

	other := x.mustStart()
	x.student = bob.Email
	if resp := x.post("/activity/start", startBody(other)); resp.status != http.StatusNotFound {
		t.Errorf("resume another student's run: status %d, want 404", resp.status)
	}
	x.student = ann.Email
	body := startBody(other)
	body["activity"] = map[string]any{"id": "Reading/other", "subject": "Reading"}
	if resp := x.post("/activity/start", body); resp.status != http.StatusConflict ||
		!strings.Contains(resp.message(), "Reading/other") {
		t.Errorf("resume with another activity: status %d %q, want 409", resp.status, resp.message())
	}
}

func TestResumeUnknownRunStartsIt(t *testing.T) {
	x := newHarness(t, nil)
	resp := x.post("/activity/start", startBody("saved-run-1"))
	if resp.status != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.status, resp.body)
	}
	if run := x.run("saved-run-1"); run.Owner != ann || run.Seq != 0 {
		t.Errorf("run = %+v, want ann's with seq 0", run)
	}
}

func TestStartRejected(t *testing.T) {
	tests := []struct {
		name     string
		body     any
		wantText []string
	}{
		{"no activity", map[string]any{"course": map[string]any{"id": "C"}}, []string{"activity", "missing"}},
		{"no course", map[string]any{"activity": map[string]any{"id": "a", "subject": "Math"}},
			[]string{"course", "missing"}},
		{"bad subject", map[string]any{"activity": map[string]any{"id": "a", "subject": "Maths"},
			"course": map[string]any{"id": "C"}}, []string{"activity.subject", `"Maths"`}},
		{"bad activity id", map[string]any{"activity": map[string]any{"id": "../x y", "subject": "Math"},
			"course": map[string]any{"id": "C"}}, []string{"activity.id", `"../x y"`}},
		{"empty course id", map[string]any{"activity": map[string]any{"id": "a", "subject": "Math"},
			"course": map[string]any{"id": ""}}, []string{"course.id", "missing"}},
		{"unknown field", `{"activity":{"id":"a","subject":"Math","xp":3},"course":{"id":"C"}}`,
			[]string{`"xp"`}},
	}
	for _, tt := range tests {
		x := newHarness(t, nil)
		resp := x.post("/activity/start", tt.body)
		if resp.status != http.StatusBadRequest {
			t.Errorf("%s: status = %d, want 400 (%s)", tt.name, resp.status, resp.body)
			continue
		}
		if msg := resp.message(); !containsAll(msg, tt.wantText...) {
			t.Errorf("%s: message %q does not contain %q", tt.name, msg, tt.wantText)
		}
	}
}

func TestStartActivityFunc(t *testing.T) {
	x := newHarness(t, func(c *Config) {
		c.Activity = func(r *http.Request, a ActivityRequest, course CourseRequest) (timeback.ActivityContext, error) {
			if a.ID != "quiz-1" {
				return timeback.ActivityContext{}, timeback.Errorf(timeback.CodeNotFound, "no activity %q", a.ID)
			}
			return timeback.ActivityContext{ID: "https://catalog.example.com/quiz-1", Subject: timeback.SubjectMath}, nil
		}
	})
	body := startBody("")
	if resp := x.post("/activity/start", body); resp.status != http.StatusNotFound {
		t.Errorf("unlisted activity: status %d, want 404", resp.status)
	}
	body["activity"] = map[string]any{"id": "quiz-1", "subject": "Reading"}
	resp := x.post("/activity/start", body)
	if resp.status != http.StatusOK {
		t.Fatalf("listed activity: status %d, body %s", resp.status, resp.body)
	}
	var reply startReply
	resp.decode(t, &reply)
	run := x.run(reply.RunID)
	if run.Object.Subject != timeback.SubjectMath || run.Object.AppName != "Quiz" {
		t.Errorf("object = %+v, want the catalog's subject and the app name", run.Object)
	}
}

func TestEndWithMetricsCompletes(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	for seq := int64(1); seq <= 8; seq++ { // 2 minutes of focus
		x.clock.advance(15 * time.Second)
		x.beat(id, seq, 15000, 0)
	}
	x.clock.advance(time.Second)
	resp := x.post("/activity/end", map[string]any{"runId": id, "seq": 9, "activeMs": 0, "inactiveMs": 1000,
		"metrics": map[string]any{"totalQuestions": 4, "correctQuestions": 4, "masteredUnits": 1,
			"pctCompleteApp": 50}})
	if resp.status != http.StatusOK {
		t.Fatalf("end: status %d, body %s", resp.status, resp.body)
	}
	var reply windowReply
	resp.decode(t, &reply)
	// 2 focused minutes at 100% on the first attempt: 2 x 1.25.
	if reply.XPEarned == nil || *reply.XPEarned != 2.5 {
		t.Errorf("xpEarned = %v, want 2.5", reply.XPEarned)
	}
	if reply.State != "completed" {
		t.Errorf("state = %q, want completed", reply.State)
	}
	completions := x.sink.completions()
	if len(completions) != 1 {
		t.Fatalf("completions = %d, want 1", len(completions))
	}
	c := completions[0]
	if c.Metrics.XPEarned != 2.5 || *c.Metrics.TotalQuestions != 4 || *c.Metrics.PctCompleteApp != 50 {
		t.Errorf("metrics = %+v, want xp 2.5, total 4, pct 50", c.Metrics)
	}
	if c.RunID != id || c.Actor != ann {
		t.Errorf("completion run %q actor %+v, want %q ann", c.RunID, c.Actor, id)
	}
	// The final flush comes before the completion.
	events := x.sink.Events()
	n := len(events)
	_, lastIsCompletion := events[n-1].(*timeback.ActivityCompleted)
	_, beforeIsTime := events[n-2].(*timeback.TimeSpent)
	if !lastIsCompletion || !beforeIsTime {
		t.Error("events do not end with the final TimeSpentEvent and then the completion")
	}

	// A second completion of the run is rejected.
	resp = x.post("/activity/end", map[string]any{"runId": id, "seq": 10, "activeMs": 0, "inactiveMs": 0,
		"metrics": map[string]any{"totalQuestions": 4, "correctQuestions": 4}})
	if resp.status != http.StatusConflict {
		t.Errorf("second completion: status %d, want 409", resp.status)
	}
	if n := len(x.sink.completions()); n != 1 {
		t.Errorf("completions = %d, want 1", n)
	}
}

func TestCompletionAttemptsHalveXP(t *testing.T) {
	x := newHarness(t, nil)
	var got []float64
	for range 3 {
		id := x.mustStart()
		x.clock.advance(2 * time.Minute)
		resp := x.post("/activity/end", map[string]any{"runId": id, "seq": 1, "activeMs": 120000,
			"inactiveMs": 0, "metrics": map[string]any{"totalQuestions": 5, "correctQuestions": 4}})
		var reply windowReply
		resp.decode(t, &reply)
		if reply.XPEarned == nil {
			t.Fatalf("end: status %d, body %s", resp.status, resp.body)
		}
		got = append(got, *reply.XPEarned)
	}
	want := []float64{2, 1, 0.5}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("attempt %d: xpEarned = %v, want %v", i+1, got[i], want[i])
		}
	}
}

func TestCompletionXPAboveFocus(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(time.Minute)
	body := map[string]any{"runId": id, "seq": 1, "activeMs": 60000, "inactiveMs": 0,
		"metrics": map[string]any{"xpEarned": 5}}
	resp := x.post("/activity/end", body)
	if resp.status != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400 (%s)", resp.status, resp.body)
	}
	if msg := resp.message(); !containsAll(msg, "5", "1") {
		t.Errorf("message %q does not give both numbers", msg)
	}
	if run := x.run(id); run.State != RunOpen || run.Seq != 0 || run.Active != 0 {
		t.Errorf("run = state %v seq %d active %v, want unchanged", run.State, run.Seq, run.Active)
	}
	if n := len(x.sink.Events()); n != 0 {
		t.Errorf("events = %d, want 0", n)
	}

	// Sent again with a valid xpEarned, the same message succeeds.
	body["metrics"] = map[string]any{"xpEarned": 1}
	if resp := x.post("/activity/end", body); resp.status != http.StatusOK {
		t.Errorf("retry: status %d, body %s", resp.status, resp.body)
	}

	y := newHarness(t, func(c *Config) { c.AllowXPAboveFocus = true })
	id = y.mustStart()
	y.clock.advance(time.Minute)
	body = map[string]any{"runId": id, "seq": 1, "activeMs": 60000, "inactiveMs": 0,
		"metrics": map[string]any{"xpEarned": 5}}
	if resp := y.post("/activity/end", body); resp.status != http.StatusOK {
		t.Errorf("allowed above focus: status %d, body %s", resp.status, resp.body)
	}
}

func TestEndMetricsRejected(t *testing.T) {
	tests := []struct {
		name     string
		metrics  string
		wantText []string
	}{
		{"negative", `{"totalQuestions":-1,"correctQuestions":0}`, []string{"totalQuestions", "-1"}},
		{"pair missing", `{"correctQuestions":3}`, []string{"totalQuestions", "correctQuestions"}},
		{"correct above total", `{"totalQuestions":3,"correctQuestions":4}`, []string{"correctQuestions", "4", "3"}},
		{"pct above 100", `{"pctCompleteApp":101}`, []string{"pctCompleteApp", "101"}},
		{"string", `{"masteredUnits":"1"}`, []string{"masteredUnits", "number"}},
		{"duplicate key", `{"totalQuestions":3,"correctQuestions":3,"correctQuestions":30}`,
			[]string{"metrics.correctQuestions", "more than once"}},
		{"xp above focus", `{"xpEarned":5}`, []string{"xpEarned", "5", "focused minutes"}},
	}
	for _, tt := range tests {
		x := newHarness(t, nil)
		id := x.mustStart()
		x.clock.advance(time.Minute)
		body := `{"runId":"` + id + `","seq":1,"activeMs":1000,"inactiveMs":0,"metrics":` + tt.metrics + `}`
		resp := x.post("/activity/end", body)
		if resp.status != http.StatusBadRequest {
			t.Errorf("%s: status = %d, want 400", tt.name, resp.status)
			continue
		}
		if msg := resp.message(); !containsAll(msg, tt.wantText...) {
			t.Errorf("%s: message %q does not contain %q", tt.name, msg, tt.wantText)
		}
		var e errorBody
		resp.decode(t, &e)
		if len(e.Errors) != 1 || !strings.HasPrefix(e.Errors[0].Path, "/metrics/") {
			t.Errorf("%s: errors = %+v, want one under /metrics/", tt.name, e.Errors)
		}
		if run := x.run(id); run.State != RunOpen {
			t.Errorf("%s: state = %v, want open", tt.name, run.State)
		}
	}
}

func TestEndAcceptsBeaconBody(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(3 * time.Second)
	for _, ct := range []string{"text/plain;charset=UTF-8", "application/json"} {
		resp := x.post("/activity/end", window(id, 1, 3000, 0), "Content-Type", ct)
		if resp.status != http.StatusOK {
			t.Errorf("end as %s: status %d, body %s", ct, resp.status, resp.body)
		}
	}
	if n := len(x.sink.timeSpent()); n != 1 {
		t.Errorf("final flushes = %d, want 1", n)
	}
}

func TestSinkFailureKeepsRun(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	x.sink.SetErr(errors.New("sender: queue full"))
	resp := x.post("/activity/heartbeat", window(id, 1, 15000, 0))
	if resp.status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", resp.status)
	}
	if msg := resp.message(); !strings.Contains(msg, "queue full") {
		t.Errorf("message %q does not name the cause", msg)
	}
	if run := x.run(id); run.Seq != 0 || run.Active != 0 {
		t.Errorf("run advanced to seq %d active %v after a failed send", run.Seq, run.Active)
	}

	x.sink.SetErr(nil)
	x.clock.advance(time.Second)
	if got := x.beat(id, 1, 15000, 0); got.Counted.ActiveMs != 15000 || got.Duplicate {
		t.Errorf("retry counted %d ms (duplicate %v), want 15000", got.Counted.ActiveMs, got.Duplicate)
	}
}

func TestConcurrentRepeatsCountOnce(t *testing.T) {
	x := newHarness(t, nil)
	id := x.mustStart()
	x.clock.advance(15 * time.Second)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("POST", DefaultPrefix+"/activity/end",
				strings.NewReader(`{"runId":"`+id+`","seq":1,"activeMs":15000,"inactiveMs":0}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Student", ann.Email)
			rec := httptest.NewRecorder()
			x.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("status %d, body %s", rec.Code, rec.Body)
			}
		}()
	}
	wg.Wait()
	if n := len(x.sink.timeSpent()); n != 1 {
		t.Errorf("final flushes = %d, want 1", n)
	}
	if got := x.run(id).Active; got != 15*time.Second {
		t.Errorf("active = %v, want 15s", got)
	}
}

func TestUserMe(t *testing.T) {
	x := newHarness(t, nil)
	resp := x.do("GET", DefaultPrefix+"/user/me", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.status, resp.body)
	}
	var u userReply
	resp.decode(t, &u)
	if u.ID != ann.ID || u.Email != ann.Email {
		t.Errorf("user = %+v, want ann", u)
	}

	tests := []struct {
		student    string
		wantStatus int
	}{
		{"", http.StatusUnauthorized},
		{"eve@example.com", http.StatusNotFound},
	}
	for _, tt := range tests {
		x.student = tt.student
		if resp := x.do("GET", DefaultPrefix+"/user/me", nil); resp.status != tt.wantStatus {
			t.Errorf("student %q: status %d, want %d", tt.student, resp.status, tt.wantStatus)
		}
	}
}

func TestResolverErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantText   string
	}{
		{"ambiguous", timeback.Errorf(timeback.CodeConflict, "ambiguous: two users"), 409, "ambiguous"},
		{"unavailable", timeback.Errorf(timeback.CodeUnavailable, "oneroster unavailable"), 503, "unavailable"},
		{"uncoded", errors.New("secret database detail"), 500, "internal error"},
	}
	for _, tt := range tests {
		x := newHarness(t, func(c *Config) {
			c.Resolver = timeback.ResolverFunc(func(*http.Request) (timeback.User, error) {
				return timeback.User{}, tt.err
			})
		})
		resp := x.do("GET", DefaultPrefix+"/user/me", nil)
		if resp.status != tt.wantStatus {
			t.Errorf("%s: status = %d, want %d", tt.name, resp.status, tt.wantStatus)
		}
		if msg := resp.message(); !strings.Contains(msg, tt.wantText) || strings.Contains(msg, "secret") {
			t.Errorf("%s: message %q, want one containing %q and no detail", tt.name, msg, tt.wantText)
		}
	}
}

func TestClientJSServed(t *testing.T) {
	x := newHarness(t, nil)
	resp := x.do("GET", DefaultPrefix+"/client.js", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("status %d", resp.status)
	}
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("Content-Type = %q, want text/javascript", ct)
	}
	if !strings.Contains(string(resp.body), "export function createActivity") {
		t.Error("body is not the client module")
	}
	etag := resp.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := x.do("GET", DefaultPrefix+"/client.js", nil, "If-None-Match", etag)
	if again.status != http.StatusNotModified || len(again.body) != 0 {
		t.Errorf("revalidation: status %d with %d bytes, want 304 and none", again.status, len(again.body))
	}
}

func TestRoutingErrors(t *testing.T) {
	x := newHarness(t, nil)
	tests := []struct {
		method, path string
		wantStatus   int
		wantAllow    string
	}{
		{"GET", DefaultPrefix + "/activity/start", 405, "POST"},
		{"DELETE", DefaultPrefix + "/user/me", 405, "GET"},
		{"GET", DefaultPrefix + "/nope", 404, ""},
		{"GET", "/elsewhere/user/me", 404, ""},
		{"HEAD", DefaultPrefix + "/client.js", 200, ""},
	}
	for _, tt := range tests {
		resp := x.do(tt.method, tt.path, nil)
		if resp.status != tt.wantStatus {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, resp.status, tt.wantStatus)
		}
		if got := resp.header.Get("Allow"); got != tt.wantAllow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.wantAllow)
		}
	}
}

func TestCrossOriginRejected(t *testing.T) {
	x := newHarness(t, func(c *Config) { c.TrustedOrigins = []string{"https://partner.example.com"} })
	resp := x.post("/activity/start", startBody(""), "Sec-Fetch-Site", "cross-site",
		"Origin", "https://evil.example.com")
	if resp.status != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.status)
	}
	if msg := resp.message(); !strings.Contains(msg, "evil.example.com") {
		t.Errorf("message %q does not name the origin", msg)
	}
	resp = x.post("/activity/start", startBody(""), "Sec-Fetch-Site", "cross-site",
		"Origin", "https://partner.example.com")
	if resp.status != http.StatusOK {
		t.Errorf("trusted origin: status %d, body %s", resp.status, resp.body)
	}
	resp = x.post("/activity/start", startBody(""), "Sec-Fetch-Site", "same-origin")
	if resp.status != http.StatusOK {
		t.Errorf("same origin: status %d", resp.status)
	}
}

func TestMountedPrefixes(t *testing.T) {
	tests := []struct {
		prefix, path string
	}{
		{"", "/api/timeback/user/me"},
		{"/tb/", "/tb/user/me"},
		{"v1/timeback", "/v1/timeback/user/me"},
		{"/", "/user/me"},
	}
	for _, tt := range tests {
		x := newHarness(t, func(c *Config) { c.Prefix = tt.prefix })
		mux := http.NewServeMux()
		mux.Handle(x.h.Prefix()+"/", x.h)
		req := httptest.NewRequest("GET", tt.path, nil)
		req.Header.Set("X-Student", ann.Email)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("prefix %q: GET %s status %d, want 200", tt.prefix, tt.path, rec.Code)
		}
	}
}

func TestNewRejectsConfig(t *testing.T) {
	sink := &recordSink{}
	resolver := timeback.ResolverFunc(func(*http.Request) (timeback.User, error) { return ann, nil })
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no resolver", Config{Sink: sink, AppName: "A"}, "Resolver"},
		{"no sink", Config{Resolver: resolver, AppName: "A"}, "Sink"},
		{"no app name", Config{Resolver: resolver, Sink: sink}, "AppName"},
		{"relative base", Config{Resolver: resolver, Sink: sink, AppName: "A", ActivityBaseURL: "/a"},
			"ActivityBaseURL"},
		{"bad origin", Config{Resolver: resolver, Sink: sink, AppName: "A", TrustedOrigins: []string{"::"}},
			"TrustedOrigins"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want one naming %s", tt.name, err, tt.want)
		}
	}
}

func TestMemoryRunsBounded(t *testing.T) {
	x := newHarness(t, func(c *Config) { c.Runs = &MemoryRuns{MaxRuns: 2} })
	x.mustStart()
	x.mustStart()
	resp := x.post("/activity/start", startBody(""))
	if resp.status != http.StatusServiceUnavailable {
		t.Fatalf("third run: status %d, want 503", resp.status)
	}
	if msg := resp.message(); !strings.Contains(msg, "maximum") {
		t.Errorf("message %q does not name the limit", msg)
	}
}

func TestMemoryRunsExpireIdle(t *testing.T) {
	clock := &fakeClock{now: testStart}
	runs := &MemoryRuns{IdleTimeout: time.Hour, Now: clock.Now}
	ctx := t.Context()
	if err := runs.Create(ctx, Run{ID: "old", Owner: ann}); err != nil {
		t.Fatal(err)
	}
	if err := runs.Create(ctx, Run{ID: "old", Owner: ann}); timeback.ErrorCode(err) != timeback.CodeConflict {
		t.Errorf("second create: error %v, want conflict", err)
	}
	clock.advance(2 * time.Hour)
	if err := runs.Create(ctx, Run{ID: "new", Owner: ann}); err != nil {
		t.Fatal(err)
	}
	if _, ok := runs.Get("old"); ok {
		t.Error("idle run still stored after its timeout")
	}
	err := runs.Update(ctx, "old", func(*Run) error { return nil })
	if timeback.ErrorCode(err) != timeback.CodeNotFound {
		t.Errorf("update of expired run: error %v, want not found", err)
	}
}
