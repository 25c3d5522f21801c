package sender_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/sender"
)

func jobServer(t *testing.T, replies ...string) (*httptest.Server, func() int) {
	var mu sync.Mutex
	n := 0
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jobs/job-1/status" {
			http.Error(w, `{"status":"error","message":"job not found"}`, http.StatusNotFound)
			return
		}
		mu.Lock()
		rep := replies[min(n, len(replies)-1)]
		n++
		mu.Unlock()
		status, body, _ := strings.Cut(rep, " ")
		var code int
		fmt.Sscan(status, &code)
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(s.Close)
	return s, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func jobClient(t *testing.T, url string, clock *fakeClock) *sender.Client {
	return newClient(t, sender.Config{Environment: url, Queue: sender.NewMemoryQueue(), Clock: clock})
}

func TestWaitForJobCompleted(t *testing.T) {
	srv, polls := jobServer(t,
		`200 {"job":{"id":"job-1","state":"waiting"}}`,
		`503 {"status":"error","message":"busy"}`,
		`200 {"job":{"id":"job-1","state":"active"}}`,
		`200 {"job":{"id":"job-1","state":"completed","processedOn":1769508180000,`+
			`"returnValue":{"status":"success","results":[{"allocatedId":"a1","externalId":"urn:uuid:e1"}]}}}`)
	clock := newFakeClock()
	c := jobClient(t, srv.URL, clock)

	job, err := c.WaitForJob(context.Background(), "job-1")
	if err != nil {
		t.Fatalf("WaitForJob: %v", err)
	}
	if job.State != sender.JobCompleted || job.Status != "success" {
		t.Errorf("job = %+v, want completed with status success", job)
	}
	if len(job.Results) != 1 || job.Results[0] != (sender.JobResult{AllocatedID: "a1", ExternalID: "urn:uuid:e1"}) {
		t.Errorf("job results = %+v, want one a1/urn:uuid:e1", job.Results)
	}
	if want := time.UnixMilli(1769508180000); !job.ProcessedOn.Equal(want) {
		t.Errorf("job processedOn = %v, want %v", job.ProcessedOn, want)
	}
	if got := polls(); got != 4 {
		t.Errorf("%d polls, want 4", got)
	}
	for _, d := range clock.Sleeps() {
		if d != time.Second {
			t.Errorf("poll interval %v, want 1s", d)
		}
	}
}

func TestWaitForJobFailed(t *testing.T) {
	srv, _ := jobServer(t, `200 {"job":{"id":"job-1","state":"failed","returnValue":{"status":"error"}}}`)
	c := jobClient(t, srv.URL, newFakeClock())
	job, err := c.WaitForJob(context.Background(), "job-1")
	if !errors.Is(err, sender.ErrJobFailed) {
		t.Fatalf("WaitForJob(failed job) = %v, want ErrJobFailed", err)
	}
	if job == nil || job.State != sender.JobFailed {
		t.Errorf("job = %+v, want the failed job", job)
	}
}

func TestWaitForJobNotFound(t *testing.T) {
	srv, _ := jobServer(t, `200 {}`)
	c := jobClient(t, srv.URL, newFakeClock())
	_, err := c.WaitForJob(context.Background(), "job-2")
	if got := timeback.ErrorCode(err); got != timeback.CodeNotFound {
		t.Errorf("WaitForJob(unknown job) = %v with code %q, want %q", err, got, timeback.CodeNotFound)
	}
	if !strings.Contains(err.Error(), "job not found") {
		t.Errorf("error %q does not carry the endpoint's message", err)
	}
}

func TestWaitForJobContextEnds(t *testing.T) {
	srv, _ := jobServer(t, `200 {"job":{"id":"job-1","state":"waiting"}}`)
	c := jobClient(t, srv.URL, newFakeClock())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.WaitForJob(ctx, "job-1"); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitForJob(cancelled) = %v, want context.Canceled", err)
	}
}

func TestRetryLogsRateLimited(t *testing.T) {
	ep := newEndpoint(t, func(n int, _ *http.Request, _ []json.RawMessage) reply {
		if n <= 40 {
			return reply{status: http.StatusServiceUnavailable}
		}
		return reply{status: http.StatusOK, store: true}
	})
	logs := &testkit.LogBuffer{}
	clock := newFakeClock()
	cfg := testConfig(t, ep, clock)
	cfg.Logger = debugLogger(logs)
	cfg.MinBackoff, cfg.MaxBackoff = time.Nanosecond, time.Nanosecond
	c := newClient(t, cfg)
	if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
		t.Fatal(err)
	}
	flush(t, c)

	retries := 0
	for _, line := range logLines(logs) {
		if strings.Contains(line, "post failed; retrying") {
			retries++
			if !strings.Contains(line, storetest.EventID(0)) {
				t.Errorf("retry log %q does not name the event id", line)
			}
		}
	}
	if retries == 0 || retries >= 40 {
		t.Errorf("%d retry logs for 40 retries within a few nanoseconds, want fewer, and at least one", retries)
	}
}

func TestDeadLetterLogged(t *testing.T) {
	ep := newEndpoint(t, func(int, *http.Request, []json.RawMessage) reply {
		return reply{status: http.StatusUnprocessableEntity, body: `{"message":"unsupported dataVersion"}`}
	})
	logs := &testkit.LogBuffer{}
	cfg := testConfig(t, ep, newFakeClock())
	cfg.Logger = debugLogger(logs)
	c := newClient(t, cfg)
	c.Send(context.Background(), newEvents(t, 0, 2)...)
	flush(t, c)

	line := findLog(logs, "dead letters")
	for _, want := range []string{"level=WARN", "status=422", storetest.EventID(0), storetest.EventID(1), "unsupported dataVersion"} {
		if !strings.Contains(line, want) {
			t.Errorf("dead-letter log %q does not contain %q", line, want)
		}
	}
}
