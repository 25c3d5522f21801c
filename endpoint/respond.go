package endpoint

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	timeback "github.com/timeback/timeback-go"
)

// errorBody is the Timeback error shape, {status: "error", message, errors}.
type errorBody struct {
	Status  string                `json:"status"`
	Message string                `json:"message"`
	Errors  []timeback.FieldError `json:"errors"`
}

// writeError replies with err's status and the Timeback error shape. An
// error that is not a *timeback.Error is a 500 whose cause is not shown.
func (h *Handler) writeError(w http.ResponseWriter, err error) { h.writeErrorStatus(w, 0, err) }

// writeErrorStatus is writeError with status in place of the code's
// status, unless status is 0.
func (h *Handler) writeErrorStatus(w http.ResponseWriter, status int, err error) {
	var e *timeback.Error
	if !errors.As(err, &e) {
		h.log.Error("internal error", logKeyError, err)
		e = timeback.Errorf(timeback.CodeInternal, "internal server error")
	}
	if status == 0 {
		status = timeback.HTTPStatus(e.Code)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	body := errorBody{Status: "error", Message: e.Message, Errors: e.Fields}
	if body.Errors == nil {
		body.Errors = []timeback.FieldError{}
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"status":"error","message":"encode reply failed","errors":[]}`,
			http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func itoa(i int) string { return strconv.Itoa(i) }
