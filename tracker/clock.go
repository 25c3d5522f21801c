package tracker

import (
	"sync"
	"time"
)

// Clock is the time source of a Tracker: the current time and timers for
// heartbeats and the hidden timeout.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine, or for FakeClock inside
	// Advance, once d has elapsed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call of Clock.AfterFunc.
type Timer interface {
	// Stop prevents the call and reports whether it was still pending.
	Stop() bool
}

// SystemClock is the Clock of the operating system. Its zero value is ready
// to use.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc calls time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// FakeClock is a Clock for tests and simulations that moves only in Advance
// and Set. Timers fire inside Advance and Set, in the goroutine that
// calls them, in the order of their due times.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	seq    uint64
}

// NewFakeClock returns a FakeClock that reads start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start}
}

type fakeTimer struct {
	clock *FakeClock
	due   time.Time
	seq   uint64 // orders timers with the same due time by creation
	f     func()
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d. A d of 0 or less fires at the next
// Advance or Set, also Advance(0).
func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{clock: c, due: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop removes the timer and reports whether it was still pending.
func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.timers {
		if p == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock forward by d, stopping at each timer due on the
// way: the clock reads the timer's due time while it fires. Timers that a
// firing timer schedules within the span fire too. A negative d panics;
// use Set to move the clock back.
func (c *FakeClock) Advance(d time.Duration) {
	if d < 0 {
		panic("tracker: FakeClock.Advance with negative duration " + d.String())
	}
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.fireUntil(target, true)
}

// Set jumps the clock to t, forward or back, as a suspended machine or a
// corrected wall clock does. Timers due by t fire once each, all reading t.
func (c *FakeClock) Set(t time.Time) {
	c.fireUntil(t, false)
}

// Pending returns the number of timers not fired or stopped yet.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (c *FakeClock) fireUntil(target time.Time, stepToDue bool) {
	c.mu.Lock()
	if !stepToDue {
		c.now = target
	}
	for {
		next := c.nextDue(target)
		if next < 0 {
			break
		}
		t := c.timers[next]
		c.timers = append(c.timers[:next], c.timers[next+1:]...)
		if stepToDue && t.due.After(c.now) {
			c.now = t.due
		}
		// The timer's function may call back into the clock.
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

// nextDue returns the index of the earliest timer due by target, or -1.
func (c *FakeClock) nextDue(target time.Time) int {
	best := -1
	for i, t := range c.timers {
		if t.due.After(target) {
			continue
		}
		if best < 0 || t.due.Before(c.timers[best].due) ||
			(t.due.Equal(c.timers[best].due) && t.seq < c.timers[best].seq) {
			best = i
		}
	}
	return best
}
