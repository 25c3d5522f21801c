package endpoint

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	timeback "github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/sqlite"
)

var testNow = time.Date(2026, 1, 27, 12, 0, 0, 0, time.UTC)

// completed returns the product page's ActivityEvent with the given id and
// XP.
func completed(id string, xp int) string {
	return testkit.Replace(testkit.ActivityCompleted(id), `"xpEarned", "value": 80`,
		fmt.Sprintf(`"xpEarned", "value": %d`, xp))
}

// timeSpent returns the product page's TimeSpentEvent with the given id,
// of test student n.
func timeSpent(id string, student int) string {
	return testkit.Replace(testkit.TimeSpent(id), "student-123", fmt.Sprintf("student-%d", student))
}

type testServer struct {
	h     *Handler
	store *sqlite.Store
	logs  *testkit.LogBuffer
}

func newTestServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"),
		sqlite.Config{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{store: store, logs: &testkit.LogBuffer{}}
	if cfg.Store == nil {
		cfg.Store = store
	}
	cfg.Logger = slog.New(slog.NewTextHandler(ts.logs, nil))
	cfg.Now = func() time.Time { return testNow }
	jobs := 0
	var mu sync.Mutex
	cfg.NewJobID = func() string {
		mu.Lock()
		defer mu.Unlock()
		jobs++
		return fmt.Sprintf("job-%d", jobs)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.h = h
	t.Cleanup(func() {
		h.Close()
		store.Close()
	})
	return ts
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("reply %d is not a JSON object: %v\n%s", r.status, err, r.body)
	}
	return m
}

func (ts *testServer) do(t *testing.T, method, path, contentType, body string, header ...string) reply {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	return reply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (ts *testServer) post(t *testing.T, body string, header ...string) reply {
	t.Helper()
	return ts.do(t, "POST", "/caliper/event", "application/json", body, header...)
}

func (ts *testServer) get(t *testing.T, path string, header ...string) reply {
	t.Helper()
	return ts.do(t, "GET", path, "", "", header...)
}

func wantStatus(t *testing.T, name string, r reply, want int) {
	t.Helper()
	if r.status != want {
		t.Errorf("%s: status = %d, want %d; body %s", name, r.status, want, r.body)
	}
}

// wantError checks the Timeback error shape and that the message or one of
// the errors names each of the wanted substrings.
func wantError(t *testing.T, name string, r reply, status int, mentions ...string) {
	t.Helper()
	wantStatus(t, name, r, status)
	var body struct {
		Status  string                `json:"status"`
		Message string                `json:"message"`
		Errors  []timeback.FieldError `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Errorf("%s: error body is not JSON: %v\n%s", name, err, r.body)
		return
	}
	if body.Status != "error" || body.Message == "" || body.Errors == nil {
		t.Errorf("%s: body = %s, want {status: error, message, errors}", name, r.body)
	}
	for _, m := range mentions {
		if !strings.Contains(string(r.body), m) {
			t.Errorf("%s: body does not mention %q: %s", name, m, r.body)
		}
	}
}

func TestPostStoresEnvelope(t *testing.T) {
	ts := newTestServer(t, Config{})
	a, b := completed(storetest.EventID(1), 80), timeSpent(storetest.EventID(2), 123)
	r := ts.post(t, testkit.Envelope(a, b))
	wantStatus(t, "post", r, http.StatusOK)
	got := r.json(t)
	if got["jobId"] != "job-1" || got["eventsAccepted"] != 2.0 || got["duplicates"] != 0.0 {
		t.Errorf("reply = %s, want jobId job-1, eventsAccepted 2, duplicates 0", r.body)
	}
	if w, ok := got["warnings"].([]any); !ok || len(w) != 0 {
		t.Errorf("warnings = %v, want an empty list", got["warnings"])
	}

	ev := ts.get(t, "/caliper/events/"+storetest.EventID(1))
	wantStatus(t, "get event", ev, http.StatusOK)
	if string(ev.body) != a {
		t.Errorf("stored event = %s, want the bytes as sent %s", ev.body, a)
	}
	if ct := ev.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("event Content-Type = %q", ct)
	}

	job := ts.get(t, "/jobs/job-1/status")
	wantStatus(t, "job", job, http.StatusOK)
	want := fmt.Sprintf(`{"job":{"id":"job-1","state":"completed","returnValue":{"status":"success",`+
		`"results":[{"allocatedId":"1","externalId":%q},{"allocatedId":"2","externalId":%q}]},"processedOn":%d}}`,
		storetest.EventID(1), storetest.EventID(2), testNow.UnixMilli())
	if strings.TrimSpace(string(job.body)) != want {
		t.Errorf("job status = %s, want %s", job.body, want)
	}
}

func TestPostDuplicateIsCounted(t *testing.T) {
	ts := newTestServer(t, Config{})
	env := testkit.Envelope(completed(storetest.EventID(1), 80), timeSpent(storetest.EventID(2), 1))
	wantStatus(t, "first post", ts.post(t, env), http.StatusOK)

	// The same events, formatted differently, are duplicates.
	var compact bytes.Buffer
	json.Compact(&compact, []byte(env))
	r := ts.post(t, compact.String())
	wantStatus(t, "second post", r, http.StatusOK)
	got := r.json(t)
	if got["eventsAccepted"] != 2.0 || got["duplicates"] != 2.0 {
		t.Errorf("reply = %s, want eventsAccepted 2, duplicates 2", r.body)
	}
	list := ts.get(t, "/caliper/events").json(t)
	if events := list["events"].([]any); len(events) != 2 {
		t.Errorf("listed %d events, want 2", len(events))
	}
}

func TestPostConflictStoresNothing(t *testing.T) {
	ts := newTestServer(t, Config{})
	wantStatus(t, "first post", ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 80))), http.StatusOK)

	r := ts.post(t, testkit.Envelope(timeSpent(storetest.EventID(2), 1), completed(storetest.EventID(1), 81)))
	wantError(t, "conflict", r, http.StatusConflict, storetest.EventID(1), "/data/1/id")
	wantStatus(t, "other event of the envelope", ts.get(t, "/caliper/events/"+storetest.EventID(2)), http.StatusNotFound)
	stored := ts.get(t, "/caliper/events/"+storetest.EventID(1))
	if string(stored.body) != completed(storetest.EventID(1), 80) {
		t.Errorf("stored copy changed to %s", stored.body)
	}
	if !strings.Contains(ts.logs.String(), "reason=conflict") {
		t.Errorf("log has no rejected envelope with reason conflict:\n%s", ts.logs)
	}
}

func TestPostRejectsBadEnvelopes(t *testing.T) {
	ts := newTestServer(t, Config{})
	v1p1 := testkit.EnvelopeOf("https://myapp.example.com/sensor", "http://purl.imsglobal.org/ctx/caliper/v1p1",
		completed(storetest.EventID(9), 1))
	missingActor := strings.Replace(completed(storetest.EventID(8), 1), `"actor"`, `"actorX"`, 1)
	tests := []struct {
		name     string
		body     string
		status   int
		mentions []string
	}{
		{"malformed JSON", `{"sensor": "x",`, http.StatusBadRequest, []string{"JSON"}},
		{"not JSON", "hello", http.StatusBadRequest, nil},
		{"empty body", "", http.StatusBadRequest, []string{"empty"}},
		{"bare event", completed(storetest.EventID(7), 1), http.StatusBadRequest, []string{"envelope"}},
		{"repeated id", testkit.Envelope(completed(storetest.EventID(1), 1), completed(storetest.EventID(1), 1)), http.StatusBadRequest,
			[]string{"/data/1/id", storetest.EventID(1)}},
		{"missing actor", testkit.Envelope(missingActor), http.StatusBadRequest, []string{"/data/0"}},
		{"unsupported dataVersion", v1p1, http.StatusUnprocessableEntity, []string{"/dataVersion"}},
	}
	for _, tt := range tests {
		wantError(t, tt.name, ts.post(t, tt.body), tt.status, tt.mentions...)
	}
	var version struct{ Message string }
	json.Unmarshal(ts.post(t, v1p1).body, &version)
	if n := strings.Count(version.Message, "unsupported dataVersion"); n != 1 {
		t.Errorf("422 message says unsupported dataVersion %d times, want once: %q", n, version.Message)
	}
	if !strings.Contains(version.Message, "v1p1") || !strings.Contains(version.Message, "v1p2") {
		t.Errorf("422 message does not name the sent and the accepted version: %q", version.Message)
	}
	list := ts.get(t, "/caliper/events").json(t)
	if events := list["events"].([]any); len(events) != 0 {
		t.Errorf("stored %d events from rejected envelopes", len(events))
	}
}

func TestPostContentType(t *testing.T) {
	ts := newTestServer(t, Config{})
	tests := []struct {
		contentType string
		status      int
	}{
		{"application/json", http.StatusOK},
		{"application/json; charset=utf-8", http.StatusOK},
		{`Application/JSON; Charset="UTF-8"`, http.StatusOK},
		{"application/json; profile=caliper", http.StatusOK},
		{"", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"application/json; charset=latin1", http.StatusUnsupportedMediaType},
		{"application/json; ;;", http.StatusUnsupportedMediaType},
		{"application/json; charset=", http.StatusUnsupportedMediaType},
	}
	for i, tt := range tests {
		r := ts.do(t, "POST", "/caliper/event", tt.contentType, testkit.Envelope(completed(storetest.EventID(100+i), 1)))
		wantStatus(t, fmt.Sprintf("Content-Type %q", tt.contentType), r, tt.status)
	}
}

func TestPostContentEncoding(t *testing.T) {
	ts := newTestServer(t, Config{})
	r := ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 1)), "Content-Encoding", "gzip")
	wantError(t, "gzip", r, http.StatusUnsupportedMediaType, "gzip")
	r = ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 1)), "Content-Encoding", "identity")
	wantStatus(t, "identity", r, http.StatusOK)
}

func TestPostPayloadLimit(t *testing.T) {
	ts := newTestServer(t, Config{MaxBodyBytes: 2048})
	big := testkit.Envelope(completed(storetest.EventID(1), 1), completed(storetest.EventID(2), 1))
	wantError(t, "declared length", ts.post(t, big), http.StatusRequestEntityTooLarge, "2048")

	// A chunked body has no declared length, so the limit stops the read.
	req := httptest.NewRequest("POST", "/caliper/event", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	wantStatus(t, "chunked", reply{status: rec.Code, body: rec.Body.Bytes()}, http.StatusRequestEntityTooLarge)

	wantStatus(t, "within limit", ts.post(t, testkit.Envelope(completed(storetest.EventID(3), 1))), http.StatusOK)
}

func TestValidateStoresNothing(t *testing.T) {
	ts := newTestServer(t, Config{})
	r := ts.do(t, "POST", "/caliper/event/validate", "application/json", testkit.Envelope(completed(storetest.EventID(1), 1)))
	wantStatus(t, "validate", r, http.StatusOK)
	if got := r.json(t); got["events"] != 1.0 {
		t.Errorf("validate reply = %s, want events 1", r.body)
	}
	wantStatus(t, "event after validate", ts.get(t, "/caliper/events/"+storetest.EventID(1)), http.StatusNotFound)

	bad := ts.do(t, "POST", "/caliper/event/validate", "application/json", `{"data": 1`)
	wantError(t, "validate malformed", bad, http.StatusBadRequest)
	v1p1 := testkit.EnvelopeOf("s", "http://purl.imsglobal.org/ctx/caliper/v1p1", completed(storetest.EventID(2), 1))
	wantStatus(t, "validate v1p1", ts.do(t, "POST", "/caliper/event/validate", "application/json", v1p1),
		http.StatusUnprocessableEntity)
}

func TestBearerAuthentication(t *testing.T) {
	ts := newTestServer(t, Config{Tokens: []string{"first-token", "second-token"}})
	env := testkit.Envelope(completed(storetest.EventID(1), 1))
	tests := []struct {
		name   string
		header []string
		status int
	}{
		{"missing", nil, http.StatusUnauthorized},
		{"wrong", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized},
		{"prefix of a token", []string{"Authorization", "Bearer first"}, http.StatusUnauthorized},
		{"basic scheme", []string{"Authorization", "Basic Zmlyc3QtdG9rZW4="}, http.StatusUnauthorized},
		{"first token", []string{"Authorization", "Bearer first-token"}, http.StatusOK},
		{"second token", []string{"Authorization", "bearer second-token"}, http.StatusOK},
	}
	for _, tt := range tests {
		r := ts.post(t, env, tt.header...)
		wantStatus(t, tt.name, r, tt.status)
		if tt.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tt.name)
		}
	}
	wantStatus(t, "list without token", ts.get(t, "/caliper/events"), http.StatusUnauthorized)
	wantStatus(t, "metrics without token", ts.get(t, "/metrics"), http.StatusUnauthorized)
	wantStatus(t, "healthz without token", ts.get(t, "/healthz"), http.StatusOK)
}

func TestListEventsQuery(t *testing.T) {
	ts := newTestServer(t, Config{})
	for i := range 5 {
		env := testkit.EnvelopeOf(fmt.Sprintf("https://sensor-%d.example.com", i%2), "http://purl.imsglobal.org/ctx/caliper/v1p2",
			timeSpent(storetest.EventID(i+1), i%3))
		wantStatus(t, "post", ts.post(t, env), http.StatusOK)
	}
	ids := func(r reply) []string {
		var body eventsReply
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatalf("list reply: %v\n%s", err, r.body)
		}
		var out []string
		for _, raw := range body.Events {
			var ev struct{ ID string }
			json.Unmarshal(raw, &ev)
			out = append(out, ev.ID)
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{storetest.EventID(1), storetest.EventID(2), storetest.EventID(3), storetest.EventID(4), storetest.EventID(5)}},
		{"?sensor=https://sensor-1.example.com", []string{storetest.EventID(2), storetest.EventID(4)}},
		{"?actorEmail=student-0@example.com", []string{storetest.EventID(1), storetest.EventID(4)}},
		{"?actorId=https://api.example.com/ims/oneroster/rostering/v1p2/users/student-2", []string{storetest.EventID(3)}},
		{"?limit=2&offset=1", []string{storetest.EventID(2), storetest.EventID(3)}},
		{"?startDate=2026-01-27T10:00:15Z&endDate=2026-01-27T10:00:15.000Z", []string{storetest.EventID(1), storetest.EventID(2), storetest.EventID(3), storetest.EventID(4), storetest.EventID(5)}},
		{"?startDate=2026-01-27T10:00:16Z", nil},
		{"?actorId=x%27%20OR%20%271%27%3D%271", nil},
	}
	for _, tt := range tests {
		r := ts.get(t, "/caliper/events"+tt.query)
		wantStatus(t, tt.query, r, http.StatusOK)
		if got := ids(r); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: ids = %v, want %v", tt.query, got, tt.want)
		}
	}

	// Paging with the cursor visits every event once.
	var got []string
	path := "/caliper/events?limit=2"
	for path != "" {
		r := ts.get(t, path)
		got = append(got, ids(r)...)
		var body eventsReply
		json.Unmarshal(r.body, &body)
		path = ""
		if body.Pagination.NextCursor != "" {
			path = "/caliper/events?limit=2&cursor=" + body.Pagination.NextCursor
		}
	}
	if len(got) != 5 {
		t.Errorf("paged ids = %v, want 5 ids", got)
	}
}

func TestListEventsRejectsBadQuery(t *testing.T) {
	ts := newTestServer(t, Config{})
	tests := []struct {
		query   string
		mention string
	}{
		{"?limit=-1", "limit"},
		{"?limit=1000000000", "limit"},
		{"?limit=10%5E9", "limit"},
		{"?limit=ten", "limit"},
		{"?offset=-5", "offset"},
		{"?startDate=yesterday", "startDate"},
		{"?endDate=2026-01-27", "endDate"},
		{"?startDate=2026-01-28T00:00:00Z&endDate=2026-01-27T00:00:00Z", "before"},
		{"?cursor=abc", "cursor"},
		{"?actor=x", "actor"},
		{"?limit=1&limit=2", "once"},
		{"?sensor=%27;DROP%20TABLE%20events;--", "semicolon"},
		{"?actorId=a%zz", "actorId"},
	}
	for _, tt := range tests {
		wantError(t, tt.query, ts.get(t, "/caliper/events"+tt.query), http.StatusBadRequest, tt.mention)
	}
}

func TestGetMissing(t *testing.T) {
	ts := newTestServer(t, Config{})
	wantError(t, "event", ts.get(t, "/caliper/events/urn:uuid:nope"), http.StatusNotFound, "urn:uuid:nope")
	wantError(t, "sql id", ts.get(t, "/caliper/events/x'%20OR%201=1--"), http.StatusNotFound, "OR 1=1")
	wantError(t, "job", ts.get(t, "/jobs/job-x/status"), http.StatusNotFound, "job-x")
	wantError(t, "route", ts.get(t, "/nowhere"), http.StatusNotFound)
	r := ts.do(t, "DELETE", "/caliper/event", "", "")
	wantError(t, "method", r, http.StatusMethodNotAllowed, "POST")
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow = %q, want POST", r.header.Get("Allow"))
	}
}

func TestConfigAndHealth(t *testing.T) {
	ts := newTestServer(t, Config{MaxBodyBytes: 4096})
	r := ts.get(t, "/caliper/config")
	wantStatus(t, "config", r, http.StatusOK)
	got := r.json(t)
	versions, _ := got["caliperSupportedVersions"].([]any)
	if len(versions) != 1 || versions[0] != "http://purl.imsglobal.org/ctx/caliper/v1p2" {
		t.Errorf("caliperSupportedVersions = %v", got["caliperSupportedVersions"])
	}
	if got["caliperMaximumPayloadSize"] != 4096.0 {
		t.Errorf("caliperMaximumPayloadSize = %v, want 4096", got["caliperMaximumPayloadSize"])
	}
	wantStatus(t, "healthz", ts.get(t, "/healthz"), http.StatusOK)
}

func TestMetricsCountIngest(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 1), timeSpent(storetest.EventID(2), 1)))
	ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 1)))
	ts.post(t, `{`)
	ts.do(t, "POST", "/caliper/event", "text/plain", "{}")

	r := ts.get(t, "/metrics")
	wantStatus(t, "metrics", r, http.StatusOK)
	for _, want := range []string{
		"timeback_events_stored_total 2",
		"timeback_events_duplicate_total 1",
		`timeback_envelopes_rejected_total{reason="malformed_json"} 1`,
		`timeback_envelopes_rejected_total{reason="unsupported_media_type"} 1`,
		`timeback_http_requests_total{route="POST /caliper/event",status="200"} 2`,
		`timeback_http_requests_total{route="POST /caliper/event",status="400"} 1`,
		"timeback_commit_duration_seconds_count 2",
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// failingStore is an event store whose commits fail, as with a full disk.
type failingStore struct {
	timeback.EventStore
}

func (failingStore) Append(ctx context.Context, b []*timeback.Batch) ([]timeback.AppendResult, error) {
	return nil, &timeback.Error{Code: timeback.CodeUnavailable, Message: "sqlite: commit failed",
		Err: errors.New("disk I/O error")}
}

func TestPostStoreFailureIs503(t *testing.T) {
	ts := newTestServer(t, Config{Store: failingStore{}})
	r := ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 1)))
	wantError(t, "post", r, http.StatusServiceUnavailable, "nothing was stored")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if strings.Contains(string(r.body), "disk I/O") {
		t.Errorf("reply shows the internal cause: %s", r.body)
	}
	if !strings.Contains(ts.logs.String(), "disk I/O error") {
		t.Errorf("log lacks the cause:\n%s", ts.logs)
	}
}

func TestPostAfterCloseIs503(t *testing.T) {
	ts := newTestServer(t, Config{})
	ts.h.Close()
	wantStatus(t, "post after close", ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 1))), http.StatusServiceUnavailable)
}

func TestRejectLogIsRateLimited(t *testing.T) {
	ts := newTestServer(t, Config{RejectLogRate: 1})
	for range 20 {
		ts.post(t, `{`)
	}
	if n := strings.Count(ts.logs.String(), "envelope rejected"); n < 1 || n > 2 {
		t.Errorf("logged %d rejections of 20 at a rate of 1/s and a frozen clock, want 1 or 2", n)
	}
}

func TestConcurrentPostsOfOneEnvelope(t *testing.T) {
	ts := newTestServer(t, Config{})
	env := testkit.Envelope(completed(storetest.EventID(1), 1), timeSpent(storetest.EventID(2), 1))
	const n = 50
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i] = ts.post(t, env) })
	}
	wg.Wait()
	duplicates := 0
	for i, r := range replies {
		wantStatus(t, fmt.Sprintf("post %d", i), r, http.StatusOK)
		if r.status == http.StatusOK {
			duplicates += int(r.json(t)["duplicates"].(float64))
		}
	}
	if duplicates != 2*(n-1) {
		t.Errorf("duplicates = %d, want %d", duplicates, 2*(n-1))
	}
	list := ts.get(t, "/caliper/events").json(t)
	if events := list["events"].([]any); len(events) != 2 {
		t.Errorf("stored %d events, want 2", len(events))
	}
}

// TestBodyEndsEarly and TestSlowClient run a real server, because only a
// connection can stop early or stall.
func startHTTP(t *testing.T, h http.Handler, readTimeout time.Duration) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// rawRequest writes request on a new connection and reads the reply. With
// closeWrite the client half-closes the connection after the request, as a
// client that stops sending does.
func rawRequest(t *testing.T, addr, request string, closeWrite bool) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, request)
	if closeWrite {
		conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestBodyEndsEarly(t *testing.T) {
	ts := newTestServer(t, Config{})
	addr := startHTTP(t, ts.h, 5*time.Second)
	body := testkit.Envelope(completed(storetest.EventID(1), 1))
	req := fmt.Sprintf("POST /caliper/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n%s", len(body)+100, body)
	status, text := rawRequest(t, addr, req, true)
	if status != http.StatusBadRequest || !strings.Contains(text, "ended") {
		t.Errorf("status %d, body %s; want 400 naming the early end", status, text)
	}
	wantStatus(t, "event of the cut body", ts.get(t, "/caliper/events/"+storetest.EventID(1)), http.StatusNotFound)

	chunked := "POST /caliper/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"sensor\":\"abcde"
	status, text = rawRequest(t, addr, chunked, true)
	if status != http.StatusBadRequest || !strings.Contains(text, "before its last chunk") {
		t.Errorf("chunked: status %d, body %s; want 400 naming the missing last chunk", status, text)
	}
}

func TestSlowClientTimesOut(t *testing.T) {
	ts := newTestServer(t, Config{})
	addr := startHTTP(t, ts.h, 300*time.Millisecond)
	body := testkit.Envelope(completed(storetest.EventID(1), 1))
	headers := fmt.Sprintf("POST /caliper/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n", len(body))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, headers)
	// One byte every 100 ms cannot finish the body within 300 ms.
	for i := range 5 {
		conn.Write([]byte{body[i]})
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no reply to the slow client: %v", err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(text), "timed out") {
		t.Errorf("status %d, body %s; want 408 naming the timeout", resp.StatusCode, text)
	}

	// The server keeps serving other clients.
	ok := fmt.Sprintf("%s%s", headers, body)
	if status, text := rawRequest(t, addr, ok, false); status != http.StatusOK {
		t.Errorf("next client: status %d, body %s", status, text)
	}
}

// brokenFactsStore is an event store whose every batch fails in its fact
// writer, a failure that a retry meets again.
type brokenFactsStore struct {
	timeback.EventStore
}

func (brokenFactsStore) Append(ctx context.Context, b []*timeback.Batch) ([]timeback.AppendResult, error) {
	res := make([]timeback.AppendResult, len(b))
	for i := range res {
		res[i].Err = &timeback.Error{Code: timeback.CodeInternal, Message: "sqlite: derive facts failed",
			Err: errors.New("facts: unknown subject")}
	}
	return res, nil
}

func TestPostFactFailureIs500(t *testing.T) {
	ts := newTestServer(t, Config{Store: brokenFactsStore{}})
	r := ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 1)))
	wantError(t, "post", r, http.StatusInternalServerError, "nothing was stored")
	if strings.Contains(string(r.body), "unknown subject") {
		t.Errorf("reply shows the internal cause: %s", r.body)
	}
	if !strings.Contains(ts.logs.String(), "reason=internal") {
		t.Errorf("log lacks the rejection:\n%s", ts.logs)
	}
}

func TestPostDiskFullIs503(t *testing.T) {
	ts := newTestServer(t, Config{})
	wantStatus(t, "first post", ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 1))), http.StatusOK)

	// One connection, capped at the pages the file has now, makes the next
	// commit fail as a full disk would.
	db := ts.store.DB()
	db.SetMaxOpenConns(1)
	var pages int
	if err := db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	var events []string
	for i := range 40 {
		events = append(events, timeSpent(storetest.EventID(100+i), i))
	}
	r := ts.post(t, testkit.Envelope(events...))
	wantError(t, "post on a full database", r, http.StatusServiceUnavailable, "nothing was stored")
	wantStatus(t, "first event of the failed envelope", ts.get(t, "/caliper/events/"+storetest.EventID(100)), http.StatusNotFound)
	if !strings.Contains(ts.logs.String(), "full") {
		t.Errorf("log lacks the cause:\n%s", ts.logs)
	}

	if _, err := db.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "post after space is back", ts.post(t, testkit.Envelope(events...)), http.StatusOK)
	wantStatus(t, "event after space is back", ts.get(t, "/caliper/events/"+storetest.EventID(100)), http.StatusOK)
}

func TestCommitFailureLogCountsEvents(t *testing.T) {
	ts := newTestServer(t, Config{Store: failingStore{}})
	var events []string
	for i := range 10 {
		events = append(events, completed(storetest.EventID(i+1), 1))
	}
	ts.post(t, testkit.Envelope(events...))
	var line string
	for l := range strings.Lines(ts.logs.String()) {
		if strings.Contains(l, `msg="commit failed"`) {
			line = l
		}
	}
	for _, want := range []string{"envelopes=1", "events=10"} {
		if !strings.Contains(line, want) {
			t.Errorf("commit failure log lacks %s: %q", want, line)
		}
	}
}
