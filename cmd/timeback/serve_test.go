package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timeback/timeback-go/internal/fixtures"
	"github.com/timeback/timeback-go/internal/testbin"
	"github.com/timeback/timeback-go/internal/testkit"
)

func TestParseServeFlags(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(tokenFile, []byte("# comment\n\n  file-token  \nsecond\n"), 0o600)
	emptyFile := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(emptyFile, []byte("# only a comment\n"), 0o600)

	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(*serveConfig) string
	}{
		{name: "defaults", args: nil, check: func(c *serveConfig) string {
			if c.addr != "127.0.0.1:8080" || c.db != "timeback.db" || c.maxBody != 1<<20 {
				return fmt.Sprintf("addr, db, maxBody = %q, %q, %d", c.addr, c.db, c.maxBody)
			}
			return ""
		}},
		{name: "sqlite prefix", args: []string{"--db", "sqlite:/tmp/x.db"}, check: func(c *serveConfig) string {
			if c.db != "/tmp/x.db" {
				return "db = " + c.db
			}
			return ""
		}},
		{name: "repeated tokens and file", args: []string{"--token", "a", "--token", "b", "--token-file", tokenFile,
			"--addr", "0.0.0.0:9000"}, check: func(c *serveConfig) string {
			if fmt.Sprint(c.tokens) != "[a b file-token second]" {
				return fmt.Sprint("tokens = ", c.tokens)
			}
			return ""
		}},
		{name: "no tokens off loopback", args: []string{"--addr", "0.0.0.0:8080"}, wantErr: "without authentication"},
		{name: "no tokens on all interfaces", args: []string{"--addr", ":8080"}, wantErr: "without authentication"},
		{name: "localhost", args: []string{"--addr", "localhost:0"}},
		{name: "ipv6 loopback", args: []string{"--addr", "[::1]:0"}},
		{name: "empty token", args: []string{"--token", " "}, wantErr: "empty token"},
		{name: "missing token file", args: []string{"--token-file", "/nonexistent/tokens"}, wantErr: "token-file"},
		{name: "token file without token", args: []string{"--token-file", emptyFile}, wantErr: "contains no token"},
		{name: "zero max body", args: []string{"--max-body", "0"}, wantErr: "--max-body 0"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "--log-format"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantErr: "--log-level"},
		{name: "zero timeout", args: []string{"--read-timeout", "0s"}, wantErr: "--read-timeout"},
		{name: "postgres url", args: []string{"--db", "postgres://u:secret@127.0.0.1/x", "--facts=false"},
			check: func(c *serveConfig) string {
				if !c.postgres || !c.facts || c.db != "postgres://u:secret@127.0.0.1/x" {
					return fmt.Sprintf("postgres, facts, db = %v, %v, %q", c.postgres, c.facts, c.db)
				}
				return ""
			}},
		{name: "facts off", args: []string{"--facts=false"}, check: func(c *serveConfig) string {
			if c.postgres || c.facts {
				return fmt.Sprintf("postgres, facts = %v, %v", c.postgres, c.facts)
			}
			return ""
		}},
		{name: "empty sqlite path", args: []string{"--db", "sqlite:"}, wantErr: "missing --db"},
		{name: "argument", args: []string{"extra"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		cfg, err := parseServeFlags(tt.args, io.Discard)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.wantErr)
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr == "" && tt.check != nil:
			if msg := tt.check(cfg); msg != "" {
				t.Errorf("%s: %s", tt.name, msg)
			}
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the password: %v", tt.name, err)
		}
	}
}

func TestRunServeUsageErrors(t *testing.T) {
	var stderr bytes.Buffer
	code := run(t.Context(), env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr},
		[]string{"serve", "--addr", "0.0.0.0:1"})
	if code != exitUsage {
		t.Errorf("exit status = %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "--token") {
		t.Errorf("stderr does not name --token: %s", stderr.String())
	}
}

func serveID(worker, n int) string {
	return fmt.Sprintf("urn:uuid:00000000-0000-4000-8%03d-%012d", worker, n)
}

// serveClient bounds every request of these tests, so that a server that
// stops replying fails the test instead of hanging it.
var serveClient = &http.Client{Timeout: 30 * time.Second}

// receiveIDs waits for the ids that postStream returns, failing the test
// when the workers do not stop within a minute.
func receiveIDs(t *testing.T, result <-chan []string) []string {
	t.Helper()
	select {
	case ids := <-result:
		return ids
	case <-time.After(time.Minute):
		t.Fatal("the posting workers did not stop within a minute of the server's end")
		return nil
	}
}

type serveReply struct {
	status int
	body   []byte
}

func servePost(t *testing.T, client *http.Client, base, path, body string, header ...string) (serveReply, error) {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return serveReply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return serveReply{status: resp.StatusCode, body: b}, err
}

func serveGet(t *testing.T, base, path string, header ...string) serveReply {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := serveClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return serveReply{status: resp.StatusCode, body: b}
}

func TestServeProductExamples(t *testing.T) {
	base := testbin.StartServer(t, "--token", "e2e-token")
	auth := []string{"Authorization", "Bearer e2e-token"}
	completed := testkit.ActivityCompleted(testkit.CompletedID)
	spent := testkit.TimeSpent(testkit.TimeSpentID)

	r, err := servePost(t, serveClient, base, "/caliper/event", testkit.Envelope(completed, spent), auth...)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusOK {
		t.Fatalf("POST: status %d, body %s", r.status, r.body)
	}
	var accepted struct {
		JobID          string `json:"jobId"`
		EventsAccepted int    `json:"eventsAccepted"`
		Duplicates     int    `json:"duplicates"`
	}
	json.Unmarshal(r.body, &accepted)
	if accepted.JobID == "" || accepted.EventsAccepted != 2 || accepted.Duplicates != 0 {
		t.Errorf("reply = %s, want a jobId, eventsAccepted 2, duplicates 0", r.body)
	}

	for id, want := range map[string]string{testkit.CompletedID: completed, testkit.TimeSpentID: spent} {
		got := serveGet(t, base, "/caliper/events/"+id, auth...)
		if got.status != http.StatusOK || string(got.body) != want {
			t.Errorf("GET %s: status %d, body %s; want the bytes as sent", id, got.status, got.body)
		}
	}
	job := serveGet(t, base, "/jobs/"+accepted.JobID+"/status", auth...)
	if job.status != http.StatusOK || !strings.Contains(string(job.body), `"state":"completed"`) ||
		!strings.Contains(string(job.body), testkit.TimeSpentID) {
		t.Errorf("job status: %d %s", job.status, job.body)
	}
	if r := serveGet(t, base, "/caliper/events"); r.status != http.StatusUnauthorized {
		t.Errorf("list without token: status %d, want 401", r.status)
	}
}

func TestServeEnvelopeFixtures(t *testing.T) {
	files := fixtures.Glob(t, "v1p2/caliperEnvelope*.json")
	// Every fixture gets a server of its own, because the fixtures reuse
	// event ids with different content, which one store rejects as a
	// conflict.
	for _, f := range files {
		base := testbin.StartServer(t)
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := servePost(t, serveClient, base, "/caliper/event", string(body))
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK {
			t.Errorf("%s: status %d, body %s", filepath.Base(f), r.status, r.body)
		}
	}
}

func TestServeRejectsInvalidFixtures(t *testing.T) {
	files := fixtures.Glob(t, "v1p2/invalid/*.json")
	base := testbin.StartServer(t)
	for _, f := range files {
		item, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := servePost(t, serveClient, base, "/caliper/event", testkit.Envelope(string(item)))
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400; body %s", filepath.Base(f), r.status, r.body)
		}
	}
	list := serveGet(t, base, "/caliper/events")
	if !strings.Contains(string(list.body), `"events":[]`) {
		t.Errorf("invalid fixtures stored events: %s", list.body)
	}
}

func TestServeConcurrentPostsOfOneEnvelope(t *testing.T) {
	base := testbin.StartServer(t)
	env := testkit.Envelope(testkit.ActivityCompleted(testkit.CompletedID),
		testkit.TimeSpent(testkit.TimeSpentID))
	const n = 50
	replies := make([]serveReply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i], errs[i] = servePost(t, serveClient, base, "/caliper/event", env) })
	}
	wg.Wait()

	duplicates := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("post %d: %v", i, errs[i])
		}
		if replies[i].status != http.StatusOK {
			t.Errorf("post %d: status %d, body %s", i, replies[i].status, replies[i].body)
			continue
		}
		var r struct{ Duplicates int }
		json.Unmarshal(replies[i].body, &r)
		duplicates += r.Duplicates
	}
	if duplicates != 2*(n-1) {
		t.Errorf("duplicates = %d, want %d: exactly one post stores the two events", duplicates, 2*(n-1))
	}
	var list struct{ Events []struct{ ID string } }
	json.Unmarshal(serveGet(t, base, "/caliper/events").body, &list)
	if len(list.Events) != 2 {
		ids := make([]string, 0, 3)
		for _, ev := range list.Events[:min(3, len(list.Events))] {
			ids = append(ids, ev.ID)
		}
		t.Errorf("stored %d events, want 2; the first are %v", len(list.Events), ids)
	}
}

// postStream posts envelopes of three new events from several workers until
// stop is closed, and returns the ids of every envelope that got a 200.
func postStream(t *testing.T, base string, workers int, stop <-chan struct{}, accepted *atomic.Int64) []string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	var stored []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ids := []string{serveID(w, 3*n), serveID(w, 3*n+1), serveID(w, 3*n+2)}
				env := testkit.Envelope(testkit.TimeSpent(ids[0]),
					testkit.TimeSpent(ids[1]), testkit.ActivityCompleted(ids[2]))
				r, err := servePost(t, client, base, "/caliper/event", env)
				if err != nil {
					return // the server is gone
				}
				if r.status == http.StatusOK {
					mu.Lock()
					stored = append(stored, ids...)
					mu.Unlock()
					accepted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return stored
}

// streamUntil starts postStream against base with four workers and waits
// until the server has accepted n envelopes or 20 seconds have passed. The
// function it returns stops the stream and returns the ids of the events
// the server accepted.
func streamUntil(t *testing.T, base string, n int64) (finish func() []string) {
	t.Helper()
	var accepted atomic.Int64
	stop := make(chan struct{})
	result := make(chan []string)
	go func() { result <- postStream(t, base, 4, stop, &accepted) }()
	deadline := time.Now().Add(20 * time.Second)
	for accepted.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return func() []string {
		close(stop)
		return receiveIDs(t, result)
	}
}

func TestServeKeepsAcceptedEventsAfterSIGKILL(t *testing.T) {
	s := testbin.Start(t)
	// Kill the server in the middle of the stream, once it has accepted
	// enough envelopes that commits are certainly in flight.
	finish := streamUntil(t, s.URL, 60)
	s.Kill(t)
	ids := finish()
	if len(ids) == 0 {
		t.Fatal("no envelope was accepted before the kill")
	}

	restarted := testbin.Start(t, "--db", s.DB)
	missing := 0
	for _, id := range ids {
		if r := serveGet(t, restarted.URL, "/caliper/events/"+id); r.status != http.StatusOK {
			missing++
			if missing <= 5 {
				t.Errorf("event %s got a 200 before the kill but is not stored: status %d", id, r.status)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d accepted events missing after restart", missing, len(ids))
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	s := testbin.Start(t)
	finish := streamUntil(t, s.URL, 20)
	if err := s.Stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	ids := finish()
	for _, want := range []string{`msg="stopping`, "msg=stopped"} {
		if !strings.Contains(s.Log(), want) {
			t.Errorf("log lacks %q:\n%s", want, s.Log())
		}
	}

	restarted := testbin.Start(t, "--db", s.DB)
	for _, id := range ids {
		if r := serveGet(t, restarted.URL, "/caliper/events/"+id); r.status != http.StatusOK {
			t.Errorf("event %s got a 200 before shutdown but is not stored: status %d", id, r.status)
		}
	}
}

func TestServeSurvivesBadInput(t *testing.T) {
	s := testbin.Start(t, "--max-body", "4096", "--read-timeout", "1s")
	valid := testkit.Envelope(testkit.TimeSpent(testkit.TimeSpentID))
	big := testkit.Envelope(testkit.TimeSpent(serveID(1, 1)), testkit.TimeSpent(serveID(1, 2)),
		testkit.TimeSpent(serveID(1, 3)), testkit.TimeSpent(serveID(1, 4)))

	// A reader without a length makes the client send a chunked body.
	req, _ := http.NewRequest("POST", s.URL+"/caliper/event", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := serveClient.Do(req)
	if err != nil {
		t.Fatalf("chunked post: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the limit: status %d, want 413", resp.StatusCode)
	}

	for _, tt := range []struct {
		name        string
		contentType string
		want        int
	}{
		{"charset latin1", "application/json; charset=latin1", http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"broken parameters", "application/json;;=", http.StatusUnsupportedMediaType},
	} {
		req, _ := http.NewRequest("POST", s.URL+"/caliper/event", strings.NewReader(valid))
		req.Header.Set("Content-Type", tt.contentType)
		resp, err := serveClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}

	for _, tt := range []struct {
		path string
		want int
	}{
		{"/caliper/events?limit=-1", http.StatusBadRequest},
		{"/caliper/events?limit=1000000000", http.StatusBadRequest},
		{"/caliper/events?limit=10%5E9", http.StatusBadRequest},
		{"/caliper/events?startDate=27%2F01%2F2026", http.StatusBadRequest},
		{"/caliper/events?endDate=2026-01-27%2010:00:00", http.StatusBadRequest},
		{"/caliper/events/urn:uuid:1%27%3B%20DROP%20TABLE%20events%3B--", http.StatusNotFound},
		{"/caliper/events?actorId=%27%20OR%201%3D1--", http.StatusOK},
		{"/jobs/%27%20OR%20%271%27%3D%271/status", http.StatusNotFound},
	} {
		if r := serveGet(t, s.URL, tt.path); r.status != tt.want {
			t.Errorf("GET %s: status %d, want %d; body %s", tt.path, r.status, tt.want, r.body)
		}
	}

	// A body that stops before its declared length, and a client that
	// sends one byte every 300 ms against a read timeout of 1 s.
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /caliper/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n%s", len(valid)+50, valid)
	conn.(*net.TCPConn).CloseWrite()
	if status := readStatus(t, conn); status != http.StatusBadRequest {
		t.Errorf("body that ends early: status %d, want 400", status)
	}
	conn.Close()

	slow, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /caliper/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n", len(valid))
	for i := range 5 {
		if _, err := slow.Write([]byte{valid[i]}); err != nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if status := readStatus(t, slow); status != http.StatusRequestTimeout {
		t.Errorf("slow client: status %d, want 408", status)
	}

	// The server still serves.
	if r := serveGet(t, s.URL, "/healthz"); r.status != http.StatusOK {
		t.Errorf("healthz after bad input: status %d", r.status)
	}
	r, err := servePost(t, serveClient, s.URL, "/caliper/event", valid)
	if err != nil || r.status != http.StatusOK {
		t.Errorf("valid post after bad input: %v, status %d, body %s", err, r.status, r.body)
	}
	for _, want := range []string{"reason=too_large", "reason=unsupported_media_type", "reason=bad_body", "reason=timeout"} {
		if !strings.Contains(s.Log(), want) {
			t.Errorf("log lacks a rejection with %s", want)
		}
	}
}

func readStatus(t *testing.T, conn net.Conn) int {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Errorf("read reply: %v", err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// serveDay is the part of an analytics day that the facts tests check.
type serveDay struct {
	Date          string  `json:"date"`
	XP            float64 `json:"xp"`
	ActiveSeconds float64 `json:"activeSeconds"`
	Completions   int     `json:"completions"`
}

func serveDaily(t *testing.T, base string, header ...string) []serveDay {
	t.Helper()
	student := url.PathEscape("https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123")
	r := serveGet(t, base, "/analytics/students/"+student+"/daily?from=2026-01-27&to=2026-01-27&tz=UTC", header...)
	if r.status != http.StatusOK {
		t.Fatalf("daily facts: status %d, body %s", r.status, r.body)
	}
	var d struct{ Days []serveDay }
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatalf("daily facts: %v in %s", err, r.body)
	}
	return d.Days
}

func TestServeKeepsFactsOnIngest(t *testing.T) {
	s := testbin.Start(t, "--token", "facts-token")
	auth := []string{"Authorization", "Bearer facts-token"}
	env := testkit.Envelope(testkit.TimeSpent(testkit.TimeSpentID), testkit.ActivityCompleted(testkit.CompletedID))
	for i := range 2 {
		r, err := servePost(t, serveClient, s.URL, "/caliper/event", env, auth...)
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("post %d: %v, status %d, body %s", i, err, r.status, r.body)
		}
	}

	days := serveDaily(t, s.URL, auth...)
	want := []serveDay{{Date: "2026-01-27", XP: 80, ActiveSeconds: 15, Completions: 1}}
	if fmt.Sprint(days) != fmt.Sprint(want) {
		t.Errorf("days = %+v, want %+v: the duplicate post must not count twice", days, want)
	}
	if r := serveGet(t, s.URL, "/analytics/students/x/daily"); r.status != http.StatusUnauthorized {
		t.Errorf("analytics without token: status %d, want 401", r.status)
	}
}

func TestServeWithoutFacts(t *testing.T) {
	base := testbin.StartServer(t, "--facts=false")
	if r := serveGet(t, base, "/analytics/students/x/daily"); r.status != http.StatusNotFound {
		t.Errorf("analytics with --facts=false: status %d, want 404", r.status)
	}
}

// TestServePostgres runs the endpoint on PostgreSQL in a schema of its own.
func TestServePostgres(t *testing.T) {
	s := testbin.Start(t, "--db", postgresServeURL(t))

	env := testkit.Envelope(testkit.TimeSpent(testkit.TimeSpentID), testkit.ActivityCompleted(testkit.CompletedID))
	r, err := servePost(t, serveClient, s.URL, "/caliper/event", env)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("post: %v, status %d, body %s", err, r.status, r.body)
	}
	got := serveGet(t, s.URL, "/caliper/events/"+testkit.CompletedID)
	if got.status != http.StatusOK || string(got.body) != testkit.ActivityCompleted(testkit.CompletedID) {
		t.Errorf("stored event: status %d, body %s", got.status, got.body)
	}
	days := serveDaily(t, s.URL)
	if len(days) != 1 || days[0].ActiveSeconds != 15 {
		t.Errorf("days = %+v, want one day with 15 active seconds", days)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:secret@db.example.com/x", "postgres://u:xxxxx@db.example.com/x"},
		{"postgres://db.example.com/x?user=u&password=secret", "postgres://db.example.com/x?password=xxxxx&user=u"},
		{"postgres://u@db.example.com/x", "postgres://u@db.example.com/x"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestServeDashboardLogin signs a browser-like client in to the dashboard
// of a server with tokens: redirected to the form, then back with a cookie.
func TestServeDashboardLogin(t *testing.T) {
	s := testbin.Start(t, "--token", "school-token")
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := get("/")
	if resp.Request.URL.Path != "/dashboard/login" || !strings.Contains(body, `name="token"`) {
		t.Fatalf("dashboard without login ended at %s (%d), want the login form:\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	post := func(token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/dashboard/login",
			strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", s.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatalf("POST /dashboard/login: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := post("wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a wrong token: status %d, want 401", resp.StatusCode)
	}
	if resp := post("school-token"); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("login ended at %s with %d, want the dashboard with 200", resp.Request.URL, resp.StatusCode)
	}
	if resp, body := get("/"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/dashboard/logout"`) {
		t.Errorf("dashboard after login: status %d, want 200 with a sign-out form; body %.300s", resp.StatusCode, body)
	}

	// The cookie does not post events.
	u, _ := url.Parse(s.URL)
	var cookie []string
	for _, c := range jar.Cookies(u) {
		cookie = append(cookie, "Cookie", c.Name+"="+c.Value)
	}
	env := testkit.Envelope(testkit.TimeSpent(testkit.TimeSpentID))
	if r, err := servePost(t, serveClient, s.URL, "/caliper/event", env, cookie...); err != nil ||
		r.status != http.StatusUnauthorized {
		t.Errorf("post with only the session cookie: %v, status %d, want 401", err, r.status)
	}
}

// postgresServeURL returns the TIMEBACK_TEST_POSTGRES URL with a schema of
// the test's own as search_path, dropped when the test ends. It skips the
// test without the variable.
func postgresServeURL(t *testing.T) string {
	t.Helper()
	dbURL := testkit.PostgresURL(t)
	return testkit.SearchPathURL(t, dbURL, testkit.CreatePostgresSchema(t, dbURL))
}

// TestServeMixedEnvelopeKeepsFacts posts an envelope that mixes a Caliper
// event of another profile, with an IRI actor, and TimebackProfile events,
// and checks that SQLite and PostgreSQL store all of them with the facts of
// the TimebackProfile ones.
func TestServeMixedEnvelopeKeepsFacts(t *testing.T) {
	other, err := os.ReadFile(filepath.Join(fixtures.Dir(t), "v1p2", "caliperEventNavigationNavigatedToWebPageThinned.json"))
	if err != nil {
		t.Fatal(err)
	}
	env := testkit.Envelope(string(other), testkit.TimeSpent(testkit.TimeSpentID),
		testkit.ActivityCompleted(testkit.CompletedID))
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			var args []string
			if db == "postgres" {
				args = []string{"--db", postgresServeURL(t)}
			}
			s := testbin.Start(t, args...)
			r, err := servePost(t, serveClient, s.URL, "/caliper/event", env)
			if err != nil || r.status != http.StatusOK {
				t.Fatalf("post: %v, status %d, body %s", err, r.status, r.body)
			}
			for _, id := range []string{"urn:uuid:71657137-8e6e-44f8-8499-e1c3df6810d2", testkit.TimeSpentID, testkit.CompletedID} {
				if got := serveGet(t, s.URL, "/caliper/events/"+id); got.status != http.StatusOK {
					t.Errorf("event %s: status %d, want 200", id, got.status)
				}
			}
			want := []serveDay{{Date: "2026-01-27", XP: 80, ActiveSeconds: 15, Completions: 1}}
			if days := serveDaily(t, s.URL); fmt.Sprint(days) != fmt.Sprint(want) {
				t.Errorf("days = %+v, want %+v", days, want)
			}
		})
	}
}
