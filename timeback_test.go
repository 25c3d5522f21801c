package timeback

import (
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go/caliper"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

func common() Common {
	return Common{
		ID:        "urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594",
		EventTime: time.Date(2026, 1, 27, 10, 3, 0, 0, time.UTC),
		Actor: User{ID: "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123",
			Email: "student-123@example.com"},
		Object: ActivityContext{ID: "https://myapp.example.com/activities/Math/g3/lesson-1",
			Subject: SubjectMath, AppName: "My App"},
		GeneratedID: "https://api.example.com/ims/metrics/collections/activity/abc-123",
		RunID:       "f47ac10b-58cc-4372-a567-0e02b2c3d479",
		CourseID:    "MATH-3",
	}
}

func ptr(v float64) *float64 { return &v }

func TestNewActivityCompletedValid(t *testing.T) {
	e, err := NewActivityCompleted(common(), Completion{XPEarned: 80, TotalQuestions: ptr(10),
		CorrectQuestions: ptr(8), MasteredUnits: ptr(1), PctCompleteApp: ptr(67)})
	if err != nil {
		t.Fatal(err)
	}
	data, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if r := caliper.Validate(data, caliper.Options{Strict: true}); len(r.Problems) > 0 {
		t.Errorf("got %v for %s, want a valid event", r.Problems, data)
	}
}

func TestConstructorFillsDefaults(t *testing.T) {
	c := common()
	c.ID, c.GeneratedID, c.EventTime = "", "", time.Time{}
	before := time.Now().Add(-time.Second)
	e, err := NewTimeSpent(c, TimeItem{Type: TimeActive, Seconds: 15})
	if err != nil {
		t.Fatal(err)
	}
	if !caliper.IsUUIDURN(e.ID) || e.ID[len("urn:uuid:")+14] != '4' {
		t.Errorf("got id %q, want a urn:uuid version 4", e.ID)
	}
	if !caliper.IsUUIDURN(e.GeneratedID) {
		t.Errorf("got generated id %q, want a urn:uuid", e.GeneratedID)
	}
	if e.EventTime.Before(before) || e.EventTime.Location() != time.UTC || e.EventTime.Nanosecond()%1e6 != 0 {
		t.Errorf("got event time %v, want now in UTC with milliseconds", e.EventTime)
	}
}

func TestNewEventIDDistinct(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewEventID()
		if seen[id] || !caliper.IsUUIDURN(id) {
			t.Fatalf("got %q twice or malformed", id)
		}
		seen[id] = true
	}
}

func TestConstructorErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(c *Common, m *Completion)
		want   string
	}{
		{"id", func(c *Common, m *Completion) { c.ID = "1234" }, `id: "1234" is not urn:uuid:`},
		{"actor id", func(c *Common, m *Completion) { c.Actor.ID = "student-123" }, `actor.id: "student-123" is not an absolute IRI`},
		{"email", func(c *Common, m *Completion) { c.Actor.Email = "[email protected]" }, `actor.email: "[email protected]" is not an e-mail address`},
		{"subject", func(c *Common, m *Completion) { c.Object.Subject = "Art" }, `object.subject: "Art" is not a Timeback subject`},
		{"app name", func(c *Common, m *Completion) { c.Object.AppName = "" }, "object.app.name: missing"},
		{"course name", func(c *Common, m *Completion) { c.Object.Course = &Named{ID: "https://e.org/c"} }, "object.course.name: missing"},
		{"generated id", func(c *Common, m *Completion) { c.GeneratedID = "abc" }, `generated.id: "abc" is not an absolute IRI`},
		{"edApp", func(c *Common, m *Completion) { c.EdApp = "my app" }, `edApp: "my app" is not an absolute IRI`},
		{"reserved extension", func(c *Common, m *Completion) { c.Extensions = map[string]any{"runId": "x"} }, `extensions: key "runId" belongs in Common.RunID`},
		{"extension not JSON", func(c *Common, m *Completion) { c.Extensions = map[string]any{"f": func() {}} }, "extensions: value cannot be encoded as JSON"},
		{"negative xp", func(c *Common, m *Completion) { m.XPEarned = -1 }, "xpEarned: -1 is negative"},
		{"NaN xp", func(c *Common, m *Completion) { m.XPEarned = math.NaN() }, "xpEarned: NaN is not a finite number"},
		{"total alone", func(c *Common, m *Completion) { m.TotalQuestions = ptr(10) }, "correctQuestions: missing; totalQuestions 10 needs correctQuestions"},
		{"correct alone", func(c *Common, m *Completion) { m.CorrectQuestions = ptr(3) }, "totalQuestions: missing; correctQuestions 3 needs totalQuestions"},
		{"correct above total", func(c *Common, m *Completion) { m.TotalQuestions, m.CorrectQuestions = ptr(5), ptr(6) }, "correctQuestions: 6 exceeds totalQuestions 5"},
		{"pct above 100", func(c *Common, m *Completion) { m.PctCompleteApp = ptr(101) }, "pctCompleteApp: 101 exceeds the maximum of 100"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, m := common(), Completion{XPEarned: 10}
			tt.change(&c, &m)
			_, err := NewActivityCompleted(c, m)
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want ErrInvalidEvent containing %q", err, tt.want)
			}
		})
	}
}

func TestTimeItemErrors(t *testing.T) {
	start := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		items []TimeItem
		want  string
	}{
		{"none", nil, "at least one time item"},
		{"category", []TimeItem{{Type: "idle", Seconds: 1}}, `generated.items[0].type: "idle" is not a time category`},
		{"cap", []TimeItem{{Type: TimeActive, Seconds: 86401}}, "generated.items[0].value: 86401 exceeds the 86400 s maximum"},
		{"negative", []TimeItem{{Type: TimeWaste, Seconds: -1}}, "generated.items[0].value: -1 is negative"},
		{"reversed", []TimeItem{{Type: TimeActive, Seconds: 1, Start: start, End: start.Add(-time.Second)}}, "generated.items[0].endDate: 2026-01-27T09:59:59.000Z is before startDate 2026-01-27T10:00:00.000Z"},
		{"window", []TimeItem{{Type: TimeActive, Seconds: 16, Start: start, End: start.Add(15 * time.Second)}}, "generated.items[0].value: 16 exceeds its window of 15 s"},
		{"repeated", []TimeItem{{Type: TimeActive, Seconds: 1}, {Type: TimeActive, Seconds: 2}}, `generated.items[1].type: "active" repeats item 0`},
		{"repeated subType", []TimeItem{{Type: TimeActive, SubType: "reading", Seconds: 1}, {Type: TimeActive, SubType: "reading", Seconds: 2}}, `generated.items[1].type: "active" with subType "reading" repeats item 0`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTimeSpent(common(), tt.items...)
			if err == nil || !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrInvalidEvent containing %q", err, tt.want)
			}
		})
	}
}

// TestGoldenRoundTrip decodes each example, encodes it again, compares the
// encoding with its golden file and checks that no content was lost.
func TestGoldenRoundTrip(t *testing.T) {
	for _, name := range []string{"activity_completed", "time_spent"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			e, problems := ParseEvent(in)
			if e == nil {
				t.Fatalf("got problems %v", problems)
			}
			out, err := e.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := string(out) + "\n"; got != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			cin, err := caliper.Canonical(in)
			if err != nil {
				t.Fatal(err)
			}
			cout, err := caliper.Canonical(out)
			if err != nil {
				t.Fatal(err)
			}
			if string(cin) != string(cout) {
				t.Errorf("content changed in the round trip:\n in %s\nout %s", cin, cout)
			}
		})
	}
}

func TestParseEventRejects(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"invalid JSON", `{`, "invalid JSON"},
		{"entity", `{"@context":"` + caliper.ContextV1p2 + `","id":"https://e.org/1","type":"Person"}`,
			"document is an entity, not a TimebackProfile event"},
		{"other profile", `{"@context":"` + caliper.ContextV1p2 + `","id":"urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594",` +
			`"type":"Event","profile":"GeneralProfile","action":"Created","eventTime":"2026-01-27T10:03:00.000Z",` +
			`"actor":"https://e.org/u/1","object":"https://e.org/d/1"}`, `profile "GeneralProfile" is not TimebackProfile`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, problems := ParseEvent([]byte(tt.in))
			if e != nil || !strings.Contains(problems.Error(), tt.want) {
				t.Errorf("got %v, %v; want nil and %q", e, problems, tt.want)
			}
		})
	}
}

func TestParseEventTypes(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "time_spent.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, problems := ParseEvent(in)
	ts, ok := e.(*TimeSpent)
	if !ok {
		t.Fatalf("got %T (%v), want *TimeSpent", e, problems)
	}
	if len(ts.Items) != 2 || ts.Items[0].Seconds != 15 || ts.Items[0].End.Sub(ts.Items[0].Start) != 15*time.Second {
		t.Errorf("got items %+v", ts.Items)
	}
	if ts.RunID != "f47ac10b-58cc-4372-a567-0e02b2c3d479" || ts.CourseID != "MATH-3" || ts.Actor.Email != "student-123@example.com" {
		t.Errorf("got common %+v", ts.Common)
	}
}
