package timeback

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an Error. The server maps each code to one HTTP status and
// the client maps the status back, both through the table in HTTPStatus.
type Code string

// The error codes of the project.
const (
	CodeInvalid            Code = "invalid"             // 400
	CodeUnauthorized       Code = "unauthorized"        // 401
	CodeNotFound           Code = "not_found"           // 404
	CodeConflict           Code = "conflict"            // 409
	CodeTooLarge           Code = "too_large"           // 413
	CodeUnsupportedMedia   Code = "unsupported_media"   // 415
	CodeUnsupportedVersion Code = "unsupported_version" // 422
	CodeUnavailable        Code = "unavailable"         // 503
	CodeInternal           Code = "internal"            // 500
)

var codeStatus = []struct {
	code   Code
	status int
}{
	{CodeInvalid, http.StatusBadRequest},
	{CodeUnauthorized, http.StatusUnauthorized},
	{CodeNotFound, http.StatusNotFound},
	{CodeConflict, http.StatusConflict},
	{CodeTooLarge, http.StatusRequestEntityTooLarge},
	{CodeUnsupportedMedia, http.StatusUnsupportedMediaType},
	{CodeUnsupportedVersion, http.StatusUnprocessableEntity},
	{CodeUnavailable, http.StatusServiceUnavailable},
	{CodeInternal, http.StatusInternalServerError},
}

// HTTPStatus returns the HTTP status for code, 500 for an unknown code.
func HTTPStatus(code Code) int {
	for _, cs := range codeStatus {
		if cs.code == code {
			return cs.status
		}
	}
	return http.StatusInternalServerError
}

// CodeForStatus returns the code for an HTTP error status, CodeInternal for a
// status the table does not list.
func CodeForStatus(status int) Code {
	for _, cs := range codeStatus {
		if cs.status == status {
			return cs.code
		}
	}
	return CodeInternal
}

// FieldError is one problem of a rejected request, located by a JSON Pointer.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Error is the application error that crosses package and HTTP boundaries.
type Error struct {
	Code    Code
	Message string
	// Fields lists the problems behind a CodeInvalid error.
	Fields []FieldError
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first Error in err's chain, CodeInternal
// when there is none, and "" for a nil err.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
