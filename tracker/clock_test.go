package tracker_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/timeback/timeback-go/tracker"
)

func TestFakeClockAdvanceFiresInOrder(t *testing.T) {
	c := tracker.NewFakeClock(testStart)
	var got []time.Duration
	record := func() { got = append(got, c.Now().Sub(testStart)) }
	c.AfterFunc(3*time.Second, record)
	c.AfterFunc(time.Second, record)
	stopped := c.AfterFunc(2*time.Second, record)
	if !stopped.Stop() {
		t.Errorf("Stop of a pending timer = false")
	}
	if stopped.Stop() {
		t.Errorf("second Stop = true")
	}
	c.AfterFunc(3*time.Second, func() {
		record()
		c.AfterFunc(time.Second, record) // due at 4 s, within the advance
	})
	c.Advance(5 * time.Second)

	want := []time.Duration{time.Second, 3 * time.Second, 3 * time.Second, 4 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("timers fired at %v, want %v", got, want)
	}
	if now := c.Now(); !now.Equal(offset(5 * time.Second)) {
		t.Errorf("Now() = %v after Advance, want %v", now, offset(5*time.Second))
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("Pending() = %d, want 0", n)
	}
}

func TestFakeClockSetJumps(t *testing.T) {
	c := tracker.NewFakeClock(testStart)
	var got []time.Time
	var reschedule func()
	reschedule = func() {
		got = append(got, c.Now())
		c.AfterFunc(time.Second, reschedule)
	}
	c.AfterFunc(time.Second, reschedule)

	c.Set(offset(time.Hour))
	if want := []time.Time{offset(time.Hour)}; !slices.Equal(got, want) {
		t.Errorf("after a jump timers fired at %v, want once at %v", got, want)
	}
	c.Set(offset(time.Minute))
	if len(got) != 1 || !c.Now().Equal(offset(time.Minute)) {
		t.Errorf("after a jump back: %d fires and Now() = %v", len(got), c.Now())
	}
}

func TestFakeClockAdvanceNegativePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("Advance(-1s) did not panic")
		}
	}()
	tracker.NewFakeClock(testStart).Advance(-time.Second)
}

// TestSystemClockHeartbeats runs heartbeats on real timers, which fire in
// their own goroutines, against actions of the test goroutine.
func TestSystemClockHeartbeats(t *testing.T) {
	flushed := make(chan struct{}, 100)
	sink := &recordSink{}
	tr, err := tracker.New(tracker.Config{
		Sink:              sink,
		HeartbeatInterval: 2 * time.Millisecond,
		OnFlush: func(string, tracker.Window) {
			select {
			case flushed <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := tr.Start(context.Background(), tracker.Activity{Actor: student, Object: lesson, CourseID: "MATH-3"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		select {
		case <-flushed:
		case <-time.After(10 * time.Second):
			t.Fatalf("heartbeat %d did not come within 10 s", i+1)
		}
		if i%2 == 0 {
			run.Pause()
		} else {
			run.Resume()
		}
	}
	if err := run.End(context.Background()); err != nil {
		t.Fatal(err)
	}

	got := sink.windows(t)
	checkWindows(t, got)
	for i := 1; i < len(got); i++ {
		if !got[i].Start.Equal(got[i-1].End) {
			t.Errorf("gap from %v to %v between windows %d and %d", got[i-1].End, got[i].Start, i-1, i)
		}
	}
	active, inactive := sumWindows(got)
	if span := got[len(got)-1].End.Sub(got[0].Start); active+inactive != span {
		t.Errorf("windows sum to %v, want the %v they span", active+inactive, span)
	}
}
