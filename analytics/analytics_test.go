package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/analytics"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/internal/sqlitetest"
	"github.com/timeback/timeback-go/internal/storetest"
)

// Two days of one student in Chicago (UTC-6), like the demo: a fractions
// run on the evening of January 27 that crosses local midnight, with a
// heartbeat resent under a new id, and a second run the next afternoon.
var (
	student  = storetest.Student(1)
	evening  = time.Date(2026, 1, 28, 5, 58, 0, 0, time.UTC) // 23:58 in Chicago
	next     = time.Date(2026, 1, 28, 20, 0, 0, 0, time.UTC) // 14:00 in Chicago
	fixedNow = time.Date(2026, 1, 29, 12, 0, 0, 0, time.UTC)
)

func seed(t *testing.T) facts.Source {
	t.Helper()
	ctx := context.Background()
	s, reader, _ := sqlitetest.OpenWithFacts(t)

	n := 0
	id := func() string { n++; return storetest.EventID(n) }
	var first, second [][]byte
	// Four minutes of 60 s windows: 45 s active, 15 s inactive each; two
	// minutes fall before Chicago midnight.
	for i := range 4 {
		from := evening.Add(time.Duration(i) * time.Minute)
		first = append(first, storetest.Heartbeat(id(), student, "fractions", from, from.Add(time.Minute), 45, 15))
	}
	resent := storetest.Heartbeat(id(), student, "fractions", evening, evening.Add(time.Minute), 45, 15)
	first = append(first, resent,
		storetest.Completed(id(), student, "fractions", evening.Add(4*time.Minute), 3, 10, 8))
	for i := range 10 {
		from := next.Add(time.Duration(i) * time.Minute)
		second = append(second, storetest.Heartbeat(id(), student, "decimals", from, from.Add(time.Minute), 60, 0))
	}
	// 13 XP for 10 focused minutes at 4 of 4 is above the 12.5 that the
	// XP rule allows a perfect score, so the run is flagged.
	second = append(second, storetest.Completed(id(), student, "decimals", next.Add(10*time.Minute), 13, 4, 4))
	for i, events := range [][][]byte{first, second} {
		res, err := s.Append(ctx, []*timeback.Batch{storetest.NewBatch(t, "job-"+string(rune('a'+i)),
			storetest.Sensor, events...)})
		if err != nil || res[0].Err != nil {
			t.Fatalf("seed batch %d: %v, %+v", i, err, res)
		}
	}
	return reader
}

func newServer(t *testing.T, src facts.Source) *httptest.Server {
	t.Helper()
	h, err := analytics.New(analytics.Config{Source: src, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range analytics.Patterns {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, body)
		}
	}
	return resp.StatusCode
}

func dailyURL(srv *httptest.Server, q string) string {
	return srv.URL + "/analytics/students/" + url.PathEscape(student) + "/daily?" + q
}

func TestDailyChicago(t *testing.T) {
	srv := newServer(t, seed(t))
	var d analytics.Daily
	if code := get(t, dailyURL(srv, "from=2026-01-27&to=2026-01-28&tz=America/Chicago"), &d); code != 200 {
		t.Fatalf("status %d", code)
	}
	if len(d.Days) != 2 {
		t.Fatalf("got %d days, want 2", len(d.Days))
	}
	want := []struct {
		active, inactive, xp float64
		completions          int
	}{
		{90, 30, 0, 0},   // 23:58 to midnight
		{690, 30, 16, 2}, // after midnight, and the afternoon run
	}
	for i, w := range want {
		got := d.Days[i]
		if got.ActiveSeconds != w.active || got.InactiveSeconds != w.inactive {
			t.Errorf("%s active, inactive = %v, %v; want %v, %v", got.Date, got.ActiveSeconds,
				got.InactiveSeconds, w.active, w.inactive)
		}
		if got.XP != w.xp || got.Completions != w.completions {
			t.Errorf("%s XP, completions = %v, %d; want %v, %d", got.Date, got.XP, got.Completions, w.xp,
				w.completions)
		}
	}
	if a := d.Days[1].Accuracy; a == nil || *a != 12.0/14 {
		t.Errorf("accuracy = %v, want 12/14", a)
	}
	if len(d.Runs) != 2 || d.Runs[0].RunID != "fractions" || d.Runs[0].ActiveSeconds != 180 {
		t.Errorf("runs = %+v, want fractions with 180 active seconds first", d.Runs)
	}
}

func TestDailyKolkata(t *testing.T) {
	srv := newServer(t, seed(t))
	var d analytics.Daily
	get(t, dailyURL(srv, "from=2026-01-28&to=2026-01-29&tz=Asia/Kolkata"), &d)
	// 05:58 UTC is 11:28 in Kolkata; both runs fall on January 28 and
	// 29 there: 20:00 UTC is 01:30 on the 29th.
	if d.Days[0].ActiveSeconds != 180 || d.Days[1].ActiveSeconds != 600 {
		t.Errorf("active = %v, %v; want 180, 600", d.Days[0].ActiveSeconds, d.Days[1].ActiveSeconds)
	}
	if d.TZ != "Asia/Kolkata" {
		t.Errorf("tz = %q, want Asia/Kolkata", d.TZ)
	}
}

func TestWeekly(t *testing.T) {
	srv := newServer(t, seed(t))
	var w analytics.Weekly
	u := srv.URL + "/analytics/students/" + url.PathEscape(student) + "/weekly?from=2026-01-27&to=2026-01-28&tz=America/Chicago"
	if code := get(t, u, &w); code != 200 {
		t.Fatalf("status %d", code)
	}
	if len(w.Weeks) != 1 || w.Weeks[0].Week != "2026-W05" {
		t.Fatalf("weeks = %+v, want 2026-W05", w.Weeks)
	}
	if got := w.Weeks[0]; got.ActiveSeconds != 780 || got.XP != 16 || got.Completions != 2 {
		t.Errorf("week = active %v, XP %v, completions %d; want 780, 16, 2", got.ActiveSeconds, got.XP,
			got.Completions)
	}
}

func TestRun(t *testing.T) {
	srv := newServer(t, seed(t))
	var r analytics.RunReply
	if code := get(t, srv.URL+"/analytics/runs/decimals", &r); code != 200 {
		t.Fatalf("status %d", code)
	}
	if len(r.Runs) != 1 || r.Runs[0].XP != 13 || r.Runs[0].FocusedMinutes != 10 {
		t.Fatalf("runs = %+v, want one with 13 XP over 10 focused minutes", r.Runs)
	}
	if !r.Runs[0].HasFlag(facts.FlagXPAboveFocusedMinutes) {
		t.Errorf("flags = %v, want xp_above_focused_minutes", r.Runs[0].Flags)
	}
	var e struct{ Status, Message string }
	if code := get(t, srv.URL+"/analytics/runs/nope", &e); code != 404 || !strings.Contains(e.Message, `"nope"`) {
		t.Errorf("unknown run: %d %q, want 404 naming the run", code, e.Message)
	}
}

func TestBadInput(t *testing.T) {
	srv := newServer(t, seed(t))
	tests := []struct {
		query, wantPath, wantMsg string
	}{
		{"from=2026-01-27&to=2026-01-28&tz=Mars/Base", "tz", `unknown time zone "Mars/Base"`},
		{"from=2026-02-01&to=2026-01-28", "from", "from 2026-02-01 is after to 2026-01-28"},
		{"from=2016-01-01&to=2026-01-01", "to", "more than the maximum of 371"},
		{"from=yesterday&to=2026-01-28", "from", `"yesterday" is not a date`},
	}
	for _, tt := range tests {
		var e struct {
			Status  string
			Message string
			Errors  []timeback.FieldError
		}
		code := get(t, dailyURL(srv, tt.query), &e)
		if code != 400 {
			t.Errorf("%s: status %d, want 400", tt.query, code)
		}
		if e.Status != "error" || len(e.Errors) == 0 || e.Errors[0].Path != tt.wantPath ||
			!strings.Contains(e.Errors[0].Message, tt.wantMsg) {
			t.Errorf("%s: reply %+v, want %s: %q", tt.query, e, tt.wantPath, tt.wantMsg)
		}
	}
	resp, err := http.Get(srv.URL + "/dashboard/students/" + url.PathEscape(student) + "?tz=Nowhere")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), `unknown time zone &#34;Nowhere&#34;`) {
		t.Errorf("dashboard with a bad tz: %d, body without the error", resp.StatusCode)
	}
}

// downSource fails like a store whose database went away.
type downSource struct{}

var errDown = &timeback.Error{Code: timeback.CodeUnavailable, Message: "postgres: read windows failed",
	Err: errors.New("connection refused")}

func (downSource) Facts(context.Context, facts.Query) ([]facts.Window, []facts.Completion, error) {
	return nil, nil, errDown
}
func (downSource) Students(context.Context, string) ([]string, error) { return nil, errDown }
func (downSource) Sensors(context.Context) ([]string, error)          { return nil, errDown }

func TestSourceUnavailable(t *testing.T) {
	srv := newServer(t, downSource{})
	var e struct{ Message string }
	if code := get(t, dailyURL(srv, "from=2026-01-27&to=2026-01-28"), &e); code != 503 {
		t.Errorf("daily: status %d, want 503", code)
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("dashboard: status %d, want 503", resp.StatusCode)
	}
}

func TestDashboardPages(t *testing.T) {
	srv := newServer(t, seed(t))
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"/", []string{"/dashboard/students/" + url.PathEscape(student), "sensors?sensor="}},
		{"/dashboard/students/" + url.PathEscape(student) + "?from=2026-01-27&to=2026-01-28&tz=America/Chicago",
			[]string{`class="bar xp"`, `data-date="2026-01-28" data-value="16"`,
				`data-category="active" data-value="11.5"`, `class="accuracy"`, `data-run="fractions"`,
				"xp_above_focused_minutes"}},
		{"/dashboard/sensors?sensor=" + url.QueryEscape(storetest.Sensor) + "&from=2026-01-27&to=2026-01-28",
			[]string{`id="students"`, `data-run="decimals"`}},
	} {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d: %s", tt.path, resp.StatusCode, body)
			continue
		}
		if strings.Contains(string(body), "<script") {
			t.Errorf("%s: page has a script, but the dashboard must work without JavaScript", tt.path)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s: page lacks %s", tt.path, w)
			}
		}
	}
	resp, err := http.Get(srv.URL + "/dashboard/students/" + url.PathEscape("https://nobody.example.com/u/0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown student: status %d, want 404", resp.StatusCode)
	}
}

// TestBadToWithoutFrom checks that an invalid to with no from names only
// to, the parameter the request gave.
func TestBadToWithoutFrom(t *testing.T) {
	srv := newServer(t, seed(t))
	var e struct{ Errors []timeback.FieldError }
	if code := get(t, dailyURL(srv, "to=garbage"), &e); code != 400 {
		t.Errorf("status %d, want 400", code)
	}
	if len(e.Errors) != 1 || e.Errors[0].Path != "to" || !strings.Contains(e.Errors[0].Message, `"garbage"`) {
		t.Errorf("errors = %+v, want one for to naming \"garbage\"", e.Errors)
	}
}

// TestWeeklyLongestRange checks that a range of MaxRangeDays, valid for the
// daily reply, is valid for the weekly one too, although widening it to
// whole weeks adds up to 12 days.
func TestWeeklyLongestRange(t *testing.T) {
	srv := newServer(t, seed(t))
	u := srv.URL + "/analytics/students/" + url.PathEscape(student) + "/weekly?from=2025-01-01&to=2026-01-06"
	var w analytics.Weekly
	if code := get(t, u, &w); code != 200 {
		t.Fatalf("status %d, want 200", code)
	}
	if got := w.From.String() + " " + w.To.String(); got != "2024-12-30 2026-01-11" {
		t.Errorf("weeks span %s, want 2024-12-30 2026-01-11", got)
	}
}

// TestUnavailableRetryAfter checks that a 503 carries a Retry-After header,
// as the Caliper endpoint's 503 does.
func TestUnavailableRetryAfter(t *testing.T) {
	srv := newServer(t, downSource{})
	for _, path := range []string{"/analytics/runs/r", "/"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: status %d, Retry-After %q; want 503 with a Retry-After", path, resp.StatusCode,
				resp.Header.Get("Retry-After"))
		}
	}
}

// TestUnknownStudentIs404 checks that the API and the dashboard agree: a
// student without any facts is not found, while a known student gets empty
// days for a range without facts.
func TestUnknownStudentIs404(t *testing.T) {
	srv := newServer(t, seed(t))
	nobody := url.PathEscape("https://nobody.example.com/u/0")
	for _, path := range []string{
		"/analytics/students/" + nobody + "/daily?from=2026-01-27&to=2026-01-28",
		"/analytics/students/" + nobody + "/weekly?from=2026-01-27&to=2026-01-28",
	} {
		var e struct{ Status, Message string }
		code := get(t, srv.URL+path, &e)
		if code != 404 || e.Status != "error" || !strings.Contains(e.Message, "student \"https://nobody.example.com/u/0\" not found") {
			t.Errorf("GET %s = %d %+v, want 404 saying the student is not found", path, code, e)
		}
	}
	resp, err := http.Get(srv.URL + "/dashboard/students/" + nobody)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(body), "not found") {
		t.Errorf("dashboard of an unknown student = %d, want 404 saying not found", resp.StatusCode)
	}

	var d analytics.Daily
	known := url.PathEscape(student)
	if code := get(t, srv.URL+"/analytics/students/"+known+"/daily?from=2025-01-01&to=2025-01-03", &d); code != 200 || len(d.Days) != 3 {
		t.Errorf("known student outside the facts: %d with %d days, want 200 with 3 days", code, len(d.Days))
	}
}

// TestQueryWithSemicolon checks that a parameter which Go's URL parser
// drops, for a semicolon or a bad escape, is an error and not a silent
// default.
func TestQueryWithSemicolon(t *testing.T) {
	srv := newServer(t, seed(t))
	for _, q := range []string{"tz=America/Chicago;x", "from=2026-01-27;&to=2026-01-28", "tz=%zz"} {
		var e struct{ Status, Message string }
		u := srv.URL + "/analytics/students/" + url.PathEscape(student) + "/daily?" + q
		if code := get(t, u, &e); code != 400 || e.Status != "error" {
			t.Errorf("GET daily?%s = %d %+v, want 400", q, code, e)
		}
	}
}

func TestSignOutButton(t *testing.T) {
	src := seed(t)
	for _, tt := range []struct {
		path string
		want bool
	}{{"/dashboard/logout", true}, {"", false}} {
		h, err := analytics.New(analytics.Config{Source: src, Now: func() time.Time { return fixedNow }, SignOutPath: tt.path})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		form := `<form class="signout" method="post" action="/dashboard/logout">`
		if got := strings.Contains(rec.Body.String(), form); got != tt.want {
			t.Errorf("SignOutPath %q: page has the sign-out form = %v, want %v", tt.path, got, tt.want)
		}
	}
}
