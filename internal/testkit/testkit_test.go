package testkit_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/testkit"
)

func TestExampleEventsParse(t *testing.T) {
	id := testkit.EventID(7)
	for name, raw := range map[string]string{
		"ActivityCompleted": testkit.ActivityCompleted(id),
		"TimeSpent":         testkit.TimeSpent(id),
	} {
		ev, problems := timeback.ParseEvent([]byte(raw))
		if ev == nil {
			t.Errorf("%s does not parse: %v", name, problems)
			continue
		}
		if got := ev.EventID(); got != id {
			t.Errorf("%s id = %q, want %q", name, got, id)
		}
		if strings.HasSuffix(raw, "\n") {
			t.Errorf("%s ends with a newline", name)
		}
	}
}

func TestReplaceMissingPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Replace of a missing string did not panic")
		}
	}()
	testkit.Replace(testkit.TimeSpent(testkit.TimeSpentID), `"no such member"`, `"x"`)
}

func TestReplaceEveryOccurrence(t *testing.T) {
	got := testkit.Replace(testkit.TimeSpent(testkit.TimeSpentID), "student-123", "student-9")
	if n := strings.Count(got, "student-9"); n != 2 {
		t.Errorf("student-9 occurs %d times, want 2 (actor id and email)", n)
	}
}

func TestLogBufferConcurrentWrites(t *testing.T) {
	var buf testkit.LogBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&buf, "line %d\n", i) })
	}
	wg.Wait()
	if got := strings.Count(buf.String(), "\n"); got != 8 {
		t.Errorf("buffer has %d lines, want 8:\n%s", got, buf.String())
	}
}
