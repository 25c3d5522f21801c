package sender_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/sender"
)

func TestSendDelivers(t *testing.T) {
	ep := newEndpoint(t, nil)
	cfg := testConfig(t, ep, newFakeClock())
	cfg.Sensor = "https://app.example.com/sensor"
	var deliveries []sender.Delivery
	var mu sync.Mutex
	cfg.OnDelivered = func(d sender.Delivery) {
		mu.Lock()
		deliveries = append(deliveries, d)
		mu.Unlock()
	}
	c := newClient(t, cfg)

	if err := c.Send(context.Background(), newEvents(t, 0, 10)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	stored := ep.Stored()
	if got, want := len(stored), 10; got != want {
		t.Fatalf("stored %d events, want %d", got, want)
	}
	for i := range 10 {
		if _, ok := stored[storetest.EventID(i)]; !ok {
			t.Errorf("event %s not stored", storetest.EventID(i))
		}
	}
	st := c.Stats()
	if got, want := st.Delivered, int64(10); got != want {
		t.Errorf("Stats().Delivered = %d, want %d", got, want)
	}
	if st.Queued != 0 || st.InFlight != 0 || st.QueuedBytes != 0 {
		t.Errorf("Stats() = %+v, want an empty queue", st)
	}
	mu.Lock()
	defer mu.Unlock()
	delivered := 0
	for _, d := range deliveries {
		delivered += len(d.EventIDs)
		if d.JobID == "" || d.Status != http.StatusOK {
			t.Errorf("Delivery = %+v, want a job id and status 200", d)
		}
	}
	if delivered != 10 {
		t.Errorf("OnDelivered reported %d events, want 10", delivered)
	}
}

func TestSendBuildsEnvelope(t *testing.T) {
	ep := newEndpoint(t, nil)
	cfg := testConfig(t, ep, newFakeClock())
	cfg.Sensor = "https://app.example.com/sensor"
	c := newClient(t, cfg)
	if err := c.Send(context.Background(), newEvent(t, 1)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	ep.mu.Lock()
	env := ep.envelopes[0]
	ep.mu.Unlock()
	var got struct {
		Sensor      string            `json:"sensor"`
		SendTime    string            `json:"sendTime"`
		DataVersion string            `json:"dataVersion"`
		Data        []json.RawMessage `json:"data"`
	}
	raw, _ := json.Marshal(env)
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Sensor != cfg.Sensor {
		t.Errorf("sensor = %q, want %q", got.Sensor, cfg.Sensor)
	}
	if got.DataVersion != caliper.ContextV1p2 {
		t.Errorf("dataVersion = %q, want %q", got.DataVersion, caliper.ContextV1p2)
	}
	if want := "2026-01-27T10:00:00.000Z"; got.SendTime != want {
		t.Errorf("sendTime = %q, want %q", got.SendTime, want)
	}
	if len(env) != 4 {
		t.Errorf("envelope has %d members, want 4: %s", len(env), raw)
	}
	want, _ := newEvent(t, 1).MarshalJSON()
	if len(got.Data) != 1 || string(got.Data[0]) != string(want) {
		t.Errorf("data = %s, want [%s]", got.Data, want)
	}
}

func TestSendRejectsInvalidEvent(t *testing.T) {
	validJSON, _ := newEvent(t, 7).MarshalJSON()
	tests := []struct {
		name  string
		event timeback.Event
		want  string
	}{
		{"bad JSON", timeback.RawEvent{ID: "urn:uuid:1", JSON: []byte(`{"id":`)}, "invalid JSON"},
		{"bad JSON with spaces", timeback.RawEvent{ID: "urn:uuid:1", JSON: []byte(`{"id": `)}, "not valid JSON"},
		{"array", timeback.RawEvent{ID: "urn:uuid:1", JSON: []byte(`[1,2]`)}, "event 1 (urn:uuid:1)"},
		{"id mismatch", timeback.RawEvent{ID: "urn:uuid:a", JSON: validJSON}, `has id "` + storetest.EventID(7)},
		{"no id", timeback.RawEvent{JSON: []byte(`{"type":"Event"}`)}, "/id: id is missing"},
		{"nil", nil, "event 1 is invalid: the event is nil"},
		{"nil pointer", (*timeback.TimeSpent)(nil), "event 1 is invalid: the event is a nil *timeback.TimeSpent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, nil)
			c := newClient(t, testConfig(t, ep, newFakeClock()))
			err := c.Send(context.Background(), newEvent(t, 0), tt.event)
			if !errors.Is(err, sender.ErrInvalidEvent) {
				t.Fatalf("Send(%s) = %v, want ErrInvalidEvent", tt.name, err)
			}
			var ee *sender.EventError
			if !errors.As(err, &ee) || ee.Index != 1 {
				t.Errorf("Send(%s) = %v, want an *EventError for index 1", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Send(%s) error %q does not contain %q", tt.name, err, tt.want)
			}
			if got := c.Stats().Queued; got != 0 {
				t.Errorf("Stats().Queued = %d after a rejected Send, want 0", got)
			}
		})
	}
}

func TestSendRejectsTooLargeEvent(t *testing.T) {
	ep := newEndpoint(t, nil)
	cfg := testConfig(t, ep, newFakeClock())
	cfg.MaxPayloadBytes = 2000
	c := newClient(t, cfg)
	big := timeback.RawEvent{ID: "urn:uuid:big", JSON: []byte(`{"id":"urn:uuid:big","pad":"` +
		strings.Repeat("x", 3000) + `"}`)}

	err := c.Send(context.Background(), big)
	if !errors.Is(err, sender.ErrEventTooLarge) {
		t.Fatalf("Send(3 kB event) = %v, want ErrEventTooLarge", err)
	}
	if want := strconv.Itoa(len(big.JSON)) + " bytes"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not give the event size", err)
	}
}

func TestSendQueueFull(t *testing.T) {
	release := make(chan struct{})
	ep := newEndpoint(t, func(n int, r *http.Request, _ []json.RawMessage) reply {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return reply{status: http.StatusOK, store: true}
	})
	t.Cleanup(func() { close(release) })
	cfg := testConfig(t, ep, newFakeClock())
	cfg.MaxQueueEvents = 5
	c := newClient(t, cfg)
	ctx := context.Background()

	if err := c.Send(ctx, newEvents(t, 0, 3)...); err != nil {
		t.Fatalf("Send(3 events): %v", err)
	}
	err := c.Send(ctx, newEvents(t, 3, 3)...)
	if !errors.Is(err, sender.ErrQueueFull) {
		t.Fatalf("Send(3 more events) = %v, want ErrQueueFull", err)
	}
	st := c.Stats()
	if got := st.Queued + st.InFlight; got != 3 {
		t.Errorf("queued and in flight = %d after ErrQueueFull, want 3", got)
	}
	if err := c.Send(ctx, newEvents(t, 3, 2)...); err != nil {
		t.Errorf("Send(2 events) into the remaining room: %v", err)
	}
}

func TestSendQueueFullBytes(t *testing.T) {
	ep := newEndpoint(t, func(n int, r *http.Request, _ []json.RawMessage) reply {
		return reply{hang: true}
	})
	cfg := testConfig(t, ep, newFakeClock())
	size, _ := newEvent(t, 0).MarshalJSON()
	cfg.MaxQueueBytes = int64(len(size)*2 + 10)
	c := newClient(t, cfg)

	if err := c.Send(context.Background(), newEvents(t, 0, 2)...); err != nil {
		t.Fatalf("Send(2 events): %v", err)
	}
	if err := c.Send(context.Background(), newEvent(t, 2)); !errors.Is(err, sender.ErrQueueFull) {
		t.Errorf("Send past MaxQueueBytes = %v, want ErrQueueFull", err)
	}
}

func TestSendAfterClose(t *testing.T) {
	ep := newEndpoint(t, nil)
	c := newClient(t, testConfig(t, ep, newFakeClock()))
	if err := c.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Send(context.Background(), newEvent(t, 0)); !errors.Is(err, sender.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

func TestRetryServerErrors(t *testing.T) {
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			ep := newEndpoint(t, func(n int, _ *http.Request, _ []json.RawMessage) reply {
				if n <= 3 {
					return reply{status: status, body: `{"status":"error","message":"try later"}`}
				}
				return reply{status: http.StatusOK, store: true}
			})
			clock := newFakeClock()
			cfg := testConfig(t, ep, clock)
			cfg.MinBackoff = time.Second
			cfg.MaxBackoff = 3 * time.Second
			c := newClient(t, cfg)
			if err := c.Send(context.Background(), newEvents(t, 0, 4)...); err != nil {
				t.Fatalf("Send: %v", err)
			}
			flush(t, c)

			if got := len(ep.Stored()); got != 4 {
				t.Errorf("stored %d events after %d replies, want 4", got, status)
			}
			st := c.Stats()
			if st.Retried != 12 || st.Delivered != 4 || st.DeadLettered != 0 {
				t.Errorf("Stats() = %+v, want 12 retried, 4 delivered, 0 dead-lettered", st)
			}
			sleeps := clock.Sleeps()
			if len(sleeps) != 3 {
				t.Fatalf("waits = %v, want 3", sleeps)
			}
			for i, ceiling := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
				if sleeps[i] < 0 || sleeps[i] > ceiling {
					t.Errorf("wait %d = %v, want within [0, %v]", i+1, sleeps[i], ceiling)
				}
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	clock := newFakeClock()
	date := clock.Now().Add(90 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"7", 7 * time.Second},
		{date, 90 * time.Second},
		{"86400", 10 * time.Minute}, // capped by MaxRetryAfter
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			ep := newEndpoint(t, func(n int, _ *http.Request, _ []json.RawMessage) reply {
				if n == 1 {
					return reply{status: http.StatusTooManyRequests,
						header: http.Header{"Retry-After": {tt.header}}}
				}
				return reply{status: http.StatusOK, store: true}
			})
			clock := newFakeClock()
			cfg := testConfig(t, ep, clock)
			cfg.MaxRetryAfter = 10 * time.Minute
			c := newClient(t, cfg)
			if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			flush(t, c)

			sleeps := clock.Sleeps()
			if len(sleeps) != 1 || sleeps[0] != tt.want {
				t.Errorf("Retry-After %q: waits = %v, want [%v]", tt.header, sleeps, tt.want)
			}
		})
	}
}

func TestDeadLetterRejections(t *testing.T) {
	for _, status := range []int{400, 401, 409, 413, 415, 422} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			ep := newEndpoint(t, func(int, *http.Request, []json.RawMessage) reply {
				return reply{status: status, body: `{"status":"error","message":"rejected",` +
					`"errors":[{"path":"/data/0/actor","message":"missing"}]}`}
			})
			cfg := testConfig(t, ep, newFakeClock())
			var dead []sender.DeadLetter
			var mu sync.Mutex
			cfg.OnDeadLetter = func(d sender.DeadLetter) {
				mu.Lock()
				dead = append(dead, d)
				mu.Unlock()
			}
			c := newClient(t, cfg)
			if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			flush(t, c)

			if got := ep.Requests(); got != 1 {
				t.Errorf("%d: %d requests, want 1 (no retry)", status, got)
			}
			st := c.Stats()
			if st.DeadLettered != 1 || st.Retried != 0 {
				t.Errorf("Stats() = %+v, want 1 dead-lettered and no retry", st)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(dead) != 1 {
				t.Fatalf("OnDeadLetter called %d times, want 1", len(dead))
			}
			if dead[0].ID != storetest.EventID(0) || dead[0].Status != status {
				t.Errorf("dead letter = %s status %d, want %s status %d", dead[0].ID, dead[0].Status,
					storetest.EventID(0), status)
			}
			if want := "rejected; /data/0/actor: missing"; !strings.Contains(dead[0].Message, want) {
				t.Errorf("dead letter message = %q, want it to contain %q", dead[0].Message, want)
			}
		})
	}
}

func TestSplitOn413(t *testing.T) {
	tooBig := storetest.EventID(5)
	ep := newEndpoint(t, func(_ int, _ *http.Request, events []json.RawMessage) reply {
		if len(events) > 2 {
			return reply{status: http.StatusRequestEntityTooLarge}
		}
		for _, ev := range events {
			if strings.Contains(string(ev), tooBig) {
				return reply{status: http.StatusRequestEntityTooLarge}
			}
		}
		return reply{status: http.StatusOK, store: true}
	})
	c := newClient(t, testConfig(t, ep, newFakeClock()))
	if err := c.Send(context.Background(), newEvents(t, 0, 9)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	stored := ep.Stored()
	if got := len(stored); got != 8 {
		t.Errorf("stored %d events, want 8", got)
	}
	if _, ok := stored[tooBig]; ok {
		t.Errorf("event %s stored, want it dead-lettered", tooBig)
	}
	if got := c.Stats().DeadLettered; got != 1 {
		t.Errorf("Stats().DeadLettered = %d, want 1", got)
	}
	for i := range 9 {
		if id := storetest.EventID(i); id != tooBig && ep.Copies(id) != 1 {
			t.Errorf("event %s received %d times, want once", id, ep.Copies(id))
		}
	}
}

func TestSplitIsolatesBadEvent(t *testing.T) {
	bad := storetest.EventID(2)
	ep := newEndpoint(t, func(_ int, _ *http.Request, events []json.RawMessage) reply {
		for _, ev := range events {
			if strings.Contains(string(ev), bad) {
				return reply{status: http.StatusBadRequest, body: `{"status":"error","message":"invalid"}`}
			}
		}
		return reply{status: http.StatusOK, store: true}
	})
	c := newClient(t, testConfig(t, ep, newFakeClock()))
	if err := c.Send(context.Background(), newEvents(t, 0, 6)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	if got := len(ep.Stored()); got != 5 {
		t.Errorf("stored %d events, want the 5 valid ones", got)
	}
	if got := c.Stats().DeadLettered; got != 1 {
		t.Errorf("Stats().DeadLettered = %d, want 1", got)
	}
}

func TestSlowReplyRetried(t *testing.T) {
	ep := newEndpoint(t, func(n int, _ *http.Request, _ []json.RawMessage) reply {
		if n == 1 {
			return reply{hang: true}
		}
		return reply{status: http.StatusOK, store: true}
	})
	cfg := testConfig(t, ep, newFakeClock())
	cfg.RequestTimeout = 50 * time.Millisecond
	c := newClient(t, cfg)
	if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	if got := ep.Copies(storetest.EventID(0)); got != 1 {
		t.Errorf("event received %d times, want 1", got)
	}
	if got := c.Stats().Retried; got != 1 {
		t.Errorf("Stats().Retried = %d, want 1", got)
	}
}

func TestResetAfterStoreNoSecondCopy(t *testing.T) {
	// The endpoint stores the envelope, then the connection drops before the
	// reply. The retry carries the same ids, which the endpoint recognises.
	ep := newEndpoint(t, func(n int, _ *http.Request, _ []json.RawMessage) reply {
		if n <= 2 {
			return reply{store: true, reset: true}
		}
		return reply{status: http.StatusOK, body: `{"jobId":"j","eventsAccepted":3,"duplicates":3}`}
	})
	c := newClient(t, testConfig(t, ep, newFakeClock()))
	if err := c.Send(context.Background(), newEvents(t, 0, 3)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	if got := len(ep.Stored()); got != 3 {
		t.Errorf("stored %d distinct events, want 3", got)
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var ids []string
	for _, env := range ep.envelopes {
		var data []struct {
			ID string `json:"id"`
		}
		json.Unmarshal(env["data"], &data)
		for _, d := range data {
			ids = append(ids, d.ID)
		}
	}
	if len(ids) != 9 {
		t.Fatalf("received %d events over 3 requests, want 9", len(ids))
	}
	for i, id := range ids {
		if want := storetest.EventID(i % 3); id != want {
			t.Errorf("attempt %d event %d has id %s, want %s (ids must not change)", i/3+1, i%3, id, want)
		}
	}
}

func TestFlushContextEnds(t *testing.T) {
	ep := newEndpoint(t, func(int, *http.Request, []json.RawMessage) reply { return reply{hang: true} })
	c := newClient(t, testConfig(t, ep, newFakeClock()))
	if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush(cancelled) = %v, want context.Canceled", err)
	}
}

func TestCloseExpiredLeavesEvents(t *testing.T) {
	down := newEndpoint(t, func(int, *http.Request, []json.RawMessage) reply { return reply{hang: true} })
	cfg := testConfig(t, down, newFakeClock())
	c := queuedClient(t, cfg, 5)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Close(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "5 events left") {
		t.Errorf("Close(cancelled) = %v, want context.Canceled and 5 events left", err)
	}

	up := newEndpoint(t, nil)
	cfg.Environment = up.URL()
	next := newClient(t, cfg)
	if got := next.Stats().Queued + next.Stats().InFlight; got != 5 {
		t.Errorf("reopened outbox holds %d events, want 5", got)
	}
	flush(t, next)
	if got := len(up.Stored()); got != 5 {
		t.Errorf("next client delivered %d events, want 5", got)
	}
}

func TestCloseDeliversFirst(t *testing.T) {
	ep := newEndpoint(t, nil)
	cfg := testConfig(t, ep, newFakeClock())
	cfg.Linger = time.Hour
	c := queuedClient(t, cfg, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := len(ep.Stored()); got != 3 {
		t.Errorf("stored %d events after Close, want 3", got)
	}
}

func TestLingerFillsEnvelope(t *testing.T) {
	ep := newEndpoint(t, nil)
	cfg := testConfig(t, ep, newFakeClock())
	cfg.Linger = time.Hour
	cfg.MaxBatchEvents = 4
	c := newClient(t, cfg)
	for i := range 8 {
		if err := c.Send(context.Background(), newEvent(t, i)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	flush(t, c)

	for i, n := range ep.Sizes() {
		if n > 4 {
			t.Errorf("envelope %d has %d events, want at most 4", i, n)
		}
	}
	if got := len(ep.Stored()); got != 8 {
		t.Errorf("stored %d events, want 8", got)
	}
}

func TestBatchLimits(t *testing.T) {
	ep := newEndpoint(t, nil)
	cfg := testConfig(t, ep, newFakeClock())
	one, _ := newEvent(t, 0).MarshalJSON()
	cfg.MaxBatchEvents = 50
	cfg.MaxPayloadBytes = 3*len(one) + 400
	c := newClient(t, cfg)
	if err := c.Send(context.Background(), newEvents(t, 0, 10)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	for i, n := range ep.Sizes() {
		if n > 3 {
			t.Errorf("envelope %d has %d events, want at most 3 by bytes", i, n)
		}
	}
}

func TestStatsOldestAge(t *testing.T) {
	ep := newEndpoint(t, func(int, *http.Request, []json.RawMessage) reply { return reply{hang: true} })
	clock := newFakeClock()
	c := newClient(t, testConfig(t, ep, clock))
	if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	clock.Advance(90 * time.Second)
	if got := c.Stats().OldestAge; got != 90*time.Second {
		t.Errorf("Stats().OldestAge = %v, want 1m30s", got)
	}
}

func TestConcurrentSends(t *testing.T) {
	ep := newEndpoint(t, nil)
	c := newClient(t, testConfig(t, ep, newFakeClock()))
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if err := c.Send(context.Background(), newEvent(t, g*100+i)); err != nil {
					t.Errorf("Send: %v", err)
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	flush(t, c)
	if got := len(ep.Stored()); got != 200 {
		t.Errorf("stored %d events from 8 goroutines, want 200", got)
	}
}

func TestSendCompactsEvent(t *testing.T) {
	ep := newEndpoint(t, nil)
	c := newClient(t, testConfig(t, ep, newFakeClock()))
	compact, _ := newEvent(t, 3).MarshalJSON()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, compact, "", "  "); err != nil {
		t.Fatal(err)
	}
	// Escaped quotes and spaces inside strings stay as they are.
	tricky := []byte(testkit.Replace(string(compact), `"My App"`, `"My \" App\\"`))
	if err := c.Send(context.Background(), timeback.RawEvent{ID: storetest.EventID(3), JSON: pretty.Bytes()},
		timeback.RawEvent{ID: storetest.EventID(4), JSON: bytes.Replace(tricky, []byte(storetest.EventID(3)), []byte(storetest.EventID(4)), 1)}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	stored := ep.Stored()
	if got := string(stored[storetest.EventID(3)]); got != string(compact) {
		t.Errorf("indented event stored as\n%s\nwant the compact\n%s", got, compact)
	}
	want := bytes.Replace(tricky, []byte(storetest.EventID(3)), []byte(storetest.EventID(4)), 1)
	if got := string(stored[storetest.EventID(4)]); got != string(want) {
		t.Errorf("compact event stored as\n%s\nwant it unchanged\n%s", got, want)
	}
}
