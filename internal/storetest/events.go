// Package storetest is the conformance suite of timeback.EventStore
// implementations. Each implementation's tests call Run with a function
// that opens an empty store, and RunFacts when the store keeps learning
// facts on ingest:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) timeback.EventStore { return openTestStore(t) })
//	}
package storetest

import (
	"encoding/json"
	"fmt"
	"path"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
)

// Student returns the OneRoster user URL of test student n.
func Student(n int) string {
	return fmt.Sprintf("https://api.example.com/ims/oneroster/rostering/v1p2/users/student-%d", n)
}

// EventID returns the urn:uuid id of test event n.
func EventID(n int) string { return fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", n) }

// Heartbeat returns a TimeSpentEvent of student with one active item of
// seconds over [start, end] and, when inactive is positive, an inactive
// item of the same window.
func Heartbeat(id, student, run string, start, end time.Time, active, inactive float64) []byte {
	items := []map[string]any{{
		"type": "active", "value": active,
		"startDate": stamp(start), "endDate": stamp(end),
	}}
	if inactive > 0 {
		items = append(items, map[string]any{"type": "inactive", "value": inactive,
			"startDate": stamp(start), "endDate": stamp(end)})
	}
	return event(id, "TimeSpentEvent", "SpentTime", end, student, run, map[string]any{
		"id":    "urn:uuid:" + id[len(id)-12:] + "-collection",
		"type":  "TimebackTimeSpentMetricsCollection",
		"items": items,
	})
}

// Completed returns an ActivityCompletedEvent of student's run with the
// given XP and questions.
func Completed(id, student, run string, at time.Time, xp, total, correct float64) []byte {
	return event(id, "ActivityEvent", "Completed", at, student, run, map[string]any{
		"id":   "urn:uuid:" + id[len(id)-12:] + "-collection",
		"type": "TimebackActivityMetricsCollection",
		"items": []map[string]any{
			{"type": "xpEarned", "value": xp},
			{"type": "totalQuestions", "value": total},
			{"type": "correctQuestions", "value": correct},
			{"type": "masteredUnits", "value": 1},
		},
	})
}

func event(id, typ, action string, at time.Time, student, run string, generated map[string]any) []byte {
	e := map[string]any{
		"@context":  caliper.ContextV1p2,
		"id":        id,
		"type":      typ,
		"action":    action,
		"profile":   "TimebackProfile",
		"eventTime": stamp(at),
		"actor": map[string]any{"id": student, "type": "TimebackUser",
			"email": path.Base(student) + "@example.com"},
		"object": map[string]any{"id": "https://app.example.com/activities/math/1",
			"type": "TimebackActivityContext", "subject": "Math", "app": map[string]any{"name": "Test App"}},
		"generated":  generated,
		"extensions": map[string]any{"runId": run, "courseId": "MATH-3"},
	}
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return b
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// NewBatch returns a batch of the raw events from sensor, decoded the way
// the endpoint decodes them, with job id jobID.
func NewBatch(t testing.TB, jobID, sensor string, events ...[]byte) *timeback.Batch {
	t.Helper()
	b := &timeback.Batch{JobID: jobID, Sensor: sensor, SendTime: time.Now().UTC(), Received: time.Now().UTC()}
	for i, raw := range events {
		var w struct {
			ID, Type, Action, Profile, EventTime string
			Actor, Object                        json.RawMessage
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			t.Fatalf("test event %d: %v", i, err)
		}
		actorID, actorEmail := entity(w.Actor)
		objectID, _ := entity(w.Object)
		at, err := time.Parse(time.RFC3339Nano, w.EventTime)
		if err != nil {
			t.Fatalf("test event %d: eventTime: %v", i, err)
		}
		canonical, err := caliper.Canonical(raw)
		if err != nil {
			t.Fatalf("test event %d: canonical form: %v", i, err)
		}
		b.Events = append(b.Events, timeback.NewEvent{
			Item: caliper.Item{
				Raw: raw, Pointer: fmt.Sprintf("/data/%d", i), ID: w.ID, Type: w.Type,
				Event: &caliper.EventInfo{Action: w.Action, Profile: w.Profile, EventTime: at.UTC(),
					ActorID: actorID, ActorEmail: actorEmail, ObjectID: objectID},
			},
			Canonical: canonical,
		})
	}
	return b
}

// entity returns the id and email of an entity given as an object or as
// an IRI string.
func entity(raw json.RawMessage) (id, email string) {
	if json.Unmarshal(raw, &id) == nil {
		return id, ""
	}
	var e struct{ ID, Email string }
	json.Unmarshal(raw, &e)
	return e.ID, e.Email
}

// Navigation returns a Caliper NavigationEvent of another profile, with
// actor and object given as IRIs.
func Navigation(id string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"@context": %q, "id": %q, "type": "NavigationEvent",
		"action": "NavigatedTo", "actor": "https://example.edu/users/554433",
		"object": "https://example.edu/pages/1", "eventTime": %q}`, caliper.ContextV1p2, id, stamp(at)))
}
