package facts

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/timeback/timeback-go"
)

// ErrNotTimeback reports an event that is not one of the two TimebackProfile
// events. Such events are stored but yield no facts.
var ErrNotTimeback = errors.New("facts: not a TimebackProfile event")

// ErrInvalidEvent reports a TimebackProfile event whose facts cannot be
// derived, such as one with an eventTime that does not parse.
var ErrInvalidEvent = errors.New("facts: invalid event")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
}

// Kind tells which TimebackProfile event an Event came from.
type Kind uint8

// The kinds of TimebackProfile events.
const (
	KindTimeSpent Kind = iota + 1 // TimeSpentEvent / SpentTime
	KindCompleted                 // ActivityEvent / Completed
)

// Event is the part of a TimebackProfile event that facts derive from.
type Event struct {
	Kind      Kind
	ID        string
	Time      time.Time // eventTime, in UTC
	StudentID string    // actor.id
	Email     string    // actor.email
	ObjectID  string
	Subject   timeback.Subject
	AppName   string
	RunID     string // extensions.runId, empty when absent
	CourseID  string // extensions.courseId, empty when absent
	// Items are the time items of a TimeSpentEvent.
	Items []timeback.TimeItem
	// Metrics are the metrics of an ActivityCompletedEvent.
	Metrics timeback.Completion
}

type wireEvent struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Action    string `json:"action"`
	Profile   string `json:"profile"`
	EventTime string `json:"eventTime"`
	Actor     struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"actor"`
	Object struct {
		ID      string `json:"id"`
		Subject string `json:"subject"`
		App     struct {
			Name string `json:"name"`
		} `json:"app"`
	} `json:"object"`
	Generated struct {
		Items []struct {
			Type      string   `json:"type"`
			Value     *float64 `json:"value"`
			SubType   string   `json:"subType"`
			StartDate string   `json:"startDate"`
			EndDate   string   `json:"endDate"`
		} `json:"items"`
		Extensions struct {
			PctCompleteApp *float64 `json:"pctCompleteApp"`
		} `json:"extensions"`
	} `json:"generated"`
	Extensions struct {
		RunID    any `json:"runId"`
		CourseID any `json:"courseId"`
	} `json:"extensions"`
}

// Decode reads the fields that facts need from one Caliper event as sent.
// The event is expected to have passed validation already; Decode checks
// only what the facts depend on, and otherwise returns an error wrapping
// ErrInvalidEvent that names the field and the value. Events of another
// profile or type return an error wrapping ErrNotTimeback.
func Decode(raw []byte) (*Event, error) {
	// The header first: other Caliper events may give actor or object as
	// an IRI string, which the TimebackProfile fields below cannot hold.
	var head struct{ ID, Type, Action, Profile string }
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, invalidf("event is not a Caliper event object: %v", err)
	}
	if head.Profile != "TimebackProfile" {
		return nil, fmt.Errorf("%w: event %s has profile %q", ErrNotTimeback, head.ID, head.Profile)
	}
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, invalidf("event %s: %v", head.ID, err)
	}
	e := &Event{
		ID:        w.ID,
		StudentID: w.Actor.ID,
		Email:     w.Actor.Email,
		ObjectID:  w.Object.ID,
		Subject:   timeback.Subject(w.Object.Subject),
		AppName:   w.Object.App.Name,
		RunID:     extensionString(w.Extensions.RunID),
		CourseID:  extensionString(w.Extensions.CourseID),
	}
	switch {
	case w.Type == "TimeSpentEvent" && w.Action == "SpentTime":
		e.Kind = KindTimeSpent
	case w.Type == "ActivityEvent" && w.Action == "Completed":
		e.Kind = KindCompleted
	default:
		return nil, fmt.Errorf("%w: event %s is %s/%s", ErrNotTimeback, w.ID, w.Type, w.Action)
	}
	if e.StudentID == "" {
		return nil, invalidf("event %s: actor.id is missing", w.ID)
	}
	t, err := parseTime(w.EventTime)
	if err != nil {
		return nil, invalidf("event %s: eventTime %q: %v", w.ID, w.EventTime, err)
	}
	e.Time = t

	for i, it := range w.Generated.Items {
		if it.Value == nil {
			return nil, invalidf("event %s: generated.items[%d].value is missing", w.ID, i)
		}
		v := *it.Value
		if e.Kind == KindCompleted {
			setMetric(&e.Metrics, it.Type, v)
			continue
		}
		item := timeback.TimeItem{Type: timeback.TimeCategory(it.Type), Seconds: v, SubType: it.SubType}
		if !knownCategory(item.Type) {
			return nil, invalidf("event %s: generated.items[%d].type %q is not a time category",
				w.ID, i, it.Type)
		}
		if it.StartDate != "" {
			if item.Start, err = parseTime(it.StartDate); err != nil {
				return nil, invalidf("event %s: generated.items[%d].startDate %q: %v",
					w.ID, i, it.StartDate, err)
			}
		}
		if it.EndDate != "" {
			if item.End, err = parseTime(it.EndDate); err != nil {
				return nil, invalidf("event %s: generated.items[%d].endDate %q: %v",
					w.ID, i, it.EndDate, err)
			}
		}
		e.Items = append(e.Items, item)
	}
	if e.Kind == KindCompleted {
		e.Metrics.PctCompleteApp = w.Generated.Extensions.PctCompleteApp
	}
	return e, nil
}

func setMetric(c *timeback.Completion, name string, v float64) {
	switch name {
	case "xpEarned":
		c.XPEarned = v
	case "totalQuestions":
		c.TotalQuestions = &v
	case "correctQuestions":
		c.CorrectQuestions = &v
	case "masteredUnits":
		c.MasteredUnits = &v
	}
}

func knownCategory(c timeback.TimeCategory) bool {
	switch c {
	case timeback.TimeActive, timeback.TimeInactive, timeback.TimeWaste,
		timeback.TimeUnknown, timeback.TimeAntiPattern:
		return true
	}
	return false
}

// extensionString returns a runId or courseId as text. Senders use strings;
// a number is kept in its JSON form so that it still groups consistently.
func extensionString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return ""
}

// parseTime reads an ISO 8601 date-time with an offset, as Caliper sends it.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not an RFC 3339 date-time")
	}
	return t.UTC(), nil
}
