package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"

	timeback "github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
)

// acceptReply is the reply to an accepted envelope.
type acceptReply struct {
	JobID          string                `json:"jobId"`
	EventsAccepted int                   `json:"eventsAccepted"`
	Duplicates     int                   `json:"duplicates"`
	Warnings       []timeback.FieldError `json:"warnings"`
}

// validateReply is the reply of POST /caliper/event/validate for a valid
// envelope. Its shape is this project's own, as the Timeback API
// documents none for this route.
type validateReply struct {
	Status   string                `json:"status"`
	Message  string                `json:"message"`
	Events   int                   `json:"events"`
	Entities int                   `json:"entities"`
	Warnings []timeback.FieldError `json:"warnings"`
}

// envelope is a checked envelope ready to store.
type envelope struct {
	sensor   string
	batch    *timeback.Batch
	entities int
	warnings []timeback.FieldError
}

// rejection is a request error with its metrics reason and the sensor, if
// the envelope got far enough to name one.
type rejection struct {
	reason string
	sensor string
	err    *timeback.Error
	// status overrides the HTTP status of err's code when non-zero, for
	// statuses that no code maps to.
	status int
}

func (h *Handler) postEvent(w http.ResponseWriter, r *http.Request) {
	env, rej := h.readEnvelope(w, r)
	if rej != nil {
		h.reject(w, r, rej)
		return
	}

	res, err := h.committer.submit(r.Context(), env.batch)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		h.reject(w, r, storeRejection(env.sensor, err))
		return
	}

	h.metrics.stored.Add(float64(res.Stored))
	h.metrics.duplicates.Add(float64(res.Duplicates))
	writeJSON(w, http.StatusOK, acceptReply{
		JobID:          env.batch.JobID,
		EventsAccepted: len(env.batch.Events),
		Duplicates:     res.Duplicates,
		Warnings:       env.warnings,
	})
}

func (h *Handler) validateEvent(w http.ResponseWriter, r *http.Request) {
	env, rej := h.readEnvelope(w, r)
	if rej != nil {
		h.writeErrorStatus(w, rej.status, rej.err)
		return
	}
	writeJSON(w, http.StatusOK, validateReply{
		Status:   "success",
		Message:  "the envelope is valid; nothing was stored",
		Events:   len(env.batch.Events),
		Entities: env.entities,
		Warnings: env.warnings,
	})
}

func (h *Handler) reject(w http.ResponseWriter, r *http.Request, rej *rejection) {
	h.rejected(r, rej.sensor, rej.reason, rej.err)
	h.writeErrorStatus(w, rej.status, rej.err)
}

// storeRejection classifies an error of the committer or the store.
func storeRejection(sensor string, err error) *rejection {
	var e *timeback.Error
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		e = &timeback.Error{Code: timeback.CodeUnavailable,
			Message: "the request ended before the commit finished: retry, the events may be stored", Err: err}
		return &rejection{reason: reasonTimeout, sensor: sensor, err: e}
	case !errors.As(err, &e):
		e = &timeback.Error{Code: timeback.CodeInternal, Message: "store failed: " + err.Error(), Err: err}
	}
	// The cause of a 5xx may name files and SQL, so the client gets the
	// fact and the log gets the detail.
	switch e.Code {
	case timeback.CodeConflict:
		return &rejection{reason: reasonConflict, sensor: sensor, err: e}
	case timeback.CodeInvalid:
		return &rejection{reason: reasonInvalid, sensor: sensor, err: e}
	case timeback.CodeUnavailable:
		return &rejection{reason: reasonUnavailable, sensor: sensor, err: &timeback.Error{
			Code:    timeback.CodeUnavailable,
			Message: "the event store could not commit the envelope; nothing was stored: retry later", Err: err}}
	default:
		// A retry meets the same failure, so this is a 500 and not a 503.
		return &rejection{reason: reasonInternal, sensor: sensor, err: &timeback.Error{
			Code:    timeback.CodeInternal,
			Message: "storing the envelope failed on the server; nothing was stored", Err: err}}
	}
}

// readEnvelope reads, checks and decodes the request body into a batch.
func (h *Handler) readEnvelope(w http.ResponseWriter, r *http.Request) (*envelope, *rejection) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, &rejection{reason: reasonMediaType, err: err}
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil, &rejection{reason: reasonMediaType, err: timeback.Errorf(timeback.CodeUnsupportedMedia,
			"unsupported Content-Encoding %q: send the envelope uncompressed", enc)}
	}
	body, rej := h.readBody(w, r)
	if rej != nil {
		return nil, rej
	}

	report := caliper.Validate(body, caliper.Options{Strict: h.strict})
	sensor := ""
	if report.Envelope != nil {
		sensor = report.Envelope.Sensor
	}
	failing := report.Problems.Failing(h.strict)
	if len(failing) > 0 {
		return nil, problemRejection(sensor, report, failing)
	}
	if report.Kind != caliper.KindEnvelope || report.Envelope == nil {
		return nil, &rejection{reason: reasonInvalid, err: &timeback.Error{Code: timeback.CodeInvalid,
			Message: "the body is not a Caliper envelope: send {sensor, sendTime, dataVersion, data}",
			Fields:  []timeback.FieldError{{Path: "", Message: "expected a Caliper envelope"}}}}
	}

	env := &envelope{sensor: sensor, warnings: []timeback.FieldError{}}
	for _, p := range report.Problems.Warnings() {
		env.warnings = append(env.warnings, timeback.FieldError{Path: p.Pointer, Message: p.Message})
	}
	batch, entities, err := h.newBatch(report.Envelope)
	if err != nil {
		return nil, &rejection{reason: reasonInvalid, sensor: sensor, err: err}
	}
	env.batch, env.entities = batch, entities
	if entities > 0 {
		env.warnings = append(env.warnings, timeback.FieldError{Path: "/data",
			Message: fmt.Sprintf("%d entity describes validated but not stored: the endpoint stores events only", entities)})
	}
	return env, nil
}

// newBatch turns the envelope's events into a batch, rejecting repeated
// event ids.
func (h *Handler) newBatch(env *caliper.Envelope) (*timeback.Batch, int, *timeback.Error) {
	b := &timeback.Batch{
		JobID:    h.newJobID(),
		Sensor:   env.Sensor,
		SendTime: env.SendTime,
		Received: h.now(),
	}
	entities := 0
	first := make(map[string]string, len(env.Data))
	var fields []timeback.FieldError
	for _, item := range env.Data {
		if item.Event == nil {
			entities++
			continue
		}
		if at, ok := first[item.ID]; ok {
			fields = append(fields, timeback.FieldError{Path: item.Pointer + "/id",
				Message: fmt.Sprintf("event id %q repeats the id of the event at %s", item.ID, at)})
			continue
		}
		first[item.ID] = item.Pointer
		canonical, err := caliper.Canonical(item.Raw)
		if err != nil {
			fields = append(fields, timeback.FieldError{Path: item.Pointer, Message: "cannot encode event: " + err.Error()})
			continue
		}
		b.Events = append(b.Events, timeback.NewEvent{Item: item, Canonical: canonical})
	}
	if len(fields) > 0 {
		return nil, 0, &timeback.Error{Code: timeback.CodeInvalid,
			Message: "invalid envelope: " + fields[0].Message, Fields: fields}
	}
	return b, entities, nil
}

// problemRejection maps the validator's failing problems to 400, or to 422
// when the dataVersion is not supported.
func problemRejection(sensor string, report caliper.Report, failing caliper.Problems) *rejection {
	fields := make([]timeback.FieldError, len(failing))
	for i, p := range failing {
		fields[i] = timeback.FieldError{Path: p.Pointer, Message: p.Message}
	}
	for _, p := range failing {
		if p.Pointer == "/dataVersion" {
			// The validator's message may already name the problem and
			// the accepted version; it is then given as it is.
			msg := p.Message
			if !strings.Contains(msg, "dataVersion") {
				msg = "unsupported dataVersion: " + msg
			}
			if !strings.Contains(msg, caliper.ContextV1p2) {
				msg += "; send " + caliper.ContextV1p2
			}
			return &rejection{reason: reasonVersion, sensor: sensor, err: &timeback.Error{
				Code: timeback.CodeUnsupportedVersion, Message: msg, Fields: fields}}
		}
	}
	reason, msg := reasonInvalid, "invalid envelope"
	if report.Kind == caliper.KindUnknown && len(report.Items) == 0 && isSyntaxProblem(failing[0]) {
		reason, msg = reasonMalformed, "malformed JSON"
	}
	return &rejection{reason: reason, sensor: sensor, err: &timeback.Error{Code: timeback.CodeInvalid,
		Message: fmt.Sprintf("%s: %s: %s", msg, pointerOrRoot(failing[0].Pointer), failing[0].Message),
		Fields:  fields}}
}

func isSyntaxProblem(p caliper.Problem) bool {
	m := strings.ToLower(p.Message)
	return strings.Contains(m, "json") || strings.Contains(m, "syntax") || strings.Contains(m, "unexpected")
}

func pointerOrRoot(p string) string {
	if p == "" {
		return "document"
	}
	return p
}

// checkContentType accepts application/json with no charset or a UTF-8
// one. Other parameters are ignored.
func checkContentType(header string) *timeback.Error {
	if header == "" {
		return timeback.Errorf(timeback.CodeUnsupportedMedia,
			"missing Content-Type: send Content-Type: application/json")
	}
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil {
		return timeback.Errorf(timeback.CodeUnsupportedMedia,
			"invalid Content-Type %q: %v; send application/json", header, err)
	}
	if mediaType != "application/json" {
		return timeback.Errorf(timeback.CodeUnsupportedMedia,
			"unsupported Content-Type %q: send application/json", mediaType)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return timeback.Errorf(timeback.CodeUnsupportedMedia,
			"unsupported charset %q: send UTF-8", cs)
	}
	return nil
}

// readBody reads the whole body within the payload limit. Past the limit
// the server closes the connection instead of reading the rest.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *rejection) {
	if r.ContentLength > h.maxBody {
		return nil, h.tooLarge(r.ContentLength)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err == nil {
		if len(body) == 0 {
			return nil, &rejection{reason: reasonBadBody, err: timeback.Errorf(timeback.CodeInvalid,
				"empty request body: send one Caliper envelope")}
		}
		return body, nil
	}

	var tooBig *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		return nil, h.tooLarge(-1)
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, &rejection{reason: reasonTimeout, status: http.StatusRequestTimeout,
			err: &timeback.Error{Code: timeback.CodeInvalid,
				Message: "timed out reading the request body: send it faster or in a smaller envelope", Err: err}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg := fmt.Sprintf("request body ended after %d bytes, before its declared length", len(body))
		if r.ContentLength < 0 {
			msg = fmt.Sprintf("request body ended after %d bytes, before its last chunk", len(body))
		}
		return nil, &rejection{reason: reasonBadBody, err: &timeback.Error{Code: timeback.CodeInvalid,
			Message: msg, Err: err}}
	default:
		return nil, &rejection{reason: reasonBadBody, err: &timeback.Error{Code: timeback.CodeInvalid,
			Message: "reading the request body failed: " + err.Error(), Err: err}}
	}
}

func (h *Handler) tooLarge(length int64) *rejection {
	msg := fmt.Sprintf("request body above the limit of %d bytes: split the envelope", h.maxBody)
	if length >= 0 {
		msg = fmt.Sprintf("request body of %d bytes above the limit of %d bytes: split the envelope",
			length, h.maxBody)
	}
	return &rejection{reason: reasonTooLarge, err: timeback.Errorf(timeback.CodeTooLarge, "%s", msg)}
}
