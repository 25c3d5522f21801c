package caliper

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecodeMatchesEncodingJSON compares the strict decoder with
// encoding/json: it never accepts what encoding/json rejects, it rejects
// what encoding/json accepts only for the stricter rules it adds (valid
// UTF-8, paired surrogates, the nesting limit), and it decodes every string
// and member name to the same text.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2.5e3,-0.1]`, `{"a\u00e9":"\ud83d\ude00\n"}`, `"\/\\\""`,
		`{"a":1,"a":2}`, "\"\xff\"", `"\ud800"`, `[[[[]]]]`, `nul`, `{"x":tru}`, `1e400`, `-0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, problems := decode(data)
		valid := json.Valid(data)
		if doc != nil && !valid {
			t.Fatalf("decoder accepted %q, which encoding/json rejects", data)
		}
		if doc == nil {
			if valid && !stricterRule(problems) {
				t.Fatalf("decoder rejected %q, which encoding/json accepts: %v", data, problems)
			}
			return
		}
		for i := range doc.nodes {
			n := &doc.nodes[i]
			if n.kind == jsonString {
				var want string
				if err := json.Unmarshal(doc.raw(int32(i)), &want); err != nil {
					t.Fatalf("string %s: encoding/json: %v", doc.raw(int32(i)), err)
				}
				if got := doc.text(int32(i)); got != want {
					t.Fatalf("string %s: got %q, want %q", doc.raw(int32(i)), got, want)
				}
			}
			if n.parent >= 0 && n.keyEnd >= 0 {
				var want string
				raw := doc.data[n.keyStart-1 : n.keyEnd+1]
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatalf("key %s: encoding/json: %v", raw, err)
				}
				if got := doc.key(int32(i)); got != want {
					t.Fatalf("key %s: got %q, want %q", raw, got, want)
				}
			}
		}
	})
}

// stricterRule reports whether problems name a rule that the decoder adds to
// RFC 8259 syntax, which encoding/json does not check.
func stricterRule(problems Problems) bool {
	for _, p := range problems {
		for _, rule := range []string{"UTF-8", "surrogate", "maximum depth", "byte order mark"} {
			if strings.Contains(p.Message, rule) {
				return true
			}
		}
	}
	return false
}
