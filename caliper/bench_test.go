package caliper_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/timeback/timeback-go/caliper"
)

// benchInputs returns one TimebackProfile event and an envelope of 100
// events with distinct ids, the same bytes bench/validate feeds to ajv.
func benchInputs(b *testing.B) (event, envelope []byte) {
	b.Helper()
	event, err := os.ReadFile("../testdata/activity_completed.json")
	if err != nil {
		b.Fatal(err)
	}
	envelope, err = os.ReadFile("../testdata/envelope100.json")
	if err != nil {
		b.Fatal(err)
	}
	return event, envelope
}

func BenchmarkValidateEvent(b *testing.B) {
	event, _ := benchInputs(b)
	b.SetBytes(int64(len(event)))
	b.ReportAllocs()
	for b.Loop() {
		if r := caliper.Validate(event, caliper.Options{}); len(r.Problems) > 0 {
			b.Fatal(r.Problems)
		}
	}
}

func BenchmarkValidateEnvelope100(b *testing.B) {
	_, envelope := benchInputs(b)
	b.SetBytes(int64(len(envelope)))
	b.ReportAllocs()
	for b.Loop() {
		if r := caliper.Validate(envelope, caliper.Options{}); len(r.Problems) > 0 || len(r.Items) != 100 {
			b.Fatal(r.Problems)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/event")
}

func BenchmarkMapDecodeEvent(b *testing.B) {
	event, _ := benchInputs(b)
	b.SetBytes(int64(len(event)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(event, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMapDecodeEnvelope100(b *testing.B) {
	_, envelope := benchInputs(b)
	b.SetBytes(int64(len(envelope)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(envelope, &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/event")
}

// TestEnvelope100Current checks that testdata/envelope100.json holds the
// example event 100 times with ids 1 to 100, so the benchmarks measure what
// they claim.
func TestEnvelope100Current(t *testing.T) {
	event, err := os.ReadFile("../testdata/activity_completed.json")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, event); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(`{"sensor":"https://myapp.example.com/sensors/1","sendTime":"2026-01-27T10:03:01.000Z",` +
		`"dataVersion":"` + caliper.ContextV1p2 + `","data":[`)
	for i := 1; i <= 100; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		id := fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i)
		b.Write(bytes.Replace(compact.Bytes(), []byte("urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594"), []byte(id), 1))
	}
	b.WriteString("]}\n")
	if os.Getenv("TIMEBACK_UPDATE_BENCH_INPUT") != "" {
		if err := os.WriteFile("../testdata/envelope100.json", b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("../testdata/envelope100.json")
	if err != nil {
		t.Fatalf("%v (set TIMEBACK_UPDATE_BENCH_INPUT=1 to write it)", err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Error("testdata/envelope100.json is stale; set TIMEBACK_UPDATE_BENCH_INPUT=1 and rerun")
	}
	if r := caliper.Validate(got, caliper.Options{}); len(r.Problems) > 0 || len(r.Items) != 100 {
		t.Errorf("got %d items, problems %v", len(r.Items), r.Problems)
	}
}
