package web

import "time"

// allowance is the outcome of the time guard for one window.
type allowance struct {
	Active, Inactive time.Duration // counted
	// CappedActive and CappedInactive are the claimed durations removed.
	CappedActive, CappedInactive time.Duration
	// Ahead is the run's new lead of counted time over wall time.
	Ahead time.Duration
}

// guardWindow caps the claimed active and inactive time of one window at
// the wall time elapsed since the previous accepted message plus leeway.
//
// The leeway absorbs network jitter: a heartbeat that arrives early after a
// late one may claim a little more than the wall time between the two. The
// leeway is a budget, not a per-message bonus. Ahead is how far the run's
// counted time already runs ahead of wall time, and it is taken off the
// allowance, so a client that sends many small heartbeats gains nothing.
// Active time is granted first, because the browser reports the window in
// that order of importance; inactive time gets what remains.
func guardWindow(claimedActive, claimedInactive, elapsed, ahead, leeway time.Duration) allowance {
	if elapsed < 0 {
		elapsed = 0 // a clock that stepped back grants nothing
	}
	budget := max(elapsed+leeway-ahead, 0)

	var a allowance
	a.Active = min(claimedActive, budget)
	a.Inactive = min(claimedInactive, budget-a.Active)
	a.CappedActive = claimedActive - a.Active
	a.CappedInactive = claimedInactive - a.Inactive
	a.Ahead = max(ahead+a.Active+a.Inactive-elapsed, 0)
	return a
}
