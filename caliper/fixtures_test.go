package caliper_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/timeback/timeback-go/caliper"
	"github.com/timeback/timeback-go/internal/fixtures"
)

func TestValidFixtures(t *testing.T) {
	for _, f := range fixtures.Glob(t, "v1p2/*.json") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := caliper.Validate(data, caliper.Options{})
		if !r.Problems.Valid(false) {
			t.Errorf("%s: got problems, want valid:\n  %s", filepath.Base(f),
				strings.ReplaceAll(r.Problems.Failing(false).Error(), "; ", "\n  "))
		}
	}
}

func TestInvalidFixtures(t *testing.T) {
	for _, f := range fixtures.Glob(t, "v1p2/invalid/*.json") {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := caliper.Validate(data, caliper.Options{})
		if r.Problems.Valid(false) {
			t.Errorf("%s: got valid, want problems", filepath.Base(f))
		} else if testing.Verbose() {
			t.Logf("%s: %s", filepath.Base(f), r.Problems.Failing(false).Error())
		}
	}
}
