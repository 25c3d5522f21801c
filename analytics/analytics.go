// Package analytics serves learning facts over HTTP: a JSON API under
// /analytics/ and a dashboard of server-rendered HTML pages with SVG charts
// at / and under /dashboard/, which works without JavaScript.
//
// The Caliper endpoint mounts the handler next to its own routes:
//
//	a, err := analytics.New(analytics.Config{Source: store})
//	if err != nil {
//		return err
//	}
//	for _, pattern := range analytics.Patterns {
//		mux.Handle(pattern, a)
//	}
package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/internal/httpquery"
)

// Patterns are the http.ServeMux patterns that Handler serves.
var Patterns = []string{"GET /analytics/", "GET /dashboard/", "GET /{$}"}

// DefaultDays is the number of days a query covers when it gives no from.
const DefaultDays = 14

// Config configures a Handler. Only Source is required.
type Config struct {
	// Source reads the stored facts.
	Source facts.Source
	// Now returns the current time, which sets the default end of a
	// range. Nil means time.Now.
	Now func() time.Time
	// Logger receives one line per request that fails on the server's
	// side. Nil discards them.
	Logger *slog.Logger
	// SignOutPath, when not empty, is where the pages' sign-out button
	// posts, such as the endpoint's /dashboard/logout.
	SignOutPath string
}

// Handler serves the analytics API and the dashboard.
type Handler struct {
	src facts.Source
	now func() time.Time
	log *slog.Logger
	mux *http.ServeMux

	signOut string
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Source == nil {
		return nil, errors.New("analytics: Config.Source is nil")
	}
	h := &Handler{src: cfg.Source, now: cfg.Now, log: cfg.Logger, mux: http.NewServeMux(), signOut: cfg.SignOutPath}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.mux.HandleFunc("GET /analytics/students/{id}/daily", h.daily)
	h.mux.HandleFunc("GET /analytics/students/{id}/weekly", h.weekly)
	h.mux.HandleFunc("GET /analytics/runs/{runId}", h.run)
	h.mux.HandleFunc("GET /analytics/", h.apiNotFound)
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /dashboard/students/{id}", h.studentPage)
	h.mux.HandleFunc("GET /dashboard/sensors", h.sensorPage)
	h.mux.HandleFunc("GET /dashboard/", h.pageNotFound)
	return h, nil
}

// ServeHTTP routes the request. A query with a parameter that url.Values
// would drop, such as one with a semicolon or a bad escape, is a 400, so
// that a misspelt zone or date never falls back to its default.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := checkQuery(r.URL.RawQuery); err != nil {
		if strings.HasPrefix(r.URL.Path, "/analytics/") {
			h.fail(w, r, err)
			return
		}
		h.renderError(w, r, &page{Title: "Invalid query", Range: facts.Range{Loc: time.UTC}}, err)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// checkQuery returns an error naming the first parameter of raw that
// url.ParseQuery rejects.
func checkQuery(raw string) error {
	_, err := httpquery.Parse(raw)
	return err
}

// queryRange reads from, to and tz of r. A missing to is today in tz and a
// missing from is DefaultDays-1 days before to.
func (h *Handler) queryRange(r *http.Request) (facts.Range, error) {
	q := r.URL.Query()
	tz := q.Get("tz")
	loc, err := facts.LoadZone(tz)
	if err != nil {
		return facts.Range{}, &timeback.Error{Code: timeback.CodeInvalid, Message: "invalid tz: " + err.Error(),
			Fields: []timeback.FieldError{{Path: "tz", Message: err.Error()}}}
	}
	from, to := q.Get("from"), q.Get("to")
	if to == "" {
		to = facts.DateOf(h.now().In(loc)).String()
	}
	if from == "" {
		d, err := facts.ParseDate(to)
		if err != nil {
			// The default from depends on to, so only to is wrong.
			return facts.Range{}, &timeback.Error{Code: timeback.CodeInvalid,
				Message: "invalid range: to: " + err.Error(),
				Fields:  []timeback.FieldError{{Path: "to", Message: err.Error()}}}
		}
		from = d.AddDays(1 - DefaultDays).String()
	}
	return facts.ParseRange(from, to, tz)
}

// Daily is the reply of GET /analytics/students/{id}/daily.
type Daily struct {
	StudentID string      `json:"studentId"`
	TZ        string      `json:"tz"`
	From      facts.Date  `json:"from"`
	To        facts.Date  `json:"to"`
	Days      []facts.Day `json:"days"`
	// Runs are the runs with facts in the range, over their whole length.
	Runs []facts.Run `json:"runs"`
}

// Weekly is the reply of GET /analytics/students/{id}/weekly.
type Weekly struct {
	StudentID string       `json:"studentId"`
	TZ        string       `json:"tz"`
	From      facts.Date   `json:"from"`
	To        facts.Date   `json:"to"`
	Weeks     []facts.Week `json:"weeks"`
}

// RunReply is the reply of GET /analytics/runs/{runId}: one entry per
// student who sent that run id, usually one.
type RunReply struct {
	RunID string      `json:"runId"`
	Runs  []facts.Run `json:"runs"`
}

// StudentDaily reads the daily facts of one student in r, with the runs
// that have facts in r.
func StudentDaily(ctx context.Context, src facts.Source, student string, r facts.Range) (*Daily, error) {
	ws, cs, err := src.Facts(ctx, facts.Query{StudentID: student, Start: r.Start(), End: r.End()})
	if err != nil {
		return nil, err
	}
	d := &Daily{StudentID: student, TZ: r.Loc.String(), From: r.From, To: r.To, Days: facts.Daily(r, ws, cs)}
	d.Runs, err = wholeRuns(ctx, src, ws, cs)
	return d, err
}

// wholeRuns returns the runs that the facts belong to, read in full.
func wholeRuns(ctx context.Context, src facts.Source, ws []facts.Window, cs []facts.Completion) ([]facts.Run, error) {
	var keys []facts.RunKey
	for _, w := range ws {
		keys = append(keys, w.Key())
	}
	for _, c := range cs {
		keys = append(keys, c.Key())
	}
	slices.SortFunc(keys, func(a, b facts.RunKey) int {
		if a.StudentID != b.StudentID {
			return compare(a.StudentID, b.StudentID)
		}
		return compare(a.RunID, b.RunID)
	})
	keys = slices.Compact(keys)
	if len(keys) == 0 {
		return []facts.Run{}, nil
	}
	rws, rcs, err := src.Facts(ctx, facts.Query{Runs: keys})
	if err != nil {
		return nil, err
	}
	return facts.Runs(rws, rcs), nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (h *Handler) daily(w http.ResponseWriter, r *http.Request) {
	rg, err := h.queryRange(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	student := r.PathValue("id")
	d, err := StudentDaily(r.Context(), h.src, student, rg)
	if err == nil && len(d.Runs) == 0 {
		err = h.knownStudent(r.Context(), student)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (h *Handler) weekly(w http.ResponseWriter, r *http.Request) {
	rg, err := h.queryRange(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The range passed its check, and widening it to whole weeks adds
	// at most 12 days.
	wr := rg.Weeks()
	student := r.PathValue("id")
	ws, cs, err := h.src.Facts(r.Context(), facts.Query{StudentID: student, Start: wr.Start(), End: wr.End()})
	if err == nil && len(ws) == 0 && len(cs) == 0 {
		err = h.knownStudent(r.Context(), student)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &Weekly{StudentID: student, TZ: rg.Loc.String(), From: wr.From, To: wr.To,
		Weeks: facts.Weekly(rg, ws, cs)})
}

// knownStudent returns a not-found error unless the student has facts at
// some time. A known student without facts in the range gets empty days.
// Students sorts in the database's collation, so the list is searched
// whole.
func (h *Handler) knownStudent(ctx context.Context, student string) error {
	known, err := h.src.Students(ctx, "")
	if err != nil {
		return err
	}
	if !slices.Contains(known, student) {
		return timeback.Errorf(timeback.CodeNotFound, "student %q not found", student)
	}
	return nil
}

func (h *Handler) run(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("runId")
	ws, cs, err := h.src.Facts(r.Context(), facts.Query{RunID: id})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(ws) == 0 && len(cs) == 0 {
		h.fail(w, r, timeback.Errorf(timeback.CodeNotFound, "run %q not found", id))
		return
	}
	writeJSON(w, http.StatusOK, &RunReply{RunID: id, Runs: facts.Runs(ws, cs)})
}

func (h *Handler) apiNotFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, timeback.Errorf(timeback.CodeNotFound, "no analytics route %s: use "+
		"/analytics/students/{id}/daily, /analytics/students/{id}/weekly or /analytics/runs/{runId}", r.URL.Path))
}

// errorReply is the error shape of the Timeback API.
type errorReply struct {
	Status  string                `json:"status"`
	Message string                `json:"message"`
	Errors  []timeback.FieldError `json:"errors"`
}

// status returns the HTTP status and message for err. For a 503 it sets
// Retry-After on w, as the Caliper endpoint does.
func (h *Handler) status(w http.ResponseWriter, r *http.Request, err error) (int, *timeback.Error) {
	var e *timeback.Error
	if !errors.As(err, &e) {
		e = &timeback.Error{Code: timeback.CodeInternal, Message: "internal error", Err: err}
	}
	status := timeback.HTTPStatus(e.Code)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "analytics request failed", "path", r.URL.Path, "status", status,
			"err", err)
	}
	return status, e
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, e := h.status(w, r, err)
	fields := e.Fields
	if fields == nil {
		fields = []timeback.FieldError{}
	}
	writeJSON(w, status, errorReply{Status: "error", Message: e.Message, Errors: fields})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("encode reply: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
