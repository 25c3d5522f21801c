package testkit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
)

func TestExampleEventsParse(t *testing.T) {
	id := storetest.EventID(7)
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

func TestRecordSinkSetErr(t *testing.T) {
	var sink testkit.RecordSink
	ev := timeback.RawEvent{ID: testkit.TimeSpentID, JSON: []byte(testkit.TimeSpent(testkit.TimeSpentID))}
	down := errors.New("down")
	sink.SetErr(down)
	if err := sink.Send(context.Background(), ev); !errors.Is(err, down) {
		t.Errorf("Send with an error set = %v, want %v", err, down)
	}
	if n := len(sink.Events()); n != 0 {
		t.Errorf("kept %d events while failing, want 0", n)
	}
	sink.SetErr(nil)
	if err := sink.Send(context.Background(), ev, &ev); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := len(sink.Events()); n != 2 {
		t.Errorf("kept %d events, want 2", n)
	}
	if got := testkit.EventsOf[*timeback.RawEvent](&sink); len(got) != 1 || got[0] != &ev {
		t.Errorf("EventsOf[*RawEvent] = %v, want the one pointer sent", got)
	}
}
