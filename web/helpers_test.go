package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/oneroster"
)

// counterValue returns the value of a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}

// gatheredSeries returns how many series of the metric family name reg
// gathers.
func gatheredSeries(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

var (
	testStart = time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	ann       = timeback.User{ID: "https://roster.example.com/ims/oneroster/rostering/v1p2/users/ann",
		Email: "ann@example.com"}
	bob = timeback.User{ID: "https://roster.example.com/ims/oneroster/rostering/v1p2/users/bob",
		Email: "bob@example.com"}
)

// recordSink is the handler's sink in tests, with accessors for the two
// event types.
type recordSink struct{ testkit.RecordSink }

func (s *recordSink) timeSpent() []*timeback.TimeSpent {
	return testkit.EventsOf[*timeback.TimeSpent](&s.RecordSink)
}

func (s *recordSink) completions() []*timeback.ActivityCompleted {
	return testkit.EventsOf[*timeback.ActivityCompleted](&s.RecordSink)
}

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t       testing.TB
	h       *Handler
	sink    *recordSink
	clock   *fakeClock
	runs    *MemoryRuns
	logs    *testkit.LogBuffer
	student string // e-mail sent in X-Student
}

// newHarness returns a handler whose resolver reads the student's e-mail
// from the X-Student header, with ann as the default student.
func newHarness(t testing.TB, edit func(*Config)) *harness {
	t.Helper()
	x := &harness{t: t, sink: &recordSink{}, clock: &fakeClock{now: testStart}, logs: &testkit.LogBuffer{},
		student: ann.Email}
	x.runs = &MemoryRuns{Now: x.clock.Now}
	cfg := Config{
		Resolver: oneroster.Static{Users: []timeback.User{ann, bob}, Email: func(r *http.Request) (string, error) {
			email := r.Header.Get("X-Student")
			if email == "" {
				return "", timeback.Errorf(timeback.CodeUnauthorized, "no student signed in")
			}
			return email, nil
		}},
		Sink:            x.sink,
		Runs:            x.runs,
		AppName:         "Quiz",
		ActivityBaseURL: "https://quiz.example.com/activities/",
		Now:             x.clock.Now,
		Logger:          slog.New(slog.NewTextHandler(x.logs, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	x.h = h
	return x
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode reply %s: %v", r.body, err)
	}
}

func (r response) message() string {
	var e errorBody
	json.Unmarshal(r.body, &e)
	return e.Message
}

// do sends a request with a JSON body (a string is sent as is) as the
// harness's student.
func (x *harness) do(method, path string, body any, headers ...string) response {
	x.t.Helper()
	var reader *bytes.Reader
	switch b := body.(type) {
	case nil:
		reader = bytes.NewReader(nil)
	case string:
		reader = bytes.NewReader([]byte(b))
	default:
		data, err := json.Marshal(b)
		if err != nil {
			x.t.Fatalf("encode body: %v", err)
		}
		reader = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, reader)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if x.student != "" {
		req.Header.Set("X-Student", x.student)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	x.h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (x *harness) post(path string, body any, headers ...string) response {
	x.t.Helper()
	return x.do(http.MethodPost, DefaultPrefix+path, body, headers...)
}

func startBody(runID string) map[string]any {
	b := map[string]any{
		"activity": map[string]any{"id": "Math/g3/lesson-1", "name": "Lesson 1", "subject": "Math"},
		"course":   map[string]any{"id": "MATH-3", "name": "Math 3"},
	}
	if runID != "" {
		b["runId"] = runID
	}
	return b
}

// mustStart starts a run and returns its id.
func (x *harness) mustStart() string {
	x.t.Helper()
	resp := x.post("/activity/start", startBody(""))
	if resp.status != http.StatusOK {
		x.t.Fatalf("start: status %d, body %s", resp.status, resp.body)
	}
	var reply startReply
	resp.decode(x.t, &reply)
	return reply.RunID
}

func window(runID string, seq, activeMs, inactiveMs int64) map[string]any {
	return map[string]any{"runId": runID, "seq": seq, "activeMs": activeMs, "inactiveMs": inactiveMs}
}

// beat sends a heartbeat and returns its reply, failing on a non-200.
func (x *harness) beat(runID string, seq, activeMs, inactiveMs int64) windowReply {
	x.t.Helper()
	resp := x.post("/activity/heartbeat", window(runID, seq, activeMs, inactiveMs))
	if resp.status != http.StatusOK {
		x.t.Fatalf("heartbeat %d: status %d, body %s", seq, resp.status, resp.body)
	}
	var reply windowReply
	resp.decode(x.t, &reply)
	return reply
}

func (x *harness) run(id string) Run {
	x.t.Helper()
	r, ok := x.runs.Get(id)
	if !ok {
		x.t.Fatalf("run %s not stored", id)
	}
	return r
}

func float(v float64) *float64 { return &v }

func itemSeconds(ts *timeback.TimeSpent, category timeback.TimeCategory) float64 {
	for _, it := range ts.Items {
		if it.Type == category {
			return it.Seconds
		}
	}
	return -1
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
