package endpoint

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	timeback "github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
	"github.com/timeback/timeback-go/internal/httpquery"
)

// eventsReply is the reply of GET /caliper/events.
//
// NOTE: the Timeback API documents the query parameters of this route but
// not its reply, so the events and pagination members are this project's
// own shape.
type eventsReply struct {
	// Events are the stored events, each exactly as it was sent.
	Events     []json.RawMessage `json:"events"`
	Pagination pagination        `json:"pagination"`
}

type pagination struct {
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Count  int `json:"count"`
	// NextCursor continues the listing with ?cursor=, empty on the last
	// page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// queryParams are the parameters GET /caliper/events accepts.
var queryParams = []string{"limit", "offset", "cursor", "sensor", "startDate", "endDate", "actorId", "actorEmail"}

func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request) {
	v, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, err)
		return
	}
	q, err := parseEventQuery(v)
	if err != nil {
		h.writeError(w, err)
		return
	}
	page, err := h.store.Events(r.Context(), q)
	if err != nil {
		h.writeError(w, err)
		return
	}
	reply := eventsReply{
		Events: make([]json.RawMessage, len(page.Events)),
		Pagination: pagination{Limit: q.Limit, Offset: q.Offset, Count: len(page.Events),
			NextCursor: page.Next},
	}
	for i, ev := range page.Events {
		reply.Events[i] = ev.JSON
	}
	if reply.Pagination.Limit == 0 {
		reply.Pagination.Limit = timeback.DefaultEventLimit
	}
	writeJSON(w, http.StatusOK, reply)
}

// parseQuery parses a raw query string like httpquery.Parse, so that a
// parameter that url.Values would drop is rejected instead of a filter
// silently listing everything.
func parseQuery(raw string) (url.Values, error) {
	v, err := httpquery.Parse(raw)
	if e, ok := err.(*timeback.Error); ok {
		e.Message = "invalid query: " + e.Message
	}
	return v, err
}

// parseEventQuery reads the listing parameters, rejecting unknown ones so
// that a misspelt filter does not silently list everything.
func parseEventQuery(v url.Values) (timeback.EventQuery, error) {
	var q timeback.EventQuery
	var fields []timeback.FieldError
	bad := func(name, format string, args ...any) {
		fields = append(fields, timeback.FieldError{Path: name, Message: fmt.Sprintf(format, args...)})
	}
	for _, name := range slices.Sorted(maps.Keys(v)) {
		values := v[name]
		switch {
		case !slices.Contains(queryParams, name):
			bad(name, "unknown query parameter %q: use one of %v", name, queryParams)
		case len(values) > 1:
			bad(name, "query parameter %q is given %d times: give it once", name, len(values))
		}
	}

	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > timeback.MaxEventLimit {
			bad("limit", "invalid limit %q: use a whole number from 1 to %d", s, timeback.MaxEventLimit)
		}
		q.Limit = n
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			bad("offset", "invalid offset %q: use a whole number from 0", s)
		}
		q.Offset = n
	}
	q.Start = parseDate(v, "startDate", bad)
	q.End = parseDate(v, "endDate", bad)
	if !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start) {
		bad("endDate", "endDate %s is before startDate %s", v.Get("endDate"), v.Get("startDate"))
	}
	q.Cursor = v.Get("cursor")
	if q.Cursor != "" {
		if _, err := timeback.DecodeCursor(q.Cursor); err != nil {
			bad("cursor", "invalid cursor %q: use the nextCursor of an earlier page", q.Cursor)
		}
	}
	q.Sensor, q.ActorID, q.ActorEmail = v.Get("sensor"), v.Get("actorId"), v.Get("actorEmail")

	if len(fields) > 0 {
		return q, &timeback.Error{Code: timeback.CodeInvalid,
			Message: "invalid query: " + fields[0].Message, Fields: fields}
	}
	return q, nil
}

func parseDate(v url.Values, name string, bad func(string, string, ...any)) time.Time {
	s := v.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		bad(name, "invalid %s %q: use an RFC 3339 date-time such as 2026-01-27T10:00:00Z", name, s)
	}
	return t
}

func (h *Handler) getEvent(w http.ResponseWriter, r *http.Request) {
	ev, err := h.store.Event(r.Context(), r.PathValue("id"))
	if err != nil {
		h.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(ev.JSON)))
	w.WriteHeader(http.StatusOK)
	w.Write(ev.JSON)
}

// jobReply is the Timeback job status shape.
type jobReply struct {
	Job jobBody `json:"job"`
}

type jobBody struct {
	ID          string      `json:"id"`
	State       string      `json:"state"`
	ReturnValue returnValue `json:"returnValue"`
	// ProcessedOn is when the job finished, in Unix milliseconds.
	ProcessedOn int64 `json:"processedOn"`
}

type returnValue struct {
	Status  string      `json:"status"`
	Results []jobResult `json:"results"`
}

type jobResult struct {
	AllocatedID string `json:"allocatedId"`
	ExternalID  string `json:"externalId"`
	Duplicate   bool   `json:"duplicate,omitempty"`
}

func (h *Handler) jobStatus(w http.ResponseWriter, r *http.Request) {
	job, err := h.store.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		h.writeError(w, err)
		return
	}
	body := jobBody{
		ID:          job.ID,
		State:       string(job.State),
		ReturnValue: returnValue{Status: "success", Results: make([]jobResult, len(job.Results))},
		ProcessedOn: job.Processed.UnixMilli(),
	}
	for i, res := range job.Results {
		body.ReturnValue.Results[i] = jobResult{AllocatedID: res.AllocatedID, ExternalID: res.ExternalID,
			Duplicate: res.Duplicate}
	}
	writeJSON(w, http.StatusOK, jobReply{Job: body})
}

// configReply is the Caliper endpoint configuration payload.
type configReply struct {
	SupportedVersions   []string           `json:"caliperSupportedVersions"`
	MaximumPayloadSize  int64              `json:"caliperMaximumPayloadSize"`
	SupportedExtensions supportedExtension `json:"caliperSupportedExtensions"`
}

type supportedExtension struct {
	EndpointName    string `json:"endpointName"`
	EndpointVersion string `json:"endpointVersion"`
}

func (h *Handler) config(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, configReply{
		SupportedVersions:  []string{caliper.ContextV1p2},
		MaximumPayloadSize: h.maxBody,
		SupportedExtensions: supportedExtension{
			EndpointName:    "timeback serve",
			EndpointVersion: Version,
		},
	})
}
