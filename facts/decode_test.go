package facts_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
)

// referenceDecode reads the same fields as facts.Decode through
// encoding/json, as the expected result of Decode.
func referenceDecode(t testing.TB, raw []byte) *facts.Event {
	t.Helper()
	var w struct {
		ID, Type, Action, EventTime string
		Actor                       struct{ ID, Email string }
		Object                      struct {
			ID, Subject string
			App         struct{ Name string }
		}
		Generated struct {
			Items []struct {
				Type, SubType, StartDate, EndDate string
				Value                             float64
			}
			Extensions struct{ PctCompleteApp *float64 }
		}
		Extensions struct{ RunID, CourseID any }
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatalf("reference decode: %v", err)
	}
	parse := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("reference decode: %v", err)
		}
		return v.UTC()
	}
	text := func(v any) string {
		switch x := v.(type) {
		case string:
			return x
		case float64:
			b, _ := json.Marshal(x)
			return string(b)
		}
		return ""
	}
	e := &facts.Event{ID: w.ID, Time: parse(w.EventTime), StudentID: w.Actor.ID, Email: w.Actor.Email,
		ObjectID: w.Object.ID, Subject: timeback.Subject(w.Object.Subject), AppName: w.Object.App.Name,
		RunID: text(w.Extensions.RunID), CourseID: text(w.Extensions.CourseID), Kind: facts.KindTimeSpent}
	if w.Type == "ActivityEvent" {
		e.Kind = facts.KindCompleted
		e.Metrics.PctCompleteApp = w.Generated.Extensions.PctCompleteApp
	}
	for _, it := range w.Generated.Items {
		v := it.Value
		if e.Kind == facts.KindCompleted {
			switch it.Type {
			case "xpEarned":
				e.Metrics.XPEarned = v
			case "totalQuestions":
				e.Metrics.TotalQuestions = &v
			case "correctQuestions":
				e.Metrics.CorrectQuestions = &v
			case "masteredUnits":
				e.Metrics.MasteredUnits = &v
			}
			continue
		}
		e.Items = append(e.Items, timeback.TimeItem{Type: timeback.TimeCategory(it.Type), Seconds: v,
			SubType: it.SubType, Start: parse(it.StartDate), End: parse(it.EndDate)})
	}
	return e
}

// decodeCases are TimebackProfile events written in the ways JSON allows:
// escapes, white space, numbers as run ids, nulls and unknown members.
func decodeCases(t testing.TB) map[string]string {
	cases := map[string]string{
		"completed":  completedJSON,
		"time spent": timeSpentJSON,
		"escaped": strings.Replace(timeSpentJSON, `"subject": "Math"`,
			`"subject": "Ma\u0074h", "name": "caf\u00e9 \"quoted\" \\ \/ \ud83d\ude00"`, 1),
		"escaped key":    strings.Replace(timeSpentJSON, `"runId"`, `"run\u0049d"`, 1),
		"number run id":  strings.Replace(timeSpentJSON, `"f47ac10b-58cc-4372-a567-0e02b2c3d479"`, `1.5e3`, 1),
		"object run id":  strings.Replace(timeSpentJSON, `"f47ac10b-58cc-4372-a567-0e02b2c3d479"`, `{"a": [1]}`, 1),
		"null email":     strings.Replace(timeSpentJSON, `"student-123@example.com"`, `null`, 1),
		"null pct":       strings.Replace(completedJSON, `"pctCompleteApp": 67`, `"pctCompleteApp": null`, 1),
		"subtype":        strings.Replace(timeSpentJSON, `"type": "inactive",`, `"type": "inactive", "subType": "video",`, 1),
		"compact":        compact(t, timeSpentJSON),
		"tab indented":   strings.ReplaceAll(timeSpentJSON, "  ", "\t"),
		"nested unknown": strings.Replace(completedJSON, `"generated": {`, `"edApp": {"id": "urn:x", "a": [true, false, null, -0.5e-3, {"b": []}]}, "generated": {`, 1),
	}
	return cases
}

func compact(t testing.TB, raw string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for name, raw := range decodeCases(t) {
		got, err := facts.Decode([]byte(raw))
		if err != nil {
			t.Errorf("%s: Decode: %v", name, err)
			continue
		}
		if want := referenceDecode(t, []byte(raw)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Decode = %+v\nwant %+v", name, got, want)
		}
	}
}

func TestDecodeRejectsBadJSON(t *testing.T) {
	for _, raw := range []string{
		``, `{`, `{"id": "x",}`, `{"id" "x"}`, `{"id": "x"} {}`, `{"profile": "TimebackProfile", "id": "unterminated}`,
		`{"profile": "TimebackProfile", "a": tru}`, `{"profile": "TimebackProfile", "a": 1.}`,
		`{"profile": "TimebackProfile", "a": "tab	in string"}`, `{"profile": "TimebackProfile", "a": [1 2]}`,
	} {
		if _, err := facts.Decode([]byte(raw)); err == nil {
			t.Errorf("Decode(%q) = nil error, want invalid JSON", raw)
		}
	}
	wrong := strings.Replace(timeSpentJSON, `"value": 15`, `"value": "15"`, 1)
	if _, err := facts.Decode([]byte(wrong)); err == nil || !strings.Contains(err.Error(), "generated.items[0].value is not a number") {
		t.Errorf("Decode of a string value: error %v, want one naming generated.items[0].value", err)
	}
}

// FuzzDecode checks that Decode accepts only valid JSON and, for what it
// accepts, reads the same fields as encoding/json.
func FuzzDecode(f *testing.F) {
	for _, raw := range decodeCases(f) {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := facts.Decode(raw)
		if err != nil {
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("Decode accepted invalid JSON %q", raw)
		}
		// encoding/json matches keys case-insensitively and Decode does
		// not, so compare only events without such near-miss keys.
		var probe any
		if json.Unmarshal(raw, &probe) != nil || !exactKeys(probe) {
			return
		}
		if want := referenceDecode(t, raw); !reflect.DeepEqual(e, want) {
			t.Fatalf("Decode(%q) = %+v\nwant %+v", raw, e, want)
		}
	})
}

var decodedKeys = []string{"id", "type", "action", "profile", "eventTime", "actor", "email", "object",
	"subject", "app", "name", "generated", "items", "value", "subType", "startDate", "endDate",
	"extensions", "pctCompleteApp", "runId", "courseId"}

// exactKeys reports whether no key in v differs from one that Decode reads
// only by case.
func exactKeys(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			for _, d := range decodedKeys {
				if k != d && strings.EqualFold(k, d) {
					return false
				}
			}
			if !exactKeys(sub) {
				return false
			}
		}
	case []any:
		for _, sub := range x {
			if !exactKeys(sub) {
				return false
			}
		}
	}
	return true
}

// BenchmarkDecode measures Decode of one TimeSpentEvent, which a store
// runs for every event it adds.
func BenchmarkDecode(b *testing.B) {
	raw := []byte(timeSpentJSON)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := facts.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
