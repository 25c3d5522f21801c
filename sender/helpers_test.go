package sender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/sender"
)

// fakeClock is a Clock whose timers fire at once and move the time forward
// by their duration, so that backoff and linger waits take no wall time. It
// records every wait.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// reply is what a scripted endpoint returns for one request.
type reply struct {
	status int
	header http.Header
	body   string
	// store stores the envelope's events before replying, as a server
	// does that commits and then fails to send its reply.
	store bool
	// reset stores nothing, unless store is set, and closes the connection
	// without a reply.
	reset bool
	// hang waits until the client gives up on the request.
	hang bool
}

// endpoint is a scripted Caliper endpoint. It stores events by id and
// counts every copy it receives.
type endpoint struct {
	t      *testing.T
	server *httptest.Server
	// script returns the reply to request n (counted from 1) carrying
	// events; nil means 200 and store.
	script func(n int, r *http.Request, events []json.RawMessage) reply

	mu        sync.Mutex
	requests  int
	envelopes []map[string]json.RawMessage
	stored    map[string]json.RawMessage
	copies    map[string]int
	sizes     []int // events per request
}

func newEndpoint(t *testing.T, script func(n int, r *http.Request, events []json.RawMessage) reply) *endpoint {
	t.Helper()
	e := &endpoint{t: t, script: script, stored: map[string]json.RawMessage{}, copies: map[string]int{}}
	e.server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.server.Close)
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/caliper/event" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		e.t.Errorf("endpoint: envelope is not JSON: %v", err)
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	var events []json.RawMessage
	if err := json.Unmarshal(env["data"], &events); err != nil {
		e.t.Errorf("endpoint: envelope data is not an array: %v", err)
	}

	e.mu.Lock()
	e.requests++
	n := e.requests
	e.envelopes = append(e.envelopes, env)
	e.sizes = append(e.sizes, len(events))
	e.mu.Unlock()

	rep := reply{status: http.StatusOK, store: true}
	if e.script != nil {
		rep = e.script(n, r, events)
	}
	if rep.store {
		e.storeEvents(events)
	}
	switch {
	case rep.hang:
		<-r.Context().Done()
		return
	case rep.reset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			e.t.Errorf("endpoint: hijack: %v", err)
			return
		}
		conn.Close()
		return
	}
	for k, vs := range rep.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	if rep.body != "" {
		io.WriteString(w, rep.body)
	} else if rep.status == http.StatusOK {
		fmt.Fprintf(w, `{"jobId":"job-%d","eventsAccepted":%d}`, n, len(events))
	}
}

func (e *endpoint) storeEvents(events []json.RawMessage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range events {
		var head struct {
			ID string `json:"id"`
		}
		json.Unmarshal(ev, &head)
		e.copies[head.ID]++
		if _, ok := e.stored[head.ID]; !ok {
			e.stored[head.ID] = ev
		}
	}
}

func (e *endpoint) URL() string { return e.server.URL }

func (e *endpoint) Stored() map[string]json.RawMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]json.RawMessage, len(e.stored))
	for k, v := range e.stored {
		out[k] = v
	}
	return out
}

func (e *endpoint) Copies(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.copies[id]
}

func (e *endpoint) Requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests
}

func (e *endpoint) Sizes() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int(nil), e.sizes...)
}

// newEvent returns the product page's TimeSpentEvent with the id
// storetest.EventID(i).
func newEvent(t testing.TB, i int) *timeback.TimeSpent {
	t.Helper()
	ev, err := parseTimeSpent(i)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// parseTimeSpent returns the product page's TimeSpentEvent with the id
// storetest.EventID(i), for code that has no testing.TB.
func parseTimeSpent(i int) (*timeback.TimeSpent, error) {
	ev, problems := timeback.ParseEvent([]byte(testkit.TimeSpent(storetest.EventID(i))))
	ts, ok := ev.(*timeback.TimeSpent)
	if !ok {
		return nil, fmt.Errorf("parse the example TimeSpentEvent %d: %v", i, problems)
	}
	return ts, nil
}

func newEvents(t testing.TB, from, n int) []timeback.Event {
	t.Helper()
	events := make([]timeback.Event, n)
	for i := range events {
		events[i] = newEvent(t, from+i)
	}
	return events
}

// testConfig returns a Config for ep with a fake clock, no linger and an
// outbox in a temporary folder.
func testConfig(t *testing.T, ep *endpoint, clock *fakeClock) sender.Config {
	t.Helper()
	return sender.Config{
		Environment: ep.URL(),
		OutboxPath:  filepath.Join(t.TempDir(), "outbox.db"),
		Clock:       clock,
		Linger:      -1,
	}
}

func newClient(t *testing.T, cfg sender.Config) *sender.Client {
	t.Helper()
	c, err := sender.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c.Close(ctx)
	})
	return c
}

// queuedClient returns a Client for cfg to which events 0 to n-1 have been
// sent. Unlike newClient it registers no Close, because the test closes
// the client itself.
func queuedClient(t *testing.T, cfg sender.Config, n int) *sender.Client {
	t.Helper()
	c, err := sender.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := c.Send(context.Background(), newEvents(t, 0, n)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	return c
}

func flush(t *testing.T, c *sender.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// debugLogger returns a logger that writes every record, debug records
// included, as text to logs.
func debugLogger(logs *testkit.LogBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logLines returns the records written to logs, one per line.
func logLines(logs *testkit.LogBuffer) []string {
	return strings.Split(strings.TrimSpace(logs.String()), "\n")
}

// findLog returns the first record in logs that contains msg, or "".
func findLog(logs *testkit.LogBuffer, msg string) string {
	for _, line := range logLines(logs) {
		if strings.Contains(line, msg) {
			return line
		}
	}
	return ""
}
