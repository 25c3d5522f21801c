package caliper_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go/caliper"
	"github.com/timeback/timeback-go/internal/fixtures"
)

func TestBadInput(t *testing.T) {
	deep := bytes.Repeat([]byte("["), 10<<20)
	for _, tt := range []struct {
		name    string
		input   []byte
		pointer string
		message string
	}{
		{"empty", nil, "", "empty document: expected a JSON value"},
		{"white space", []byte(" \n\t"), "", "empty document"},
		{"not JSON", []byte("hello"), "", "invalid JSON at line 1, column 1: unexpected character 'h', expected a value"},
		{"word like a literal", []byte("not json"), "", `invalid JSON at line 1, column 1: unexpected "not", expected a JSON value`},
		{"truncated literal", []byte("[tru]"), "", `line 1, column 2: unexpected "tru", expected a JSON value`},
		{"huge number in array", []byte(`[1e400]`), "/0", "number 1e400 is outside the range"},
		{"negative zero in array", []byte(`[-0.0]`), "/0", "number -0.0 is negative zero"},
		{"negative underflow", []byte(`[-1e-400]`), "/0", "number -1e-400 is too small for a 64-bit floating-point number and rounds to negative zero"},
		{"top-level string", []byte(`"event"`), "", `document is a string ("event"); expected a Caliper event`},
		{"top-level number", []byte(`42`), "", "document is a number (42)"},
		{"top-level null", []byte(`null`), "", "document is null; expected a Caliper event"},
		{"nested arrays", deep, "", "nesting exceeds the maximum depth of 512"},
		{"byte order mark", []byte("\xEF\xBB\xBF{}"), "", "byte order mark"},
		{"invalid UTF-8", []byte("{\"a\":\"\xff\"}"), "", "line 1, column 7: invalid UTF-8 byte 0xff in string"},
		{"huge number", []byte(`1e400`), "", "number 1e400 is outside the range of a 64-bit floating-point number"},
		{"negative zero", []byte(`-0`), "", "number -0 is negative zero; write 0"},
		{"NaN", []byte(`{"value": NaN}`), "", "line 1, column 11: NaN is not a JSON value"},
		{"Infinity", []byte(`[-Infinity]`), "", "-Infinity is not a JSON value"},
		{"trailing comma", []byte("{\n  \"a\": 1,\n}"), "", "line 3, column 1: trailing comma before '}'"},
		{"second value", []byte(`{} {}`), "", "unexpected character '{' after the top-level value"},
		{"lone surrogate", []byte(`"\udc00"`), "", `unpaired UTF-16 surrogate \udc00`},
		{"control character", []byte("\"a\tb\""), "", "control character 0x09 in string"},
		{"leading zero", []byte(`[01]`), "", "number has a leading zero"},
		{"single quotes", []byte(`{'a': 1}`), "", "expected a member name in double quotes"},
		{"unterminated", []byte(`{"a": "b`), "", "string is not terminated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := caliper.Validate(tt.input, caliper.Options{})
			if len(r.Problems) != 1 {
				t.Fatalf("got %d problems %v, want one", len(r.Problems), r.Problems)
			}
			got := r.Problems[0]
			if got.Pointer != tt.pointer || !strings.Contains(got.Message, tt.message) {
				t.Errorf("got %q at %q, want %q at %q", got.Message, got.Pointer, tt.message, tt.pointer)
			}
		})
	}
}

func TestDuplicateKeyPointer(t *testing.T) {
	data := mutate(t, "time_spent.json", func(e map[string]any) {})
	// Repeat the actor's email inside the actor object.
	data = bytes.Replace(data, []byte(`"email":`), []byte(`"email":"a@example.com","email":`), 1)
	assertOne(t, data, caliper.Options{}, "/actor/email", `duplicate key "email"`)
}

func TestDuplicateKeyEscaped(t *testing.T) {
	r := caliper.Validate([]byte(`{"type":"Person","id":"https://e.org/1","\u0069d":"https://e.org/2",`+
		`"@context":"`+caliper.ContextV1p2+`"}`), caliper.Options{})
	if len(r.Problems) != 1 || r.Problems[0].Pointer != "/id" {
		t.Fatalf("got %v, want one duplicate key problem at /id", r.Problems)
	}
}

func TestDocumentAboveMaxSize(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 2 GiB of address space; skipped with -short")
	}
	// The slice is never written, so the operating system backs it with
	// shared zero pages.
	data := make([]byte, caliper.MaxDocumentBytes+1)
	assertOne(t, data, caliper.Options{}, "", "document is 2147483648 bytes; the maximum is 2147483647 bytes")
}

func TestDuplicateKeyReportedOnce(t *testing.T) {
	r := caliper.Validate([]byte(`{"type":"Person","a":1,"b":2,"a":3,"a":4}`), caliper.Options{})
	var dups []string
	for _, p := range r.Problems {
		if strings.HasPrefix(p.Message, "duplicate key") {
			dups = append(dups, p.Pointer)
		}
	}
	if len(dups) != 2 {
		t.Errorf("got %d duplicate key problems %v, want 2 (one per repeated member)", len(dups), r.Problems)
	}
}

func TestDuplicateKeyReportedOnceLargeObject(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"Person"`)
	for i := range 30 {
		fmt.Fprintf(&b, `,"k%d":1`, i)
	}
	b.WriteString(`,"k1":2,"k1":3}`)
	r := caliper.Validate([]byte(b.String()), caliper.Options{})
	n := 0
	for _, p := range r.Problems {
		if strings.HasPrefix(p.Message, "duplicate key") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("got %d duplicate key problems %v, want 2", n, r.Problems)
	}
}

func TestMessageQuotesValueOnOneLine(t *testing.T) {
	data := []byte(`{"@context":"` + caliper.ContextV1p2 + `","type":"Person","id":"https://e.org/1",
"name": {
    "first": "Ann",
    "last":  "Lee"
}}`)
	assertOne(t, data, caliper.Options{}, "/name", `name is an object ({"first":"Ann","last":"Lee"}); expected a string`)
}

func TestNumbersKeptExactly(t *testing.T) {
	in := []byte(`{"b":1.50,"a":[12345678901234567890,1E+2,-0.25e-3]}`)
	got, err := caliper.Canonical(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":[12345678901234567890,1E+2,-0.25e-3],"b":1.50}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestCanonicalEquivalent(t *testing.T) {
	a := []byte(`{ "x": "caf\u00e9\/", "y" : [true, null, {"b":1,"a":2}] }`)
	b := []byte(`{"y":[true,null,{"a":2,"b":1}],"x":"café/"}`)
	ca, err := caliper.Canonical(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := caliper.Canonical(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, cb) {
		t.Errorf("got %s and %s, want equal canonical forms", ca, cb)
	}
	if want := `{"x":"café/","y":[true,null,{"a":2,"b":1}]}`; string(ca) != want {
		t.Errorf("got %s, want %s", ca, want)
	}
}

func TestCanonicalRejectsDuplicates(t *testing.T) {
	if _, err := caliper.Canonical([]byte(`{"a":1,"a":1}`)); err == nil {
		t.Error("got no error for a duplicate key, want one")
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{``, `{}`, `[]`, `"x"`, `{"a":1e400}`, `[[[[`, "\xEF\xBB\xBF{}"} {
		f.Add([]byte(s))
	}
	for _, file := range []string{"../testdata/activity_completed.json", "../testdata/time_spent.json"} {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	if dir, err := fixtures.Path(); err == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "v1p2", "*.json"))
		invalid, _ := filepath.Glob(filepath.Join(dir, "v1p2", "invalid", "*.json"))
		for _, file := range append(files, invalid...) {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := caliper.Validate(data, caliper.Options{})
		for _, p := range r.Problems {
			if p.Message == "" {
				t.Fatalf("problem without a message at %q", p.Pointer)
			}
			if strings.ContainsAny(p.Message, "\n\r") {
				t.Fatalf("message %q at %q spans several lines", p.Message, p.Pointer)
			}
			if p.Pointer != "" && p.Pointer[0] != '/' {
				t.Fatalf("pointer %q does not start with /", p.Pointer)
			}
		}
		for _, it := range r.Items {
			if !bytes.Contains(data, it.Raw) {
				t.Fatalf("item %s raw bytes are not part of the input", it.Pointer)
			}
		}
		c, err := caliper.Canonical(data)
		if err != nil {
			return
		}
		again, err := caliper.Canonical(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("canonical form is not stable: %s then %s (%v)", c, again, err)
		}
	})
}

// TestAppendDateTimeMatchesLayout checks the hand-written formatter against
// time.Format with DateTimeLayout, for times across four centuries and in
// zones other than UTC.
func TestAppendDateTimeMatchesLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		sec := r.Int64N(13e9) - 1e9 // from 1938 to 2350
		zone := time.FixedZone("", 900*(r.IntN(105)-52))
		tm := time.Unix(sec, r.Int64N(1e9)).In(zone)
		want := tm.UTC().Truncate(time.Millisecond).Format(caliper.DateTimeLayout)
		if got := caliper.FormatDateTime(tm); got != want {
			t.Fatalf("FormatDateTime(%v) = %s, want %s", tm, got, want)
		}
	}
	for _, tm := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		want := tm.Truncate(time.Millisecond).Format(caliper.DateTimeLayout)
		if got := caliper.FormatDateTime(tm); got != want {
			t.Errorf("FormatDateTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestProblemStringWholeDocument(t *testing.T) {
	r := caliper.Validate([]byte(`{"id":`), caliper.Options{})
	if len(r.Problems) != 1 {
		t.Fatalf("Validate of cut JSON = %v, want one problem", r.Problems)
	}
	if got := r.Problems.Error(); !strings.HasPrefix(got, "invalid JSON") {
		t.Errorf("Problems.Error() = %q, want it to start with the message, with no pointer", got)
	}
	p := caliper.Problem{Pointer: "/id", Severity: caliper.SeverityWarning, Message: "m"}
	if got := p.String(); got != "/id: warning: m" {
		t.Errorf("String() of a warning = %q, want %q", got, "/id: warning: m")
	}
}
