// Package tracker turns what happens to an activity into TimebackProfile
// events: TimeSpentEvents at every heartbeat and one ActivityCompletedEvent
// per run.
//
// A run starts visible and not paused. Every heartbeat (15 s by default)
// closes the window since the previous one and sends it as active time
// (visible and not paused) and inactive time (paused or hidden), in
// milliseconds, dated with the window's start and end. Consecutive windows
// of a session share their boundaries, so they tile the tracked time with
// no gap and no overlap. A window longer than 86400 s is split. After the
// hidden timeout (10 min by default) heartbeats stop, and the time away is
// not reported, because a fresh window starts when the activity is visible
// again.
//
//	t, err := tracker.New(tracker.Config{Sink: client}) // client is a *sender.Client
//	run, err := t.Start(ctx, tracker.Activity{Actor: student, Object: lesson, CourseID: "MATH-3"})
//	...
//	run.SetVisible(false) // the tab is hidden
//	run.SetVisible(true)
//	err = run.Complete(ctx, tracker.Metrics{TotalQuestions: &total, CorrectQuestions: &correct})
//
// With Metrics.XPEarned nil, Complete computes xpEarned with
// timeback.ComputeXP from the run's focused minutes. A given xpEarned above
// them, or above 1.25 times them for a perfect score, is rejected unless
// Config.AllowXPAboveFocus is set.
//
// With Config.DisableTimeTracking a run sends no windows of its own, and
// the app reports the focused time with Metrics.ActiveTime or EndWithTime.
//
// A run that ends without completion can resume in a later session with
// Activity.RunID: the Config.Store keeps its totals, and FileStore keeps
// them across processes.
package tracker
