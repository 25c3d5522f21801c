package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"github.com/timeback/timeback-go"
)

// ActivityRequest names the activity of a start request.
type ActivityRequest struct {
	// ID identifies the activity within the app, such as "Math/g3/lesson-1".
	ID string `json:"id"`
	// Name is object.activity.name, optional.
	Name string `json:"name,omitempty"`
	// Subject is object.subject, one of timeback.Subjects.
	Subject timeback.Subject `json:"subject"`
}

// CourseRequest names the course of a start request.
type CourseRequest struct {
	// ID is extensions.courseId, such as "MATH-3".
	ID string `json:"id"`
	// Name is object.course.name, optional.
	Name string `json:"name,omitempty"`
}

// startRequest is the body of POST /activity/start.
type startRequest struct {
	Activity *ActivityRequest `json:"activity"`
	Course   *CourseRequest   `json:"course"`
	// RunID resumes a saved run; empty starts a new one.
	RunID string `json:"runId,omitempty"`
}

// windowRequest is the body of POST /activity/heartbeat and, with Metrics,
// of POST /activity/end.
type windowRequest struct {
	RunID      string        `json:"runId"`
	Seq        *int64        `json:"seq"`
	ActiveMs   *int64        `json:"activeMs"`
	InactiveMs *int64        `json:"inactiveMs"`
	Metrics    *metricsInput `json:"metrics,omitempty"`
}

// metricsInput are the completion metrics of an end request.
type metricsInput struct {
	XPEarned         *float64 `json:"xpEarned,omitempty"`
	TotalQuestions   *float64 `json:"totalQuestions,omitempty"`
	CorrectQuestions *float64 `json:"correctQuestions,omitempty"`
	MasteredUnits    *float64 `json:"masteredUnits,omitempty"`
	PctCompleteApp   *float64 `json:"pctCompleteApp,omitempty"`
}

// Limits of a window request.
const (
	// maxWindowMs is the largest activeMs or inactiveMs of one window, one
	// day, the largest value of a TimeSpentEvent item.
	maxWindowMs = timeback.MaxItemSeconds * 1000
	// maxSeq is the largest sequence number, the largest integer a
	// JavaScript number holds exactly (2^53 - 1).
	maxSeq = 1<<53 - 1
)

// idPattern is the form of activity, course and run ids: letters, digits and
// "._~-:" in segments separated by "/".
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._~:-]+(/[A-Za-z0-9._~:-]+)*$`)

const maxIDLength = 256

// decode reads one JSON object from r's body into v. Only application/json
// is accepted, and text/plain as well when beacon is set, because
// navigator.sendBeacon with a string body sends that type. Unknown fields,
// trailing data and bodies over limit bytes are rejected.
func decode(r *http.Request, v any, limit int64, beacon bool) error {
	if err := checkContentType(r.Header.Get("Content-Type"), beacon); err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return timeback.Errorf(timeback.CodeInvalid, "read request body: %v", err)
	}
	if int64(len(body)) > limit {
		return timeback.Errorf(timeback.CodeTooLarge, "request body exceeds %d bytes", limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return timeback.Errorf(timeback.CodeInvalid, "request body is empty; send a JSON object")
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return timeback.Errorf(timeback.CodeInvalid, "request body has data after the JSON object")
	}
	// encoding/json keeps the last of repeated keys, so that a body could
	// show one value to a reader and count another.
	if field, ok := repeatedKey(body); ok {
		return fieldError(field, "appears more than once; send each field once")
	}
	return nil
}

// repeatedKey returns the dotted path of the first key that appears twice
// in one object of body, which must be valid JSON.
func repeatedKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	field, found := scanValue(dec, "")
	return field, found
}

// scanValue reads one value from dec and reports the first repeated key in
// it. path is the dotted path of the value.
func scanValue(dec *json.Decoder, path string) (string, bool) {
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	switch tok {
	case json.Delim('{'):
		seen := make(map[string]bool)
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return "", false
			}
			key, _ := keyTok.(string)
			field := key
			if path != "" {
				field = path + "." + key
			}
			if seen[key] {
				return field, true
			}
			seen[key] = true
			if f, ok := scanValue(dec, field); ok {
				return f, true
			}
		}
		dec.Token() // the closing brace
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if f, ok := scanValue(dec, fmt.Sprintf("%s.%d", path, i)); ok {
				return f, true
			}
		}
		dec.Token() // the closing bracket
	}
	return "", false
}

func checkContentType(header string, beacon bool) error {
	if header == "" {
		return timeback.Errorf(timeback.CodeUnsupportedMedia, "missing Content-Type; send application/json")
	}
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil {
		return timeback.Errorf(timeback.CodeUnsupportedMedia, "invalid Content-Type %q: %v", header, err)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return timeback.Errorf(timeback.CodeUnsupportedMedia, "Content-Type charset %q is not utf-8", cs)
	}
	if mediaType == "application/json" || (beacon && mediaType == "text/plain") {
		return nil
	}
	if beacon {
		return timeback.Errorf(timeback.CodeUnsupportedMedia,
			"Content-Type %q is not application/json or text/plain", mediaType)
	}
	return timeback.Errorf(timeback.CodeUnsupportedMedia, "Content-Type %q is not application/json", mediaType)
}

// jsonError turns a decoding error into a message naming the field.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return timeback.Errorf(timeback.CodeInvalid, "request body is not JSON: %v (at byte %d)", err, syntax.Offset)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return timeback.Errorf(timeback.CodeInvalid, "request body must be a JSON object, not %s", typeErr.Value)
		}
		if number, ok := strings.CutPrefix(typeErr.Value, "number "); ok && isIntegerLiteral(number) {
			return fieldError(field, "%s is out of range for an integer", number)
		}
		return fieldError(field, "must be %s, not %s", jsonKind(typeErr.Type.Kind()), typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return timeback.Errorf(timeback.CodeInvalid, "request body is not JSON: it ends early")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return timeback.Errorf(timeback.CodeInvalid, "unknown field %s in request body", name)
	}
	return timeback.Errorf(timeback.CodeInvalid, "request body is not valid JSON: %v", err)
}

// isIntegerLiteral reports whether a JSON number has no fraction and no
// exponent.
func isIntegerLiteral(number string) bool {
	return number != "" && !strings.ContainsAny(number, ".eE")
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Pointer, reflect.Map:
		return "an object"
	}
	return "of kind " + k.String()
}

// fieldError returns a CodeInvalid error about one field, with the field in
// both the message and Fields.
func fieldError(field, format string, args ...any) *timeback.Error {
	msg := fmt.Sprintf(format, args...)
	return &timeback.Error{
		Code:    timeback.CodeInvalid,
		Message: field + ": " + msg,
		Fields:  []timeback.FieldError{{Path: "/" + strings.ReplaceAll(field, ".", "/"), Message: msg}},
	}
}

func checkID(field, id string) error {
	switch {
	case id == "":
		return fieldError(field, "missing")
	case len(id) > maxIDLength:
		return fieldError(field, "is %d bytes long; at most %d are allowed", len(id), maxIDLength)
	case !idPattern.MatchString(id):
		return fieldError(field, "%q may hold only letters, digits and ._~-: in segments separated by /", id)
	}
	return nil
}

func (s *startRequest) check() error {
	if s.Activity == nil {
		return fieldError("activity", "missing; send {\"id\", \"subject\"}")
	}
	if err := checkID("activity.id", s.Activity.ID); err != nil {
		return err
	}
	if !s.Activity.Subject.Valid() {
		return fieldError("activity.subject", "%q is not a Timeback subject (%s)",
			s.Activity.Subject, subjectList())
	}
	if s.Course == nil {
		return fieldError("course", "missing; send {\"id\"}")
	}
	if err := checkID("course.id", s.Course.ID); err != nil {
		return err
	}
	if s.RunID != "" {
		return checkID("runId", s.RunID)
	}
	return nil
}

func subjectList() string {
	names := make([]string, len(timeback.Subjects))
	for i, s := range timeback.Subjects {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func (w *windowRequest) check(final bool) error {
	if err := checkID("runId", w.RunID); err != nil {
		return err
	}
	switch {
	case w.Seq == nil:
		return fieldError("seq", "missing; number the messages of a run 1, 2, 3...")
	case *w.Seq < 1 || *w.Seq > maxSeq:
		return fieldError("seq", "%d is outside 1 to %d", *w.Seq, int64(maxSeq))
	}
	for _, f := range []struct {
		name  string
		value *int64
	}{{"activeMs", w.ActiveMs}, {"inactiveMs", w.InactiveMs}} {
		switch {
		case f.value == nil:
			return fieldError(f.name, "missing; send the window's milliseconds, 0 for none")
		case *f.value < 0:
			return fieldError(f.name, "%d is negative", *f.value)
		case *f.value > maxWindowMs:
			return fieldError(f.name, "%d exceeds %d, one day; send windows of at most a day", *f.value, maxWindowMs)
		}
	}
	if w.Metrics != nil && !final {
		return fieldError("metrics", "only POST /activity/end carries metrics")
	}
	if w.Metrics != nil {
		return w.Metrics.check()
	}
	return nil
}

func (m *metricsInput) check() error {
	for _, f := range []struct {
		name  string
		value *float64
	}{
		{"metrics.xpEarned", m.XPEarned},
		{"metrics.totalQuestions", m.TotalQuestions},
		{"metrics.correctQuestions", m.CorrectQuestions},
		{"metrics.masteredUnits", m.MasteredUnits},
		{"metrics.pctCompleteApp", m.PctCompleteApp},
	} {
		if f.value == nil {
			continue
		}
		if v := *f.value; math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fieldError(f.name, "%v is not a number >= 0", v)
		}
	}
	if (m.TotalQuestions == nil) != (m.CorrectQuestions == nil) {
		return fieldError("metrics.totalQuestions",
			"totalQuestions and correctQuestions come together; send both or neither")
	}
	if m.TotalQuestions != nil && *m.CorrectQuestions > *m.TotalQuestions {
		return fieldError("metrics.correctQuestions", "%v is above totalQuestions %v",
			*m.CorrectQuestions, *m.TotalQuestions)
	}
	if m.PctCompleteApp != nil && *m.PctCompleteApp > 100 {
		return fieldError("metrics.pctCompleteApp", "%v is above 100", *m.PctCompleteApp)
	}
	return nil
}
