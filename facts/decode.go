package facts

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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

// Kind is the TimebackProfile event type an Event came from.
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

// wireEvent is the part of an event that Decode reads, before it is checked.
type wireEvent struct {
	ID, Type, Action, Profile, EventTime string
	ActorID, ActorEmail                  string
	ObjectID, Subject, AppName           string
	Items                                []wireItem
	PctCompleteApp                       *float64
	RunID, CourseID                      string
	// typeErr is the first field of the wrong JSON type. It matters only
	// for TimebackProfile events: other profiles may, for example, give
	// the actor as an IRI string.
	typeErr error
}

type wireItem struct {
	Type, SubType, StartDate, EndDate string
	Value                             *float64
}

// Decode reads the fields that facts need from one Caliper event as sent.
// The event is expected to have passed validation already; Decode checks
// only what the facts depend on, and otherwise returns an error wrapping
// ErrInvalidEvent that names the field and the value. Events of another
// profile or type return an error wrapping ErrNotTimeback.
//
// Decode scans the JSON once and builds nothing for the fields it skips,
// because it runs for every stored event inside the store's transaction.
func Decode(raw []byte) (*Event, error) {
	var w wireEvent
	if err := w.scan(raw); err != nil {
		return nil, invalidf("event is not a Caliper event object: %v", err)
	}
	if w.Profile != "TimebackProfile" {
		return nil, fmt.Errorf("%w: event %s has profile %q", ErrNotTimeback, w.ID, w.Profile)
	}
	e := &Event{
		ID:        w.ID,
		StudentID: w.ActorID,
		Email:     w.ActorEmail,
		ObjectID:  w.ObjectID,
		Subject:   timeback.Subject(w.Subject),
		AppName:   w.AppName,
		RunID:     w.RunID,
		CourseID:  w.CourseID,
	}
	switch {
	case w.Type == "TimeSpentEvent" && w.Action == "SpentTime":
		e.Kind = KindTimeSpent
	case w.Type == "ActivityEvent" && w.Action == "Completed":
		e.Kind = KindCompleted
	default:
		return nil, fmt.Errorf("%w: event %s is %s/%s", ErrNotTimeback, w.ID, w.Type, w.Action)
	}
	if w.typeErr != nil {
		return nil, invalidf("event %s: %v", w.ID, w.typeErr)
	}
	if e.StudentID == "" {
		return nil, invalidf("event %s: actor.id is missing", w.ID)
	}
	t, err := parseTime(w.EventTime)
	if err != nil {
		return nil, invalidf("event %s: eventTime %q: %v", w.ID, w.EventTime, err)
	}
	e.Time = t

	for i, it := range w.Items {
		if it.Value == nil {
			return nil, invalidf("event %s: generated.items[%d].value is missing", w.ID, i)
		}
		v := *it.Value
		if e.Kind == KindCompleted {
			e.Metrics.SetMetric(it.Type, v)
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
		e.Metrics.PctCompleteApp = w.PctCompleteApp
	}
	return e, nil
}

// scan fills w from the event object in raw.
func (w *wireEvent) scan(raw []byte) error {
	s := &scanner{b: raw}
	if s.peek() != '{' {
		return errors.New("not a JSON object")
	}
	err := s.object(func(key string) error {
		switch key {
		case "id":
			return w.text(s, &w.ID, "id")
		case "type":
			return w.text(s, &w.Type, "type")
		case "action":
			return w.text(s, &w.Action, "action")
		case "profile":
			return w.text(s, &w.Profile, "profile")
		case "eventTime":
			return w.text(s, &w.EventTime, "eventTime")
		case "actor":
			return w.fields(s, "actor", func(key string) error {
				switch key {
				case "id":
					return w.text(s, &w.ActorID, "actor.id")
				case "email":
					return w.text(s, &w.ActorEmail, "actor.email")
				}
				return s.skip()
			})
		case "object":
			return w.scanObject(s)
		case "generated":
			return w.scanGenerated(s)
		case "extensions":
			return w.fields(s, "extensions", func(key string) error {
				switch key {
				case "runId":
					return w.extension(s, &w.RunID)
				case "courseId":
					return w.extension(s, &w.CourseID)
				}
				return s.skip()
			})
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	return s.end()
}

func (w *wireEvent) scanObject(s *scanner) error {
	return w.fields(s, "object", func(key string) error {
		switch key {
		case "id":
			return w.text(s, &w.ObjectID, "object.id")
		case "subject":
			return w.text(s, &w.Subject, "object.subject")
		case "app":
			return w.fields(s, "object.app", func(key string) error {
				if key == "name" {
					return w.text(s, &w.AppName, "object.app.name")
				}
				return s.skip()
			})
		}
		return s.skip()
	})
}

func (w *wireEvent) scanGenerated(s *scanner) error {
	return w.fields(s, "generated", func(key string) error {
		switch key {
		case "items":
			return w.scanItems(s)
		case "extensions":
			return w.fields(s, "generated.extensions", func(key string) error {
				if key == "pctCompleteApp" {
					return w.num(s, &w.PctCompleteApp, "generated.extensions.pctCompleteApp")
				}
				return s.skip()
			})
		}
		return s.skip()
	})
}

func (w *wireEvent) scanItems(s *scanner) error {
	w.Items = w.Items[:0]
	if c := s.peek(); c != '[' {
		if c != 'n' {
			w.typeError("generated.items", "an array")
		}
		return s.skip()
	}
	return s.array(func(i int) error {
		w.Items = append(w.Items, wireItem{})
		it := &w.Items[len(w.Items)-1]
		path := "generated.items[" + strconv.Itoa(i) + "]"
		return w.fields(s, path, func(key string) error {
			switch key {
			case "type":
				return w.text(s, &it.Type, path+".type")
			case "value":
				return w.num(s, &it.Value, path+".value")
			case "subType":
				return w.text(s, &it.SubType, path+".subType")
			case "startDate":
				return w.text(s, &it.StartDate, path+".startDate")
			case "endDate":
				return w.text(s, &it.EndDate, path+".endDate")
			}
			return s.skip()
		})
	})
}

// fields reads the object at path with field, or skips a value of
// another type, noting the mismatch unless it is null.
func (w *wireEvent) fields(s *scanner, path string, field func(key string) error) error {
	if c := s.peek(); c != '{' {
		if c != 'n' {
			w.typeError(path, "an object")
		}
		return s.skip()
	}
	return s.object(field)
}

// text reads a string into dst; null leaves dst unchanged.
func (w *wireEvent) text(s *scanner, dst *string, path string) error {
	if c := s.peek(); c != '"' {
		if c != 'n' {
			w.typeError(path, "a string")
		}
		return s.skip()
	}
	v, err := s.str()
	*dst = v
	return err
}

// num reads a number into dst; null sets it to nil.
func (w *wireEvent) num(s *scanner, dst **float64, path string) error {
	switch c := s.peek(); {
	case c == 'n':
		*dst = nil
		return s.skip()
	case c == '-' || c >= '0' && c <= '9':
		v, err := s.number()
		*dst = &v
		return err
	default:
		w.typeError(path, "a number")
		return s.skip()
	}
}

// extension reads a runId or courseId. Senders use strings; a number is
// kept in its JSON form so that it still groups consistently, and other
// values give "".
func (w *wireEvent) extension(s *scanner, dst *string) error {
	switch c := s.peek(); {
	case c == '"':
		v, err := s.str()
		*dst = v
		return err
	case c == '-' || c >= '0' && c <= '9':
		v, err := s.number()
		b, _ := json.Marshal(v)
		*dst = string(b)
		return err
	default:
		*dst = ""
		return s.skip()
	}
}

func (w *wireEvent) typeError(path, want string) {
	if w.typeErr == nil {
		w.typeErr = fmt.Errorf("%s is not %s", path, want)
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

// parseTime reads an ISO 8601 date-time with an offset, as Caliper sends it.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not an RFC 3339 date-time")
	}
	return t.UTC(), nil
}
