package timeback_test

import (
	"fmt"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
)

func exampleCommon() timeback.Common {
	return timeback.Common{
		ID:        "urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594",
		EventTime: time.Date(2026, 1, 27, 10, 3, 0, 0, time.UTC),
		Actor: timeback.User{
			ID:    "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123",
			Email: "student-123@example.com",
		},
		Object: timeback.ActivityContext{
			ID:      "https://myapp.example.com/activities/Math/g3/lesson-1",
			Subject: timeback.SubjectMath,
			AppName: "My App",
		},
		GeneratedID: "https://api.example.com/ims/metrics/collections/activity/abc-123",
		RunID:       "f47ac10b-58cc-4372-a567-0e02b2c3d479",
	}
}

func ExampleNewActivityCompleted() {
	total, correct := 10.0, 8.0
	e, err := timeback.NewActivityCompleted(exampleCommon(), timeback.Completion{
		XPEarned: 80, TotalQuestions: &total, CorrectQuestions: &correct,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _ := e.MarshalJSON()
	r := caliper.Validate(data, caliper.Options{Strict: true})
	fmt.Println(e.EventID(), r.Kind, len(r.Problems))
	// Output: urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594 event 0
}

func ExampleNewTimeSpent() {
	start := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	e, err := timeback.NewTimeSpent(exampleCommon(),
		timeback.TimeItem{Type: timeback.TimeActive, Seconds: 15, Start: start, End: start.Add(15 * time.Second)},
		timeback.TimeItem{Type: timeback.TimeInactive, Seconds: 0},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _ := e.MarshalJSON()
	fmt.Println(caliper.Validate(data, caliper.Options{}).Problems.Valid(true))

	// A value above its window is rejected before anything is sent.
	_, err = timeback.NewTimeSpent(exampleCommon(),
		timeback.TimeItem{Type: timeback.TimeActive, Seconds: 20, Start: start, End: start.Add(15 * time.Second)})
	fmt.Println(err)
	// Output:
	// true
	// timeback: invalid event: generated.items[0].value: 20 exceeds its window of 15 s from startDate to endDate
}

func ExampleParseEvent() {
	e, problems := timeback.ParseEvent([]byte(`{"@context":"http://purl.imsglobal.org/ctx/caliper/v1p2",
		"id":"urn:uuid:a1b2c3d4-e5f6-7890-abcd-ef1234567890","type":"TimeSpentEvent","action":"SpentTime",
		"profile":"TimebackProfile","eventTime":"2026-01-27T10:00:15.000Z",
		"actor":{"id":"https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123",
			"type":"TimebackUser","email":"student-123@example.com"},
		"object":{"id":"https://myapp.example.com/activities/Math/g3/lesson-1",
			"type":"TimebackActivityContext","subject":"Math","app":{"name":"My App"}},
		"generated":{"id":"https://api.example.com/ims/metrics/collections/time-spent/def-456",
			"type":"TimebackTimeSpentMetricsCollection","items":[{"type":"active","value":86401}]}}`))
	fmt.Println(e == nil)
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// true
	// /generated/items/0/value: 86401 exceeds the 86400 s maximum
}
