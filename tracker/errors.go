package tracker

import "errors"

// Errors that callers branch on. Errors returned by a Tracker or a Run wrap
// one of these, with the run id and the values involved in the message.
var (
	// ErrRunOpen is returned by Start while another run of the tracker is
	// open, or still has events that the sink did not take.
	ErrRunOpen = errors.New("tracker: a run is already open")
	// ErrRunEnded is returned by every action on a run after End or Complete.
	ErrRunEnded = errors.New("tracker: run has ended")
	// ErrAlreadyCompleted is returned by a second Complete of a run, and by
	// Start for a run id whose completion was already sent.
	ErrAlreadyCompleted = errors.New("tracker: run is already completed")
	// ErrAlreadyPaused is returned by Pause on a paused run.
	ErrAlreadyPaused = errors.New("tracker: run is already paused")
	// ErrNotPaused is returned by Resume on a run that is not paused.
	ErrNotPaused = errors.New("tracker: run is not paused")
	// ErrClockBackwards is returned when the clock reads a time before one
	// the run has already recorded. The run keeps its state, and the next
	// action with a sound clock reading goes on from there.
	ErrClockBackwards = errors.New("tracker: clock went backwards")
	// ErrInvalidMetrics wraps every rejection of completion metrics.
	ErrInvalidMetrics = errors.New("tracker: invalid metrics")
	// ErrRunMismatch is returned by Start when the saved run of the run id
	// belongs to another student or activity.
	ErrRunMismatch = errors.New("tracker: run belongs to another student or activity")
	// ErrRunNotFound is returned by a RunStore for a run id it has no state
	// for.
	ErrRunNotFound = errors.New("tracker: run not found")
)
