package tracker_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/tracker"
)

func TestMeterCutTilesWindows(t *testing.T) {
	m := tracker.NewMeter(testStart, true)
	steps := []struct {
		at     time.Duration
		active bool
	}{{3 * time.Second, false}, {5 * time.Second, true}, {5 * time.Second, false}, {9 * time.Second, true}}
	for _, s := range steps {
		if err := m.Set(offset(s.at), s.active); err != nil {
			t.Fatalf("Set(%v, %v): %v", s.at, s.active, err)
		}
	}
	first, err := m.Cut(offset(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	second, err := m.Cut(offset(12 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// Active 0-3 s, inactive 3-5 s, active for no time at 5 s, inactive
	// 5-9 s, active 9-12 s.
	want := []tracker.Window{win(0, 10*time.Second, 4*time.Second), win(10*time.Second, 12*time.Second, 2*time.Second)}
	if got := append(first, second...); !slices.EqualFunc(got, want, windowEqual) {
		t.Errorf("windows:\n got %s\nwant %s", formatWindows(got), formatWindows(want))
	}
}

func TestMeterEmptyCut(t *testing.T) {
	m := tracker.NewMeter(testStart, true)
	got, err := m.Cut(testStart)
	if err != nil || len(got) != 0 {
		t.Errorf("Cut at the window start = %v, %v; want no window", got, err)
	}
	got, err = m.Cut(testStart.Add(400 * time.Microsecond))
	if err != nil || len(got) != 0 {
		t.Errorf("Cut within the first millisecond = %v, %v; want no window", got, err)
	}
}

func TestMeterSplitsLongWindow(t *testing.T) {
	m := tracker.NewMeter(testStart, true)
	if err := m.Set(offset(20*time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(offset(50*time.Hour), true); err != nil {
		t.Fatal(err)
	}
	got, err := m.Cut(offset(50*time.Hour + 90*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := []tracker.Window{
		win(0, 24*time.Hour, 20*time.Hour),
		win(24*time.Hour, 48*time.Hour, 0),
		win(48*time.Hour, 50*time.Hour+90*time.Minute, 90*time.Minute),
	}
	if !slices.EqualFunc(got, want, windowEqual) {
		t.Errorf("windows:\n got %s\nwant %s", formatWindows(got), formatWindows(want))
	}
}

func TestMeterRejectsClockBackwards(t *testing.T) {
	m := tracker.NewMeter(testStart, true)
	if err := m.Set(offset(10*time.Second), false); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(offset(9*time.Second), true); !errors.Is(err, tracker.ErrClockBackwards) {
		t.Errorf("Set before the last switch = %v, want ErrClockBackwards", err)
	}
	if _, err := m.Cut(offset(5 * time.Second)); !errors.Is(err, tracker.ErrClockBackwards) {
		t.Errorf("Cut before the last switch = %v, want ErrClockBackwards", err)
	}
	if _, err := m.Peek(offset(5 * time.Second)); !errors.Is(err, tracker.ErrClockBackwards) {
		t.Errorf("Peek before the last switch = %v, want ErrClockBackwards", err)
	}

	// The rejections changed nothing.
	got, err := m.Cut(offset(15 * time.Second))
	want := []tracker.Window{win(0, 15*time.Second, 10*time.Second)}
	if err != nil || !slices.EqualFunc(got, want, windowEqual) {
		t.Errorf("Cut after the rejections = %s, %v; want %s", formatWindows(got), err, formatWindows(want))
	}
}

func TestMeterPeekLeavesWindowOpen(t *testing.T) {
	m := tracker.NewMeter(testStart, false)
	if err := m.Set(offset(4*time.Second), true); err != nil {
		t.Fatal(err)
	}
	peek, err := m.Peek(offset(6 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !windowEqual(peek, win(0, 6*time.Second, 2*time.Second)) {
		t.Errorf("Peek = %s", formatWindows([]tracker.Window{peek}))
	}
	got, err := m.Cut(offset(8 * time.Second))
	if err != nil || len(got) != 1 || !windowEqual(got[0], win(0, 8*time.Second, 4*time.Second)) {
		t.Errorf("Cut after Peek = %s, %v", formatWindows(got), err)
	}
}

func TestMeterTruncatesToMilliseconds(t *testing.T) {
	m := tracker.NewMeter(testStart.Add(700*time.Microsecond), true)
	got, err := m.Cut(testStart.Add(1500*time.Millisecond + 999*time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	want := []tracker.Window{win(0, 1500*time.Millisecond, 1500*time.Millisecond)}
	if !slices.EqualFunc(got, want, windowEqual) {
		t.Errorf("windows:\n got %s\nwant %s", formatWindows(got), formatWindows(want))
	}
}

func TestWindowItems(t *testing.T) {
	w := win(0, 1949*time.Millisecond, 1949*time.Millisecond)
	items := w.Items()
	if len(items) != 2 || items[0].Type != timeback.TimeActive || items[1].Type != timeback.TimeInactive {
		t.Fatalf("Items() = %+v, want an active and an inactive item", items)
	}
	for _, it := range items {
		if !it.Start.Equal(w.Start) || !it.End.Equal(w.End) {
			t.Errorf("item %s dated %v to %v, want %v to %v", it.Type, it.Start, it.End, w.Start, w.End)
		}
	}
	if items[1].Seconds != 0 {
		t.Errorf("inactive seconds %v, want 0", items[1].Seconds)
	}
	// The item that fills its window must pass the event constructor.
	c := timeback.Common{Actor: student, Object: lesson}
	if _, err := timeback.NewTimeSpent(c, items...); err != nil {
		t.Errorf("NewTimeSpent(%v): %v", items, err)
	}

	items = win(0, 15*time.Second, 12345*time.Millisecond).Items()
	if items[0].Seconds != 12.345 || items[1].Seconds != 2.655 {
		t.Errorf("seconds %v and %v, want 12.345 and 2.655", items[0].Seconds, items[1].Seconds)
	}
}
