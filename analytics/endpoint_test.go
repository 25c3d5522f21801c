package analytics_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/timeback/timeback-go/analytics"
	"github.com/timeback/timeback-go/caliper"
	"github.com/timeback/timeback-go/endpoint"
	"github.com/timeback/timeback-go/internal/sqlitetest"
	"github.com/timeback/timeback-go/internal/storetest"
)

// TestMountedOnEndpoint posts envelopes to the Caliper endpoint over a
// SQLite store that keeps facts, with the analytics handler mounted on the
// same mux, and reads the facts back over HTTP, as timeback serve does.
func TestMountedOnEndpoint(t *testing.T) {
	store, reader, _ := sqlitetest.OpenWithFacts(t)
	h, err := endpoint.New(endpoint.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	a, err := analytics.New(analytics.Config{Source: reader})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range analytics.Patterns {
		h.Handle(p, a)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	start := time.Date(2026, 1, 27, 18, 29, 50, 0, time.UTC)
	beat := storetest.Heartbeat(storetest.EventID(1), student, "run-1", start, start.Add(20*time.Second), 20, 0)
	// The same window again under a new id, as a client that lost an
	// acknowledgement and rebuilt its event would send it.
	again := storetest.Heartbeat(storetest.EventID(2), student, "run-1", start, start.Add(20*time.Second), 20, 0)
	for i, events := range [][]byte{beat, again, beat} {
		env := fmt.Sprintf(`{"sensor": %q, "sendTime": "2026-01-27T18:31:00.000Z", "dataVersion": %q, "data": [%s]}`,
			storetest.Sensor, caliper.ContextV1p2, events)
		resp, err := http.Post(srv.URL+"/caliper/event", "application/json", bytes.NewBufferString(env))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("post %d: status %d", i, resp.StatusCode)
		}
	}

	var d analytics.Daily
	u := srv.URL + "/analytics/students/" + url.PathEscape(student) + "/daily?from=2026-01-27&to=2026-01-28&tz=Asia/Kolkata"
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if len(d.Days) != 2 || d.Days[0].ActiveSeconds != 10 || d.Days[1].ActiveSeconds != 10 {
		t.Errorf("days = %+v, want 10 active seconds on each side of Kolkata midnight", d.Days)
	}
	page, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != 200 {
		t.Errorf("GET /: status %d, want the dashboard", page.StatusCode)
	}
}
