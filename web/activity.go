package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
)

// ExtensionFinalFlush is the top-level extension, set to true, that marks
// the TimeSpentEvent of a run's final flush: the window an end request
// closes. Exactly one is sent per session.
const ExtensionFinalFlush = "finalFlush"

// requestInfo carries what the log line of a rejected request names.
type requestInfo struct{ runID string }

type requestInfoKey struct{}

func withRequestInfo(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, &requestInfo{}))
}

func setRunID(r *http.Request, id string) {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.runID = id
	}
}

func runIDOf(r *http.Request) string {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return info.runID
	}
	return ""
}

// millis is a duration in whole milliseconds on the wire.
type millis struct {
	ActiveMs   int64 `json:"activeMs"`
	InactiveMs int64 `json:"inactiveMs"`
}

func millisOf(active, inactive time.Duration) millis {
	return millis{active.Milliseconds(), inactive.Milliseconds()}
}

// startReply is the body of a successful POST /activity/start.
type startReply struct {
	RunID string `json:"runId"`
	// Seq is the last accepted sequence number; the browser numbers its
	// next message Seq+1.
	Seq     int64  `json:"seq"`
	Resumed bool   `json:"resumed"`
	Totals  millis `json:"totals"`
}

// windowReply is the body of a successful heartbeat or end.
type windowReply struct {
	RunID string `json:"runId"`
	Seq   int64  `json:"seq"`
	// Duplicate is set when the sequence number was already accepted and
	// the message was ignored.
	Duplicate bool     `json:"duplicate"`
	Counted   millis   `json:"counted"`
	Capped    millis   `json:"capped"`
	Totals    millis   `json:"totals"`
	State     string   `json:"state"`
	XPEarned  *float64 `json:"xpEarned,omitempty"`
}

// userReply is the body of GET /user/me.
type userReply struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

func (h *Handler) resolve(r *http.Request) (timeback.User, error) {
	u, err := h.cfg.Resolver.Resolve(r)
	if err != nil {
		return timeback.User{}, err
	}
	if u.ID == "" {
		return timeback.User{}, errors.New("web: the resolver returned a user without an id")
	}
	return u, nil
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) error {
	u, err := h.resolve(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userReply{ID: u.ID, Email: u.Email})
	return nil
}

// now returns the handler's clock truncated to milliseconds, the precision
// of Caliper timestamps, so that windows computed from it stay exact.
func (h *Handler) now() time.Time {
	return h.cfg.Now().UTC().Truncate(time.Millisecond)
}

func (h *Handler) start(w http.ResponseWriter, r *http.Request) error {
	user, err := h.resolve(r)
	if err != nil {
		return err
	}
	var req startRequest
	if err := decode(r, &req, h.cfg.MaxBodyBytes, false); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	setRunID(r, req.RunID)
	object, err := h.activity(r, *req.Activity, *req.Course)
	if err != nil {
		return err
	}
	if err := checkRun(user, object, req.RunID, req.Course.ID); err != nil {
		return err
	}

	now := h.now()
	fresh := Run{
		Owner: user, Object: object, CourseID: req.Course.ID,
		State: RunOpen, LastHeartbeat: now, WindowEnd: now,
	}
	if req.RunID == "" {
		fresh.ID = h.cfg.NewRunID()
		setRunID(r, fresh.ID)
		if err := h.runs.Create(r.Context(), fresh); err != nil {
			return err
		}
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "run started",
			slog.String("run_id", fresh.ID), slog.String("actor", user.ID), slog.String("activity", object.ID))
		writeJSON(w, http.StatusOK, startReply{RunID: fresh.ID})
		return nil
	}

	reply, err := h.resume(r.Context(), req.RunID, user, object, now)
	if timeback.ErrorCode(err) == timeback.CodeNotFound && !errors.Is(err, errNotOwner) {
		// The store has no such run, such as after a restart of a process
		// with MemoryRuns, so the run starts afresh under the saved id.
		fresh.ID = req.RunID
		if err = h.runs.Create(r.Context(), fresh); err == nil {
			reply = startReply{RunID: fresh.ID}
		} else if timeback.ErrorCode(err) == timeback.CodeConflict {
			reply, err = h.resume(r.Context(), req.RunID, user, object, now) // created meanwhile
		}
	}
	if err != nil {
		return err
	}
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "run resumed",
		slog.String("run_id", reply.RunID), slog.String("actor", user.ID), slog.Int64("seq", reply.Seq))
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// errNotOwner is wrapped by the not-found error for another student's run,
// which the browser must not tell from an unknown run.
var errNotOwner = errors.New("run belongs to another student")

func notOwned(id string) error {
	return &timeback.Error{Code: timeback.CodeNotFound,
		Message: fmt.Sprintf("run %q not found for this student", id), Err: errNotOwner}
}

// resume opens a new session of a stored run: a fresh window starts now.
func (h *Handler) resume(ctx context.Context, id string, user timeback.User, object timeback.ActivityContext,
	now time.Time) (startReply, error) {
	var reply startReply
	err := h.runs.Update(ctx, id, func(run *Run) error {
		if run.Owner.ID != user.ID {
			return notOwned(id)
		}
		if run.State == RunCompleted {
			return timeback.Errorf(timeback.CodeConflict, "run %q is completed; start a new run", id)
		}
		if run.Object.ID != object.ID {
			return timeback.Errorf(timeback.CodeConflict, "run %q belongs to activity %q, not %q",
				id, run.Object.ID, object.ID)
		}
		run.State = RunOpen
		run.LastHeartbeat = now
		// The previous session's last window may end up to the leeway
		// after now. The new session starts there and keeps that lead, so
		// that its windows neither overlap the old ones nor gain time. A
		// lead beyond the leeway means the clock stepped back, and the
		// session starts now.
		if lead := run.WindowEnd.Sub(now); lead > 0 && lead <= h.cfg.Leeway {
			run.Ahead = lead
		} else {
			run.WindowEnd = now
			run.Ahead = 0
		}
		reply = startReply{RunID: id, Seq: run.Seq, Resumed: true, Totals: millisOf(run.Active, run.Inactive)}
		return nil
	})
	return reply, err
}

// activity returns the activity context of a start request.
func (h *Handler) activity(r *http.Request, a ActivityRequest, c CourseRequest) (timeback.ActivityContext, error) {
	if h.cfg.Activity != nil {
		ac, err := h.cfg.Activity(r, a, c)
		if err != nil {
			return timeback.ActivityContext{}, err
		}
		if ac.AppName == "" {
			ac.AppName = h.cfg.AppName
		}
		return ac, nil
	}

	base := h.cfg.ActivityBaseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host + "/activities/"
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	ac := timeback.ActivityContext{
		ID:      base + a.ID,
		Subject: a.Subject,
		AppName: h.cfg.AppName,
		AppID:   h.cfg.AppID,
	}
	if !caliper.IsIRI(ac.ID) {
		return ac, fieldError("activity.id", "%q does not form an IRI under %q", a.ID, base)
	}
	if a.Name != "" {
		ac.Activity = &timeback.Named{Name: a.Name}
	}
	if c.Name != "" {
		ac.Course = &timeback.Named{Name: c.Name}
	}
	return ac, nil
}

// checkRun builds a trial event for a new run, so that an activity context
// or user that no event could carry is rejected at start, not at the first
// heartbeat.
func checkRun(user timeback.User, object timeback.ActivityContext, runID, courseID string) error {
	_, err := timeback.NewTimeSpent(timeback.Common{Actor: user, Object: object, RunID: runID, CourseID: courseID},
		timeback.TimeItem{Type: timeback.TimeActive})
	if err != nil {
		return &timeback.Error{Code: timeback.CodeInvalid, Message: "the run cannot form valid events", Err: err}
	}
	return nil
}

func (h *Handler) heartbeat(w http.ResponseWriter, r *http.Request) error {
	return h.window(w, r, false)
}

func (h *Handler) end(w http.ResponseWriter, r *http.Request) error {
	return h.window(w, r, true)
}

// window accepts one heartbeat, or the end of a session when final is set.
// It checks the run and the sequence number, caps the claimed time and
// sends the events. Only then does it advance the run, so that a message
// whose events the sink rejected can be sent again with the same sequence
// number.
func (h *Handler) window(w http.ResponseWriter, r *http.Request, final bool) error {
	user, err := h.resolve(r)
	if err != nil {
		return err
	}
	var req windowRequest
	if err := decode(r, &req, h.cfg.MaxBodyBytes, final); err != nil {
		return err
	}
	setRunID(r, req.RunID)
	if err := req.check(final); err != nil {
		return err
	}

	var (
		reply   windowReply
		counted allowance
		sent    []timeback.Event
	)
	err = h.runs.Update(r.Context(), req.RunID, func(run *Run) error {
		if run.Owner.ID != user.ID {
			return notOwned(req.RunID)
		}
		seq := *req.Seq
		if seq == run.Seq {
			reply = windowReply{RunID: run.ID, Seq: seq, Duplicate: true,
				Totals: millisOf(run.Active, run.Inactive), State: run.State.String()}
			return nil
		}
		switch run.State {
		case RunCompleted:
			return timeback.Errorf(timeback.CodeConflict, "run %q is completed; its time is final", run.ID)
		case RunClosed:
			return timeback.Errorf(timeback.CodeConflict,
				"run %q was ended; POST /activity/start with its runId to resume it", run.ID)
		}
		if seq < run.Seq {
			return fieldError("seq", "%d is out of order: run %q already accepted %d", seq, run.ID, run.Seq)
		}

		now := h.now()
		counted = guardWindow(
			time.Duration(*req.ActiveMs)*time.Millisecond,
			time.Duration(*req.InactiveMs)*time.Millisecond,
			now.Sub(run.LastHeartbeat), run.Ahead, h.cfg.Leeway)
		counted.Active = counted.Active.Truncate(time.Millisecond)
		counted.Inactive = counted.Inactive.Truncate(time.Millisecond)

		next := *run
		next.Seq = seq
		// A clock that stepped back must not move the reference back, or
		// the wall time between the two would be granted twice.
		if now.After(run.LastHeartbeat) {
			next.LastHeartbeat = now
		}
		next.Ahead = counted.Ahead
		next.Active += counted.Active
		next.Inactive += counted.Inactive

		events, err := h.buildEvents(r.Context(), run, &next, counted, now, final, req.Metrics)
		if err != nil {
			return err
		}
		if len(events) > 0 {
			if err := h.cfg.Sink.Send(r.Context(), events...); err != nil {
				return &timeback.Error{Code: timeback.CodeUnavailable,
					Message: "the events could not be queued; send the message again", Err: err}
			}
		}
		sent = events
		*run = next
		reply = windowReply{RunID: run.ID, Seq: seq,
			Counted: millisOf(counted.Active, counted.Inactive),
			Capped:  millisOf(counted.CappedActive, counted.CappedInactive),
			Totals:  millisOf(run.Active, run.Inactive), State: run.State.String()}
		if run.State == RunCompleted {
			xp := run.XPEarned
			reply.XPEarned = &xp
		}
		return nil
	})
	if err != nil {
		return err
	}

	h.record(r, user, reply, counted, sent)
	writeJSON(w, http.StatusOK, reply)
	return nil
}

// buildEvents returns the TimeSpentEvent of the window, when it has time or
// is the final flush, followed by the ActivityCompletedEvent when metrics
// are given. It sets next's state and XP.
func (h *Handler) buildEvents(ctx context.Context, run, next *Run, counted allowance, now time.Time,
	final bool, m *metricsInput) ([]timeback.Event, error) {
	common := timeback.Common{
		EventTime: now,
		Actor:     run.Owner,
		Object:    run.Object,
		EdApp:     h.cfg.EdApp,
		RunID:     run.ID,
		CourseID:  run.CourseID,
	}

	var events []timeback.Event
	total := counted.Active + counted.Inactive
	if total > 0 || final {
		start, end := placeWindow(run.WindowEnd, now, total, h.cfg.Leeway)
		next.WindowEnd = end
		tc := common
		tc.EventTime = latest(now, end)
		if final {
			tc.Extensions = map[string]any{ExtensionFinalFlush: true}
		}
		ts, err := timeback.NewTimeSpent(tc,
			timeback.TimeItem{Type: timeback.TimeActive, Seconds: seconds(counted.Active), Start: start, End: end},
			timeback.TimeItem{Type: timeback.TimeInactive, Seconds: seconds(counted.Inactive), Start: start, End: end},
		)
		if err != nil {
			return nil, err
		}
		events = append(events, ts)
	}
	if !final {
		return events, nil
	}
	if m == nil {
		next.State = RunClosed
		return events, nil
	}

	done, err := h.runs.CountCompleted(ctx, run.Owner.ID, run.Object.ID)
	if err != nil {
		return nil, err
	}
	xp, err := timeback.ResolveXP(m.XPEarned, timeback.XPInput{
		Active:           next.Active,
		TotalQuestions:   m.TotalQuestions,
		CorrectQuestions: m.CorrectQuestions,
		Attempt:          done + 1,
	}, h.cfg.AllowXPAboveFocus)
	if err != nil {
		return nil, underMetrics(err)
	}
	completion, err := timeback.NewActivityCompleted(common, timeback.Completion{
		XPEarned:         xp,
		TotalQuestions:   m.TotalQuestions,
		CorrectQuestions: m.CorrectQuestions,
		MasteredUnits:    m.MasteredUnits,
		PctCompleteApp:   m.PctCompleteApp,
	})
	if err != nil {
		return nil, err
	}
	next.State = RunCompleted
	next.XPEarned = xp
	return append(events, completion), nil
}

// underMetrics returns err with the fields of a *timeback.Error placed
// under metrics, the object of the request that carries them.
func underMetrics(err error) error {
	var appErr *timeback.Error
	if !errors.As(err, &appErr) {
		return err
	}
	moved := *appErr
	moved.Message = "metrics." + appErr.Message
	moved.Fields = make([]timeback.FieldError, len(appErr.Fields))
	for i, f := range appErr.Fields {
		moved.Fields[i] = timeback.FieldError{Path: "/metrics/" + strings.TrimPrefix(f.Path, "/"), Message: f.Message}
	}
	return &moved
}

// placeWindow returns the start and end of a window that counts total and
// arrives at now, when the session's previous window ended at previous.
// Usually the window starts at previous and spans exactly total, so that
// the windows of a session tile with no gap and no overlap. It may end up
// to the leeway after now, because the time guard lets counted time run
// that far ahead of the server's clock for network jitter. When it would
// end more than the leeway before now, the browser did not track part of
// the time, such as while hidden past its timeout, so the window ends now
// and the gap falls before it.
func placeWindow(previous, now time.Time, total, leeway time.Duration) (start, end time.Time) {
	end = previous.Add(total)
	if now.Sub(end) > leeway {
		return now.Add(-total), now
	}
	return previous, end
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func seconds(d time.Duration) float64 {
	return float64(d.Milliseconds()) / 1000
}

// record logs and counts an accepted message: every cap of the time guard,
// duplicates, and the events sent.
func (h *Handler) record(r *http.Request, user timeback.User, reply windowReply, a allowance,
	sent []timeback.Event) {
	m := h.metrics
	if reply.Duplicate {
		m.duplicates.Inc()
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "duplicate message ignored",
			slog.String("run_id", reply.RunID), slog.Int64("seq", reply.Seq))
		return
	}
	m.countedTime.WithLabelValues(string(timeback.TimeActive)).Add(a.Active.Seconds())
	m.countedTime.WithLabelValues(string(timeback.TimeInactive)).Add(a.Inactive.Seconds())
	for _, c := range []struct {
		category timeback.TimeCategory
		removed  time.Duration
	}{{timeback.TimeActive, a.CappedActive}, {timeback.TimeInactive, a.CappedInactive}} {
		if c.removed <= 0 {
			continue
		}
		m.capped.WithLabelValues(string(c.category)).Inc()
		m.cappedTime.WithLabelValues(string(c.category)).Add(c.removed.Seconds())
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "claimed time capped",
			slog.String("run_id", reply.RunID), slog.String("actor", user.ID),
			slog.Int64("seq", reply.Seq), slog.String("type", string(c.category)),
			slog.Duration("removed", c.removed), slog.Int64("counted_active_ms", reply.Counted.ActiveMs),
			slog.Int64("counted_inactive_ms", reply.Counted.InactiveMs))
	}
	for _, e := range sent {
		switch e.(type) {
		case *timeback.TimeSpent:
			m.eventsSent.WithLabelValues(timeback.TypeTimeSpentEvent).Inc()
		case *timeback.ActivityCompleted:
			m.eventsSent.WithLabelValues(timeback.TypeActivityEvent).Inc()
			h.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "run completed",
				slog.String("run_id", reply.RunID), slog.String("actor", user.ID),
				slog.Float64("xp_earned", *reply.XPEarned))
		}
	}
}
