package httpquery_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/httpquery"
)

func TestParseKeepsRepeats(t *testing.T) {
	v, err := httpquery.Parse("a=1&&b=x%20y&a=2")
	if err != nil {
		t.Fatal(err)
	}
	if got := v["a"]; !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("a = %q, want [1 2]", got)
	}
	if got := v.Get("b"); got != "x y" {
		t.Errorf("b = %q, want %q", got, "x y")
	}
}

func TestParseRejects(t *testing.T) {
	for _, tt := range []struct {
		raw, field, want string
	}{
		{"tz=America/Chicago;from=2026-01-01", "tz", "semicolon"},
		{"limit=1&actorId=%zz", "actorId", `"actorId=%zz"`},
	} {
		_, err := httpquery.Parse(tt.raw)
		var e *timeback.Error
		if !errors.As(err, &e) || e.Code != timeback.CodeInvalid {
			t.Errorf("Parse(%q) error = %v, want a CodeInvalid *timeback.Error", tt.raw, err)
			continue
		}
		if len(e.Fields) != 1 || e.Fields[0].Path != tt.field {
			t.Errorf("Parse(%q) fields = %+v, want one for %s", tt.raw, e.Fields, tt.field)
		}
		if !strings.Contains(e.Message, tt.want) {
			t.Errorf("Parse(%q) message = %q, want it to contain %s", tt.raw, e.Message, tt.want)
		}
	}
}
