package tracker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/timeback/timeback-go"
)

// Run is one open run of an activity, returned by Tracker.Start. Its
// methods are safe for concurrent use and with the run's own timers.
type Run struct {
	t        *Tracker
	activity Activity
	id       string

	// The session's clock: base is the wall time of Start in milliseconds
	// and baseReading the clock reading it came from, so that later
	// readings are measured as elapsed time, on the monotonic clock where
	// the Clock provides one.
	base        time.Time
	baseReading time.Time

	// mu guards the fields below. A run locks its Tracker's mutex only
	// while holding mu, except in Start, which locks a run no one else
	// holds yet.
	mu    sync.Mutex
	last  time.Time // latest time recorded by the run
	meter *Meter    // nil while suspended or with time tracking off

	paused, hidden bool
	suspended      bool // hidden past the timeout: no meter, no heartbeats
	ended          bool // End or Complete was called
	completed      bool

	// state counts every window cut so far, sent or pending.
	state   RunState
	pending []pendingEvent

	hiddenDue  time.Time // when a hidden run times out
	heartbeat  Timer
	hiddenStop Timer
	heartbeatN uint64 // identifies the current heartbeat timer
	hiddenN    uint64 // identifies the current hidden timeout timer
}

type pendingEvent struct {
	event  timeback.Event
	window *Window // nil for the completion
}

// Metrics are the completion metrics of a run. Nil pointers are absent.
type Metrics struct {
	// XPEarned is the XP to report. Nil means the XP rule computes it from
	// the run's focused minutes, the questions and Attempt.
	XPEarned         *float64
	TotalQuestions   *float64
	CorrectQuestions *float64
	MasteredUnits    *float64
	// PctCompleteApp is the app's course completion, 0 to 100.
	PctCompleteApp *float64
	// Attempt is which attempt of the activity this run is, counted from
	// 1, for the XP rule. Zero means 1.
	Attempt int
	// ActiveTime reports this session's focused time when time tracking is
	// off; it is sent as one window from Start to Complete. It must fit in
	// that span, and it is rejected while time tracking is on.
	ActiveTime *time.Duration
}

// ID returns the run id, extensions.runId of every event of the run.
func (r *Run) ID() string { return r.id }

// State returns the run's totals so far, including windows not yet taken by
// the sink.
func (r *Run) State() RunState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Pause counts the time from now on as inactive, until Resume.
func (r *Run) Pause() error { return r.setPaused(true) }

// Resume counts the time from now on as active again, unless the run is
// hidden.
func (r *Run) Resume() error { return r.setPaused(false) }

// setPaused switches the run between paused and not paused, then calls the
// OnPause or OnResume callback outside the lock.
func (r *Run) setPaused(paused bool) error {
	action, callback := "resume", r.t.cfg.OnResume
	if paused {
		action, callback = "pause", r.t.cfg.OnPause
	}

	r.mu.Lock()
	err := r.checkOpen(action)
	switch {
	case err != nil:
	case paused && r.paused:
		err = fmt.Errorf("%w: run %s; call Resume first", ErrAlreadyPaused, r.id)
	case !paused && !r.paused:
		err = fmt.Errorf("%w: run %s; call Pause first", ErrNotPaused, r.id)
	default:
		err = r.setState(paused, r.hidden)
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}

	if callback != nil {
		callback(r.id)
	}
	return nil
}

// SetVisible records that the activity is in the foreground (true) or hidden
// (false). Hidden time is inactive. After HiddenTimeout hidden, the run sends
// its window up to the timeout and stops heartbeats. Becoming visible again
// starts a fresh window, so the time away is not reported. Setting the
// visibility the run already has changes nothing.
func (r *Run) SetVisible(visible bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkOpen("set visibility of"); err != nil {
		return err
	}
	if visible != r.hidden {
		return nil
	}
	return r.setState(r.paused, !visible)
}

// setState records a new paused or hidden state at the current time.
func (r *Run) setState(paused, hidden bool) error {
	at, err := r.read()
	if err != nil {
		return err
	}
	active := !paused && !hidden
	switch {
	case r.suspended && !hidden:
		// Back after the hidden timeout: a fresh window starts now.
		r.suspended = false
		r.meter = NewMeter(at, active)
		r.scheduleHeartbeat()
	case r.meter != nil:
		if err := r.meter.Set(at, active); err != nil {
			return fmt.Errorf("tracker: run %s: %w", r.id, err)
		}
	}

	if hidden && !r.hidden && r.meter != nil {
		r.scheduleHiddenTimeout(at)
	}
	if !hidden && r.hidden {
		r.stopHiddenTimeout()
	}
	r.paused, r.hidden = paused, hidden
	return nil
}

// End sends the time not yet reported and closes the run without a
// completion; the run can resume later with Activity.RunID. When the sink
// fails, End returns its error, the run stays ended and Flush retries.
func (r *Run) End(ctx context.Context) error {
	return r.closeAndSend(ctx, func() error {
		if err := r.checkOpen("end"); err != nil {
			return err
		}
		at, err := r.read()
		if err != nil {
			return err
		}
		if r.meter != nil {
			return r.cut(at)
		}
		return nil
	})
}

// EndWithTime closes the run without a completion, like End, and reports
// active as this session's focused time, as one window from Start to now.
// It needs Config.DisableTimeTracking, and active must fit in that span;
// otherwise the run stays open and unchanged.
func (r *Run) EndWithTime(ctx context.Context, active time.Duration) error {
	return r.closeAndSend(ctx, func() error {
		if err := r.checkOpen("end"); err != nil {
			return err
		}
		if !r.t.cfg.DisableTimeTracking {
			return fmt.Errorf("%w: run %s: a time of %v is given while time tracking is on; "+
				"set Config.DisableTimeTracking to report time yourself", ErrInvalidMetrics, r.id, active)
		}
		at, err := r.read()
		if err != nil {
			return err
		}
		windows, err := r.overrideWindows(at, active)
		if err != nil {
			return err
		}
		for _, w := range windows {
			if err := r.queueWindow(w); err != nil {
				return err
			}
		}
		return nil
	})
}

// Complete sends the time not yet reported, then the run's one
// ActivityCompletedEvent, and closes the run. Invalid metrics, or a given
// xpEarned above the focused minutes (unless Config.AllowXPAboveFocus),
// leave the run open and unchanged. When the sink fails, Complete returns
// its error, the run stays completed and Flush retries.
func (r *Run) Complete(ctx context.Context, m Metrics) error {
	return r.closeAndSend(ctx, func() error {
		if r.completed {
			return fmt.Errorf("%w: run %s was completed with %v XP", ErrAlreadyCompleted, r.id,
				r.state.XPEarned)
		}
		if err := r.checkOpen("complete"); err != nil {
			return err
		}
		at, err := r.read()
		if err != nil {
			return err
		}
		final, completion, err := r.prepareCompletion(at, m)
		if err != nil {
			return err
		}

		// Nothing below fails on input, so the run changes only from here.
		if r.meter != nil {
			if err := r.cut(at); err != nil {
				return err
			}
		}
		for _, w := range final {
			if err := r.queueWindow(w); err != nil {
				return err
			}
		}
		r.pending = append(r.pending, pendingEvent{event: completion})
		r.completed = true
		r.state.Completed = true
		r.state.XPEarned = completion.Metrics.XPEarned
		return nil
	})
}

// closeAndSend runs queue under the run's lock and, when it succeeds,
// closes the run and sends every pending event. The OnFlush callback runs
// after the lock is released. An error from queue leaves the run open.
func (r *Run) closeAndSend(ctx context.Context, queue func() error) error {
	r.mu.Lock()
	if err := queue(); err != nil {
		r.mu.Unlock()
		return err
	}
	r.close()
	done, err := r.sendPending(ctx)
	r.mu.Unlock()

	r.afterSend(done)
	return err
}

// Flush sends the open window up to now, when the run is tracking time,
// and every event the sink has not taken yet.
func (r *Run) Flush(ctx context.Context) error {
	r.mu.Lock()
	if !r.ended && r.meter != nil {
		at, err := r.read() // suspends a run hidden past the timeout
		if err == nil && r.meter != nil {
			err = r.cut(at)
		}
		if err != nil {
			r.mu.Unlock()
			return err
		}
	}
	done, err := r.sendPending(ctx)
	r.mu.Unlock()

	r.afterSend(done)
	return err
}

// prepareCompletion checks m and builds the completion and, for an
// ActiveTime override, its windows, without changing the run.
func (r *Run) prepareCompletion(at time.Time, m Metrics) ([]Window, *timeback.ActivityCompleted, error) {
	focused := r.state.Active
	var override []Window
	if r.meter != nil {
		if m.ActiveTime != nil {
			return nil, nil, fmt.Errorf("%w: run %s: ActiveTime %v is set while time tracking is on; "+
				"set Config.DisableTimeTracking to report time yourself", ErrInvalidMetrics, r.id, *m.ActiveTime)
		}
		open, err := r.meter.Peek(at)
		if err != nil {
			return nil, nil, fmt.Errorf("tracker: run %s: %w", r.id, err)
		}
		focused += open.Active
	} else if m.ActiveTime != nil {
		windows, err := r.overrideWindows(at, *m.ActiveTime)
		if err != nil {
			return nil, nil, err
		}
		override = windows
		focused += *m.ActiveTime
	}

	in := timeback.XPInput{Active: focused, TotalQuestions: m.TotalQuestions,
		CorrectQuestions: m.CorrectQuestions, Attempt: m.Attempt}
	xp, err := timeback.ResolveXP(m.XPEarned, in, r.t.cfg.AllowXPAboveFocus)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: run %s: %w", ErrInvalidMetrics, r.id, err)
	}
	completion, err := timeback.NewActivityCompleted(r.common(at), timeback.Completion{
		XPEarned:         xp,
		TotalQuestions:   m.TotalQuestions,
		CorrectQuestions: m.CorrectQuestions,
		MasteredUnits:    m.MasteredUnits,
		PctCompleteApp:   m.PctCompleteApp,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: run %s: %w", ErrInvalidMetrics, r.id, err)
	}
	return override, completion, nil
}

// overrideWindows returns the windows that report an ActiveTime override:
// the session from Start to at, active first.
func (r *Run) overrideWindows(at time.Time, active time.Duration) ([]Window, error) {
	session := at.Sub(r.base)
	if active < 0 || active > session {
		return nil, fmt.Errorf("%w: run %s: ActiveTime %v is outside 0 to %v, the time since Start",
			ErrInvalidMetrics, r.id, active, session)
	}
	activeEnd := r.base.Add(active).Truncate(time.Millisecond)
	spans := []span{{start: r.base, end: activeEnd, active: true}, {start: activeEnd, end: at}}
	return split(r.base, at, spans), nil
}

// read returns the clock's time for the run in milliseconds, or
// ErrClockBackwards when it is before a time the run has already recorded.
func (r *Run) read() (time.Time, error) {
	at := truncate(r.base.Add(r.t.cfg.Clock.Now().Sub(r.baseReading)))
	if at.Before(r.last) {
		return time.Time{}, fmt.Errorf("%w: run %s: the clock reads %s, before %s, the last time recorded",
			ErrClockBackwards, r.id, formatTime(at), formatTime(r.last))
	}
	r.last = at
	return at, r.expireHidden(at)
}

// expireHidden suspends a run that has been hidden past the timeout at at.
// Timers that fire late and clocks that jump forward are both caught here,
// before anything counts the time past the timeout.
func (r *Run) expireHidden(at time.Time) error {
	if !r.hidden || r.meter == nil || at.Before(r.hiddenDue) {
		return nil
	}
	return r.suspend()
}

// suspend ends the open window at the hidden timeout and stops heartbeats
// until the run is visible again.
func (r *Run) suspend() error {
	end := r.hiddenDue
	if last := r.meter.Last(); end.Before(last) {
		end = last
	}
	err := r.cut(end)
	r.meter = nil
	r.suspended = true
	r.stopHeartbeat()
	r.stopHiddenTimeout()
	return err
}

func (r *Run) checkOpen(action string) error {
	if r.ended {
		return fmt.Errorf("%w: cannot %s run %s", ErrRunEnded, action, r.id)
	}
	return nil
}

// cut closes the open window at at and queues its events.
func (r *Run) cut(at time.Time) error {
	windows, err := r.meter.Cut(at)
	if err != nil {
		return fmt.Errorf("tracker: run %s: %w", r.id, err)
	}
	for _, w := range windows {
		if err := r.queueWindow(w); err != nil {
			return err
		}
	}
	return nil
}

// queueWindow builds the TimeSpentEvent of w, adds w to the run's totals and
// queues the event for the sink.
func (r *Run) queueWindow(w Window) error {
	event, err := timeback.NewTimeSpent(r.common(w.End), w.Items()...)
	if err != nil {
		return fmt.Errorf("tracker: run %s: build window %s to %s: %w", r.id,
			formatTime(w.Start), formatTime(w.End), err)
	}
	r.state.Active += w.Active
	r.state.Inactive += w.Inactive
	r.state.Windows++
	r.state.LastEnd = w.End
	r.pending = append(r.pending, pendingEvent{event: event, window: &w})
	return nil
}

func (r *Run) common(eventTime time.Time) timeback.Common {
	a := r.activity
	return timeback.Common{
		EventTime: eventTime,
		Actor:     a.Actor,
		Object:    a.Object,
		EdApp:     a.EdApp,
		RunID:     r.id,
		CourseID:  a.CourseID,
	}
}

// sendPending hands every queued event to the sink in one call and saves
// the run state once the sink took them. It returns the windows sent, for
// OnFlush. Events the sink refused stay queued, with their ids, for the
// next attempt.
//
// NOTE: events stay queued in memory, without a limit, while the sink
// fails. A crash between the sink taking events and the save leaves the
// saved totals one send behind, so a resumed run computes XP from slightly
// less time than the server has.
func (r *Run) sendPending(ctx context.Context) ([]Window, error) {
	if len(r.pending) > 0 {
		events := make([]timeback.Event, len(r.pending))
		for i, p := range r.pending {
			events[i] = p.event
		}
		if err := r.t.cfg.Sink.Send(ctx, events...); err != nil {
			return nil, fmt.Errorf("tracker: run %s: send %d events: %w", r.id, len(events), err)
		}
	}
	var sent []Window
	for _, p := range r.pending {
		if p.window != nil {
			sent = append(sent, *p.window)
		}
	}
	r.pending = nil
	saveErr := r.t.cfg.Store.SaveRun(ctx, r.state)
	if r.ended {
		// Everything is with the sink, so the next run may start even when
		// the state could not be saved.
		r.t.release(r)
	}
	if saveErr != nil {
		return sent, fmt.Errorf("tracker: run %s: %w", r.id, saveErr)
	}
	return sent, nil
}

// afterSend runs the OnFlush callback for the windows sent.
func (r *Run) afterSend(sent []Window) {
	if f := r.t.cfg.OnFlush; f != nil {
		for _, w := range sent {
			f(r.id, w)
		}
	}
}

// close ends the run's tracking and stops its timers.
func (r *Run) close() {
	r.ended = true
	r.meter = nil
	r.stopHeartbeat()
	r.stopHiddenTimeout()
}

func (r *Run) scheduleHeartbeat() {
	r.stopHeartbeat()
	n := r.heartbeatN
	r.heartbeat = r.t.cfg.Clock.AfterFunc(r.t.cfg.HeartbeatInterval, func() { r.onHeartbeat(n) })
}

func (r *Run) stopHeartbeat() {
	r.heartbeatN++
	if r.heartbeat != nil {
		r.heartbeat.Stop()
		r.heartbeat = nil
	}
}

func (r *Run) scheduleHiddenTimeout(hiddenAt time.Time) {
	r.stopHiddenTimeout()
	n := r.hiddenN
	r.hiddenDue = hiddenAt.Add(r.t.cfg.HiddenTimeout)
	r.hiddenStop = r.t.cfg.Clock.AfterFunc(r.t.cfg.HiddenTimeout, func() { r.onHiddenTimeout(n) })
}

func (r *Run) stopHiddenTimeout() {
	r.hiddenN++
	if r.hiddenStop != nil {
		r.hiddenStop.Stop()
		r.hiddenStop = nil
	}
}

// onHeartbeat cuts and sends the window since the previous heartbeat, then
// schedules the next one. A timer that was stopped or replaced while it
// fired finds n outdated and does nothing.
func (r *Run) onHeartbeat(n uint64) {
	r.mu.Lock()
	if n != r.heartbeatN || r.meter == nil {
		r.mu.Unlock()
		return
	}
	var sent []Window
	at, err := r.read() // suspends a run hidden past the timeout
	if err == nil && r.meter != nil {
		err = r.cut(at)
	}
	if err == nil {
		sent, err = r.sendTimed()
	}
	if r.meter != nil {
		r.scheduleHeartbeat()
	}
	r.mu.Unlock()

	r.afterSend(sent)
	r.reportError("heartbeat", err)
}

// onHiddenTimeout sends the window up to the hidden timeout and suspends the
// run until it is visible again.
func (r *Run) onHiddenTimeout(n uint64) {
	r.mu.Lock()
	if n != r.hiddenN || r.meter == nil || !r.hidden {
		r.mu.Unlock()
		return
	}
	var sent []Window
	at, err := r.read() // suspends the run once the clock reads the timeout
	if err == nil && r.meter != nil {
		// The timer fired before the run's clock reads the timeout, which
		// truncation to milliseconds can cause: wait for the rest.
		n := r.hiddenN
		r.hiddenStop = r.t.cfg.Clock.AfterFunc(r.hiddenDue.Sub(at), func() { r.onHiddenTimeout(n) })
	}
	if err == nil && r.suspended {
		sent, err = r.sendTimed()
	}
	r.mu.Unlock()

	r.afterSend(sent)
	r.reportError("hidden timeout", err)
}

func (r *Run) sendTimed() ([]Window, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.t.cfg.SendTimeout)
	defer cancel()
	return r.sendPending(ctx)
}

func (r *Run) reportError(what string, err error) {
	if err == nil {
		return
	}
	r.t.log.Error("tracker: "+what+" failed", "run_id", r.id, "err", err)
	if f := r.t.cfg.OnError; f != nil {
		f(r.id, err)
	}
}
