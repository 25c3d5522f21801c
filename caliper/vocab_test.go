package caliper

import "testing"

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
