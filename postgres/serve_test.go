package postgres_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/timeback/timeback-go/caliper"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testbin"
	"github.com/timeback/timeback-go/internal/testkit"
)

// TestTwoServeProcesses runs two timeback serve processes on one database,
// posts the same stream of envelopes to both at once, and checks through
// the analytics API that every fact is there once.
func TestTwoServeProcesses(t *testing.T) {
	raw := testkit.PostgresURL(t)
	dbURL := testkit.SearchPathURL(t, raw, testkit.CreatePostgresSchema(t, raw))
	servers := []string{testbin.StartServer(t, "--db", dbURL), testbin.StartServer(t, "--db", dbURL)}

	const students, runs, beats = 2, 3, 8
	batches, wantActive := stream(t, students, runs, beats)
	var envelopes [][]byte
	for _, b := range batches {
		var events []json.RawMessage
		for _, ev := range b.Events {
			events = append(events, ev.Item.Raw)
		}
		env, err := json.Marshal(map[string]any{"sensor": storetest.Sensor, "sendTime": "2026-01-27T12:00:00.000Z",
			"dataVersion": caliper.ContextV1p2, "data": events})
		if err != nil {
			t.Fatal(err)
		}
		envelopes = append(envelopes, env)
	}

	var wg sync.WaitGroup
	for _, base := range servers {
		wg.Go(func() {
			for i, env := range envelopes {
				resp, err := http.Post(base+"/caliper/event", "application/json", bytes.NewReader(env))
				if err != nil {
					t.Errorf("post %d to %s: %v", i, base, err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("post %d to %s: status %d", i, base, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()

	var total float64
	for s := range students {
		var d struct {
			Days []struct {
				ActiveSeconds float64
				XP            float64
				Completions   int
			}
		}
		u := fmt.Sprintf("%s/analytics/students/%s/daily?from=2026-01-27&to=2026-01-27", servers[1],
			url.PathEscape(storetest.Student(s)))
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if err != nil || len(d.Days) != 1 {
			t.Fatalf("daily of student %d: %v, %+v", s, err, d)
		}
		if d.Days[0].Completions != runs || d.Days[0].XP != runs {
			t.Errorf("student %d: completions, XP = %d, %v; want %d, %d", s, d.Days[0].Completions,
				d.Days[0].XP, runs, runs)
		}
		total += d.Days[0].ActiveSeconds
	}
	if math.Abs(total-wantActive) > 1e-6 {
		t.Errorf("active seconds = %v, want %v", total, wantActive)
	}
}
