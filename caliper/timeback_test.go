package caliper_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/timeback/timeback-go/caliper"
)

// mutate reads a TimebackProfile example from testdata, applies change to
// its decoded form and returns the re-encoded event.
func mutate(t *testing.T, file string, change func(e map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	change(e)
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(e map[string]any, path ...string) map[string]any {
	for _, p := range path {
		e = e[p].(map[string]any)
	}
	return e
}

func items(e map[string]any) []any { return obj(e, "generated")["items"].([]any) }

func item(e map[string]any, i int) map[string]any { return items(e)[i].(map[string]any) }

func TestTimebackExamplesValid(t *testing.T) {
	for _, file := range []string{"activity_completed.json", "time_spent.json"} {
		data, err := os.ReadFile("../testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		r := caliper.Validate(data, caliper.Options{Strict: true})
		if len(r.Problems) > 0 {
			t.Errorf("%s: got %v, want no problems", file, r.Problems)
		}
		if r.Kind != caliper.KindEvent {
			t.Errorf("%s: got kind %v, want event", file, r.Kind)
		}
	}
}

func TestTimebackPlaceholderEmailInvalid(t *testing.T) {
	data := mutate(t, "activity_completed.json", func(e map[string]any) {
		obj(e, "actor")["email"] = "[email protected]"
	})
	assertOne(t, data, caliper.Options{}, "/actor/email", `actor.email "[email protected]" is not an e-mail address`)
}

// timebackRules lists one small invalid variant per TimebackProfile rule with
// the one problem it must produce.
var timebackRules = []struct {
	name    string
	file    string
	change  func(e map[string]any)
	pointer string
	message string
}{
	{"context other version", "activity_completed.json", func(e map[string]any) {
		e["@context"] = "http://purl.imsglobal.org/ctx/caliper/v1p1"
	}, "/@context", `@context "http://purl.imsglobal.org/ctx/caliper/v1p1" is not the Caliper 1.2 context`},
	{"context array", "activity_completed.json", func(e map[string]any) {
		e["@context"] = []any{caliper.ContextV1p2}
	}, "/@context", "@context is an array; a TimebackProfile event uses exactly"},
	{"profile missing", "activity_completed.json", func(e map[string]any) {
		delete(e, "profile")
	}, "/profile", `profile is missing; ActivityEvent must declare "TimebackProfile"`},
	{"profile other", "time_spent.json", func(e map[string]any) {
		e["profile"] = "GeneralProfile"
	}, "/profile", `profile "GeneralProfile" does not allow TimeSpentEvent`},
	{"id without urn prefix", "activity_completed.json", func(e map[string]any) {
		e["id"] = "c51570e4-f8ed-4c18-bb3a-dfe51b2cc594"
	}, "/id", `id "c51570e4-f8ed-4c18-bb3a-dfe51b2cc594" is not urn:uuid: followed by a UUID`},
	{"type and action mismatch", "activity_completed.json", func(e map[string]any) {
		e["action"] = "SpentTime"
	}, "/action", `action "SpentTime" is not allowed for ActivityEvent (allowed: Completed)`},
	{"event time with space", "activity_completed.json", func(e map[string]any) {
		e["eventTime"] = "2026-01-27 10:03:00.000Z"
	}, "/eventTime", `eventTime "2026-01-27 10:03:00.000Z" separates date and time with a space`},
	{"event time offset without colon", "activity_completed.json", func(e map[string]any) {
		e["eventTime"] = "2026-01-27T10:03:00.000+0000"
	}, "/eventTime", "has the offset +0000 without a colon"},
	{"actor type", "activity_completed.json", func(e map[string]any) {
		obj(e, "actor")["type"] = "Person"
	}, "/actor/type", `actor.type "Person" is not "TimebackUser"`},
	{"actor as IRI", "activity_completed.json", func(e map[string]any) {
		e["actor"] = "https://api.example.com/users/student-123"
	}, "/actor", "the TimebackProfile requires a TimebackUser object"},
	{"actor id not IRI", "time_spent.json", func(e map[string]any) {
		obj(e, "actor")["id"] = "student-123"
	}, "/actor/id", `actor.id "student-123" is not an absolute IRI`},
	{"actor email missing", "time_spent.json", func(e map[string]any) {
		delete(obj(e, "actor"), "email")
	}, "/actor/email", "actor.email is missing"},
	{"object type", "activity_completed.json", func(e map[string]any) {
		obj(e, "object")["type"] = "DigitalResource"
	}, "/object/type", `object.type "DigitalResource" is not "TimebackActivityContext"`},
	{"subject unknown", "activity_completed.json", func(e map[string]any) {
		obj(e, "object")["subject"] = "Art"
	}, "/object/subject", `object.subject "Art" is not a Timeback subject`},
	{"app name missing", "activity_completed.json", func(e map[string]any) {
		obj(e, "object")["app"] = map[string]any{}
	}, "/object/app/name", "object.app.name is missing"},
	{"app missing", "time_spent.json", func(e map[string]any) {
		delete(obj(e, "object"), "app")
	}, "/object/app", "object.app is missing"},
	{"course without name", "activity_completed.json", func(e map[string]any) {
		obj(e, "object")["course"] = map[string]any{"id": "https://example.com/courses/1"}
	}, "/object/course/name", "object.course.name is missing"},
	{"generated id missing", "activity_completed.json", func(e map[string]any) {
		delete(obj(e, "generated"), "id")
	}, "/generated/id", "generated.id is missing"},
	{"generated type of the other event", "activity_completed.json", func(e map[string]any) {
		obj(e, "generated")["type"] = "TimebackTimeSpentMetricsCollection"
	}, "/generated/type", `generated.type "TimebackTimeSpentMetricsCollection" does not match ActivityEvent`},
	{"generated missing", "time_spent.json", func(e map[string]any) {
		delete(e, "generated")
	}, "/generated", "generated is missing"},
	{"xpEarned missing", "activity_completed.json", func(e map[string]any) {
		obj(e, "generated")["items"] = items(e)[1:]
	}, "/generated/items", "xpEarned is missing"},
	{"totalQuestions without correctQuestions", "activity_completed.json", func(e map[string]any) {
		obj(e, "generated")["items"] = []any{items(e)[0], items(e)[1]}
	}, "/generated/items/1", "totalQuestions 10 has no correctQuestions; send both or neither"},
	{"correctQuestions without totalQuestions", "activity_completed.json", func(e map[string]any) {
		obj(e, "generated")["items"] = []any{items(e)[0], items(e)[2]}
	}, "/generated/items/1", "correctQuestions 8 has no totalQuestions; send both or neither"},
	{"correct exceeds total", "activity_completed.json", func(e map[string]any) {
		item(e, 2)["value"] = 11
	}, "/generated/items/2/value", "correctQuestions 11 exceeds totalQuestions 10"},
	{"metric repeated", "activity_completed.json", func(e map[string]any) {
		obj(e, "generated")["items"] = append(items(e), map[string]any{"type": "xpEarned", "value": 5})
	}, "/generated/items/4/type", `metric type "xpEarned" repeats /generated/items/0`},
	{"metric negative", "activity_completed.json", func(e map[string]any) {
		item(e, 3)["value"] = -1
	}, "/generated/items/3/value", "masteredUnits value -1 is negative"},
	{"metric not a number", "activity_completed.json", func(e map[string]any) {
		item(e, 0)["value"] = "80"
	}, "/generated/items/0/value", `xpEarned value "80" is a string; expected a number`},
	{"metric unknown", "activity_completed.json", func(e map[string]any) {
		item(e, 3)["type"] = "stars"
	}, "/generated/items/3/type", `metric type "stars" is not a completion metric`},
	{"pctCompleteApp as item", "activity_completed.json", func(e map[string]any) {
		item(e, 3)["type"] = "pctCompleteApp"
	}, "/generated/items/3/type", "send it as generated.extensions.pctCompleteApp"},
	{"pctCompleteApp above 100", "activity_completed.json", func(e map[string]any) {
		obj(e, "generated", "extensions")["pctCompleteApp"] = 120
	}, "/generated/extensions/pctCompleteApp", "pctCompleteApp 120 is outside 0-100"},
	{"unknown event property", "activity_completed.json", func(e map[string]any) {
		e["score"] = 3
	}, "/score", `property "score" is not defined for ActivityEvent; put custom data in extensions`},
	{"unknown item property", "activity_completed.json", func(e map[string]any) {
		item(e, 0)["unit"] = "xp"
	}, "/generated/items/0/unit", `property "unit" is not defined for a completion metric`},
	{"runId not a string", "time_spent.json", func(e map[string]any) {
		obj(e, "extensions")["runId"] = 7
	}, "/extensions/runId", "extensions.runId 7 is not a non-empty string"},
	{"time above the daily cap", "time_spent.json", func(e map[string]any) {
		item(e, 1)["value"] = 86401
	}, "/generated/items/1/value", "86401 exceeds the 86400 s maximum"},
	{"time negative", "time_spent.json", func(e map[string]any) {
		item(e, 1)["value"] = -3
	}, "/generated/items/1/value", "inactive value -3 is negative"},
	{"window reversed", "time_spent.json", func(e map[string]any) {
		item(e, 0)["endDate"] = "2026-01-27T09:59:00.000Z"
	}, "/generated/items/0/endDate", "endDate 2026-01-27T09:59:00.000Z is before startDate 2026-01-27T10:00:00.000Z"},
	{"value exceeds its window", "time_spent.json", func(e map[string]any) {
		item(e, 0)["value"] = 20
	}, "/generated/items/0/value", "20 exceeds its window of 15 s from startDate to endDate"},
	{"time category unknown", "time_spent.json", func(e map[string]any) {
		item(e, 1)["type"] = "idle"
	}, "/generated/items/1/type", `time category "idle" is not one of active, inactive, waste, unknown, anti-pattern`},
	{"time category repeated", "time_spent.json", func(e map[string]any) {
		item(e, 1)["type"] = "active"
	}, "/generated/items/1/type", `time category "active" repeats /generated/items/0; each time category and subType may appear once`},
	{"time category and subType repeated", "time_spent.json", func(e map[string]any) {
		item(e, 0)["subType"] = "reading"
		item(e, 1)["type"] = "active"
		item(e, 1)["subType"] = "reading"
	}, "/generated/items/1/type", `time category "active" with subType "reading" repeats /generated/items/0`},
	{"eventTime with a decimal comma", "activity_completed.json", func(e map[string]any) {
		e["eventTime"] = "2026-01-27T10:03:00,000Z"
	}, "/eventTime", `eventTime "2026-01-27T10:03:00,000Z" separates the fraction of a second with a comma; Caliper writes milliseconds after a period`},
	{"generated type names the event", "activity_completed.json", func(e map[string]any) {
		obj(e, "generated")["type"] = "TimebackTimeSpentMetricsCollection"
	}, "/generated/type", "an ActivityEvent generates a TimebackActivityMetricsCollection"},
	{"time items empty", "time_spent.json", func(e map[string]any) {
		obj(e, "generated")["items"] = []any{}
	}, "/generated/items", "generated.items is empty"},
	{"start date invalid", "time_spent.json", func(e map[string]any) {
		item(e, 0)["startDate"] = "2026-01-27"
	}, "/generated/items/0/startDate", `startDate "2026-01-27" is not an ISO 8601 date and time`},
	{"subType not a string", "time_spent.json", func(e map[string]any) {
		item(e, 1)["subType"] = 4
	}, "/generated/items/1/subType", "subType is a number; expected a string"},
}

func TestTimebackRules(t *testing.T) {
	for _, tt := range timebackRules {
		t.Run(tt.name, func(t *testing.T) {
			assertOne(t, mutate(t, tt.file, tt.change), caliper.Options{}, tt.pointer, tt.message)
		})
	}
}

func TestTimebackWarnings(t *testing.T) {
	for _, tt := range []struct {
		eventTime, message string
	}{
		{"2026-01-27T10:03:00.000+00:00", "has the offset +00:00; Caliper requires UTC written as Z"},
		{"2026-01-27T10:03:00Z", "has no milliseconds"},
		{"2026-01-27T10:03:00.5Z", "has 1 fractional digit; Caliper"},
		{"2026-01-27T10:03:00.123456Z", "has 6 fractional digits; Caliper"},
	} {
		data := mutate(t, "activity_completed.json", func(e map[string]any) { e["eventTime"] = tt.eventTime })
		r := caliper.Validate(data, caliper.Options{})
		if !r.Problems.Valid(false) {
			t.Errorf("eventTime %s: got %v, want valid with a warning", tt.eventTime, r.Problems)
		}
		if len(r.Problems) != 1 || r.Problems[0].Severity != caliper.SeverityWarning {
			t.Fatalf("eventTime %s: got %v, want one warning", tt.eventTime, r.Problems)
		}
		if got := r.Problems[0]; got.Pointer != "/eventTime" || !strings.Contains(got.Message, tt.message) {
			t.Errorf("eventTime %s: got %v, want /eventTime: ...%s", tt.eventTime, got, tt.message)
		}
		strict := caliper.Validate(data, caliper.Options{Strict: true})
		if strict.Problems.Valid(true) || strict.Problems[0].Severity != caliper.SeverityError {
			t.Errorf("eventTime %s strict: got %v, want an error", tt.eventTime, strict.Problems)
		}
	}
}

// assertOne checks that data has exactly one problem, an error at pointer
// whose message contains message.
func assertOne(t *testing.T, data []byte, opts caliper.Options, pointer, message string) {
	t.Helper()
	r := caliper.Validate(data, opts)
	if len(r.Problems) != 1 {
		t.Fatalf("got %d problems %v, want one at %s", len(r.Problems), r.Problems, pointer)
	}
	got := r.Problems[0]
	if got.Pointer != pointer {
		t.Errorf("got pointer %q, want %q (message %q)", got.Pointer, pointer, got.Message)
	}
	if !strings.Contains(got.Message, message) {
		t.Errorf("got message %q, want it to contain %q", got.Message, message)
	}
	if got.Severity != caliper.SeverityError {
		t.Errorf("got severity %v, want error", got.Severity)
	}
}
