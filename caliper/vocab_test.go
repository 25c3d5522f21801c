package caliper

import (
	"testing"
	"time"
)

func TestVocabularySizes(t *testing.T) {
	if got, want := len(EntityTypes()), 73; got != want {
		t.Errorf("EntityTypes() has %d types, want %d", got, want)
	}
	if got, want := len(EventTypes()), 22; got != want {
		t.Errorf("EventTypes() has %d types, want %d", got, want)
	}
	if got, want := len(split(actionList, ",")), 80+4; got != want {
		t.Errorf("actionList has %d spellings, want %d: 80 actions and 4 alternative spellings", got, want)
	}
}

func TestReadingEntityValid(t *testing.T) {
	doc := `{"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
		"id": "https://example.edu/readings/1", "type": "Reading", "name": "Chapter one"}`
	r := Validate([]byte(doc), Options{})
	if !r.Problems.Valid(true) {
		t.Errorf("Reading entity: problems %v, want none", r.Problems)
	}
}

func TestExceedsWindowMilliseconds(t *testing.T) {
	start := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	for ms := int64(1); ms <= 100000; ms++ {
		end := start.Add(time.Duration(ms) * time.Millisecond)
		if value := float64(ms) / 1000; ExceedsWindow(value, start, end) {
			t.Fatalf("ExceedsWindow(%v, window of %d ms) = true, want false", value, ms)
		}
		if value := float64(ms+1) / 1000; !ExceedsWindow(value, start, end) {
			t.Fatalf("ExceedsWindow(%v, window of %d ms) = false, want true", value, ms)
		}
	}
}

func TestAppendStringEscapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"quote \" and \\", `"quote \" and \\"`},
		{"\b\f\n\r\t\x01", `"\b\f\n\r\t\u0001"`},
		{"café ✓", `"café ✓"`},
		{"bad \xff byte", `"bad ` + "\ufffd" + ` byte"`},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
