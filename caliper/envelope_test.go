package caliper_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go/caliper"
)

// envelopeOf wraps events in an envelope.
func envelopeOf(t *testing.T, dataVersion string, events ...[]byte) []byte {
	t.Helper()
	raw := make([]json.RawMessage, len(events))
	for i, e := range events {
		raw[i] = e
	}
	b, err := json.Marshal(map[string]any{
		"sensor": "https://myapp.example.com/sensors/1", "sendTime": "2026-01-27T10:03:01.000Z",
		"dataVersion": dataVersion, "data": raw,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withID(t *testing.T, file string, n int) []byte {
	return mutate(t, file, func(e map[string]any) {
		e["id"] = fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", n)
	})
}

func TestEnvelopeItems(t *testing.T) {
	a, b := withID(t, "activity_completed.json", 1), withID(t, "time_spent.json", 2)
	data := envelopeOf(t, caliper.ContextV1p2, a, b)
	r := caliper.Validate(data, caliper.Options{})
	if len(r.Problems) > 0 {
		t.Fatalf("got %v, want no problems", r.Problems)
	}
	if r.Kind != caliper.KindEnvelope || r.Envelope == nil {
		t.Fatalf("got kind %v, envelope %v; want an envelope", r.Kind, r.Envelope)
	}
	env := r.Envelope
	if env.Sensor != "https://myapp.example.com/sensors/1" {
		t.Errorf("got sensor %q", env.Sensor)
	}
	if want := time.Date(2026, 1, 27, 10, 3, 1, 0, time.UTC); !env.SendTime.Equal(want) {
		t.Errorf("got sendTime %v, want %v", env.SendTime, want)
	}
	if env.DataVersion != caliper.ContextV1p2 || len(env.Data) != 2 || len(r.Items) != 2 {
		t.Fatalf("got dataVersion %q with %d items", env.DataVersion, len(env.Data))
	}
	got := r.Items[1]
	if string(got.Raw) != string(b) {
		t.Errorf("got raw %s, want the bytes as sent %s", got.Raw, b)
	}
	if got.Pointer != "/data/1" || got.ID != "urn:uuid:00000000-0000-4000-8000-000000000002" ||
		got.Type != "TimeSpentEvent" {
		t.Errorf("got item %s %s %s", got.Pointer, got.ID, got.Type)
	}
	e := got.Event
	if e == nil {
		t.Fatal("got no event info")
	}
	if e.Action != "SpentTime" || e.Profile != "TimebackProfile" || e.ActorEmail != "student-123@example.com" ||
		e.ActorID != "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123" ||
		e.ObjectID != "https://myapp.example.com/activities/Math/g3/lesson-1" ||
		!e.EventTime.Equal(time.Date(2026, 1, 27, 10, 0, 15, 0, time.UTC)) {
		t.Errorf("got event info %+v", *e)
	}
}

func TestEnvelopeDuplicateEventID(t *testing.T) {
	a := withID(t, "activity_completed.json", 1)
	data := envelopeOf(t, caliper.ContextV1p2, a, withID(t, "time_spent.json", 2), withID(t, "time_spent.json", 1))
	assertOne(t, data, caliper.Options{}, "/data/2/id", "repeats the id at /data/0/id")
}

func TestEnvelopeDataVersion(t *testing.T) {
	data := envelopeOf(t, "http://purl.imsglobal.org/ctx/caliper/v1p1", withID(t, "time_spent.json", 1))
	assertOne(t, data, caliper.Options{}, "/dataVersion", `unsupported dataVersion "http://purl.imsglobal.org/ctx/caliper/v1p1"`)
}

func TestEnvelopeProblemPointer(t *testing.T) {
	events := make([][]byte, 4)
	for i := range events {
		events[i] = withID(t, "time_spent.json", i)
	}
	events[3] = mutate(t, "time_spent.json", func(e map[string]any) { obj(e, "actor")["id"] = "not an IRI" })
	assertOne(t, envelopeOf(t, caliper.ContextV1p2, events...), caliper.Options{}, "/data/3/actor/id",
		`actor.id "not an IRI" is not an absolute IRI`)
}

func TestEnvelopeUnknownProperty(t *testing.T) {
	var env map[string]any
	if err := json.Unmarshal(envelopeOf(t, caliper.ContextV1p2, withID(t, "time_spent.json", 1)), &env); err != nil {
		t.Fatal(err)
	}
	env["batch"] = 1
	data, _ := json.Marshal(env)
	assertOne(t, data, caliper.Options{}, "/batch", `property "batch" is not defined for an envelope`)
}

func TestEnvelopeMissingMembers(t *testing.T) {
	r := caliper.Validate([]byte(`{"data":[]}`), caliper.Options{})
	var got []string
	for _, p := range r.Problems {
		got = append(got, p.Pointer)
	}
	if want := "/data /sensor /sendTime /dataVersion"; strings.Join(got, " ") != want {
		t.Errorf("got problems at %v, want %s", got, want)
	}
}

func TestArrayOfEvents(t *testing.T) {
	data := []byte("[" + string(withID(t, "time_spent.json", 1)) + "," + string(withID(t, "time_spent.json", 1)) + "]")
	r := caliper.Validate(data, caliper.Options{})
	if r.Kind != caliper.KindArray || len(r.Items) != 2 {
		t.Fatalf("got kind %v with %d items", r.Kind, len(r.Items))
	}
	assertOne(t, data, caliper.Options{}, "/1/id", "repeats the id at /0/id")
}

func TestEndpointConfig(t *testing.T) {
	for _, in := range []string{
		`{"caliperSupportedVersions":["http://purl.imsglobal.org/ctx/caliper/v1p2"],"caliperMaximumPayloadSize":512}`,
		`{"caliper_supported_versions":["http://purl.imsglobal.org/ctx/caliper/v1p2"]}`,
	} {
		r := caliper.Validate([]byte(in), caliper.Options{})
		if r.Kind != caliper.KindConfig || len(r.Problems) > 0 {
			t.Errorf("%s: got kind %v, problems %v; want a valid configuration", in, r.Kind, r.Problems)
		}
	}
	assertOne(t, []byte(`{"caliperMaximumPayloadSize":"big"}`), caliper.Options{}, "/caliperMaximumPayloadSize",
		"is not a non-negative integer")
}

func TestGeneralEventEntityReference(t *testing.T) {
	in := `{"@context":"` + caliper.ContextV1p2 + `","id":"urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594",` +
		`"type":"Event","profile":"GeneralProfile","action":"Created","eventTime":"2026-01-27T10:03:00.000Z",` +
		`"actor":"https://example.edu/users/1","object":{"id":"https://example.edu/d/1","type":"Person"}}`
	r := caliper.Validate([]byte(in), caliper.Options{})
	if len(r.Problems) > 0 {
		t.Fatalf("got %v, want an IRI actor and an object accepted", r.Problems)
	}
	if got := r.Items[0].Event.ActorID; got != "https://example.edu/users/1" {
		t.Errorf("got actor id %q from an IRI actor", got)
	}
}
