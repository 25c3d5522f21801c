package timeback

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go/caliper"
)

// richCompleted is an ActivityEvent/Completed that uses every field the
// Common and Completion types carry.
const richCompleted = `{"@context":"http://purl.imsglobal.org/ctx/caliper/v1p2",
 "id":"urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594","type":"ActivityEvent","action":"Completed",
 "profile":"TimebackProfile","eventTime":"2026-01-27T11:03:00.250+01:00",
 "edApp":{"id":"https://myapp.example.com","type":"SoftwareApplication"},
 "actor":{"id":"https://api.example.com/users/student-123","type":"TimebackUser","email":"student-123@example.com"},
 "object":{"id":"https://myapp.example.com/activities/1","type":"TimebackActivityContext","subject":"Social Studies",
  "app":{"name":"My \u0041pp","id":"https://myapp.example.com"},
  "course":{"id":"https://myapp.example.com/courses/3","name":"Grade 3"},"activity":{"name":"Lesson 1"}},
 "generated":{"id":"https://api.example.com/collections/abc-123","type":"TimebackActivityMetricsCollection",
  "items":[{"type":"xpEarned","value":12.5},{"type":"totalQuestions","value":10},
   {"type":"correctQuestions","value":8},{"type":"masteredUnits","value":0}],
  "extensions":{"pctCompleteApp":67.5}},
 "extensions":{"runId":"run-1","courseId":"MATH-3","big":12345678901234567890,"nested":{"a":[true,null,"x",1.50]}}}`

func TestParseEventFields(t *testing.T) {
	e, problems := ParseEvent([]byte(richCompleted))
	got, ok := e.(*ActivityCompleted)
	if !ok {
		t.Fatalf("got %T (%v), want *ActivityCompleted", e, problems)
	}
	if len(problems) != 1 || problems[0].Pointer != "/eventTime" {
		t.Errorf("got problems %v, want one warning about the +01:00 offset", problems)
	}
	want := &ActivityCompleted{
		Common: Common{
			ID:          "urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594",
			EventTime:   time.Date(2026, 1, 27, 10, 3, 0, 250e6, time.UTC),
			Actor:       User{ID: "https://api.example.com/users/student-123", Email: "student-123@example.com"},
			GeneratedID: "https://api.example.com/collections/abc-123",
			EdApp:       "https://myapp.example.com",
			RunID:       "run-1",
			CourseID:    "MATH-3",
			Extensions: map[string]any{
				"big":    json.Number("12345678901234567890"),
				"nested": map[string]any{"a": []any{true, nil, "x", json.Number("1.50")}},
			},
			Object: ActivityContext{
				ID: "https://myapp.example.com/activities/1", Subject: SubjectSocialStudies,
				AppName: "My App", AppID: "https://myapp.example.com",
				Course:   &Named{ID: "https://myapp.example.com/courses/3", Name: "Grade 3"},
				Activity: &Named{Name: "Lesson 1"},
			},
		},
		Metrics: Completion{XPEarned: 12.5, TotalQuestions: ptr(10), CorrectQuestions: ptr(8),
			MasteredUnits: ptr(0), PctCompleteApp: ptr(67.5)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%#v\nwant\n%#v", got, want)
	}
}

func TestParseEventKeepsExtensionNumbers(t *testing.T) {
	e, problems := ParseEvent([]byte(richCompleted))
	if e == nil {
		t.Fatalf("got problems %v", problems)
	}
	out, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"big":12345678901234567890`) {
		t.Errorf("got %s, want the extension literal 12345678901234567890 unchanged", out)
	}
	if !strings.Contains(string(out), `"nested":{"a":[true,null,"x",1.50]}`) {
		t.Errorf("got %s, want the nested extension unchanged", out)
	}
}

func TestParseEventRejectsOtherProfile(t *testing.T) {
	in := strings.Replace(richCompleted, `"profile":"TimebackProfile"`, `"profile":"GeneralProfile"`, 1)
	e, problems := ParseEvent([]byte(in))
	if e != nil || problems.Valid(false) {
		t.Errorf("got %v, %v; want nil and an error", e, problems)
	}
}

// FuzzParseEvent checks that ParseEvent never panics and that an event it
// returns encodes to a valid event that parses back to the same value.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(richCompleted))
	for _, name := range []string{"activity_completed.json", "time_spent.json"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, _ := ParseEvent(data)
		if e == nil {
			return
		}
		out, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		again, problems := ParseEvent(out)
		if again == nil {
			t.Fatalf("encoding %s of a parsed event is invalid: %v", out, problems)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip changed the event:\n got %#v\nwant %#v", again, e)
		}
	})
}

func BenchmarkParseEvent(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "activity_completed.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ParseEvent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if e, problems := ParseEvent(data); e == nil {
				b.Fatal(problems)
			}
		}
	})
	b.Run("Validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r := caliper.Validate(data, caliper.Options{}); !r.Valid(caliper.Options{}) {
				b.Fatal(r.Problems)
			}
		}
	})
}
