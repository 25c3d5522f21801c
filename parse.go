package timeback

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/timeback/timeback-go/caliper"
)

// ParseEvent decodes one TimebackProfile event and validates it against
// Caliper 1.2 and the TimebackProfile. It returns an *ActivityCompleted or a
// *TimeSpent together with any warnings, or a nil Event and the problems
// when the event is invalid or is not a TimebackProfile event.
func ParseEvent(data []byte) (Event, caliper.Problems) {
	r := caliper.Validate(data, caliper.Options{})
	if !r.Problems.Valid(false) {
		return nil, r.Problems
	}
	if r.Kind != caliper.KindEvent {
		return nil, append(r.Problems, caliper.Problem{
			Severity: caliper.SeverityError,
			Message:  "document is " + withArticle(r.Kind.String()) + ", not a TimebackProfile event",
		})
	}
	if profile := r.Items[0].Event.Profile; profile != ProfileTimeback {
		return nil, append(r.Problems, caliper.Problem{
			Pointer: "/profile", Severity: caliper.SeverityError,
			Message: "profile " + quote(profile) + " is not " + ProfileTimeback,
		})
	}
	// The validator accepted the event, so it has the TimebackProfile shape
	// that wireEvent describes.
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, append(r.Problems, caliper.Problem{
			Severity: caliper.SeverityError, Message: "decode TimebackProfile event: " + err.Error(),
		})
	}
	c, problems := w.common()
	if len(problems) > 0 {
		return nil, append(r.Problems, problems...)
	}
	switch w.Type {
	case TypeActivityEvent:
		return &ActivityCompleted{Common: c, Metrics: w.completion()}, r.Problems
	case TypeTimeSpentEvent:
		items, problems := w.timeItems()
		if len(problems) > 0 {
			return nil, append(r.Problems, problems...)
		}
		return &TimeSpent{Common: c, Items: items}, r.Problems
	}
	return nil, append(r.Problems, caliper.Problem{
		Pointer: "/type", Severity: caliper.SeverityError,
		Message: "type " + quote(w.Type) + " is not a TimebackProfile event type " +
			"(ActivityEvent, TimeSpentEvent)",
	})
}

// wireEvent is the JSON shape of both TimebackProfile events, read after the
// validator accepted the document.
type wireEvent struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Profile   string `json:"profile"`
	EventTime string `json:"eventTime"`
	EdApp     any    `json:"edApp"`
	Actor     struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"actor"`
	Object struct {
		ID      string `json:"id"`
		Subject string `json:"subject"`
		App     struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"app"`
		Course   *Named `json:"course"`
		Activity *Named `json:"activity"`
	} `json:"object"`
	Generated struct {
		ID    string `json:"id"`
		Items []struct {
			Type      string  `json:"type"`
			SubType   string  `json:"subType"`
			Value     float64 `json:"value"`
			StartDate string  `json:"startDate"`
			EndDate   string  `json:"endDate"`
		} `json:"items"`
		Extensions map[string]any `json:"extensions"`
	} `json:"generated"`
	Extensions map[string]json.RawMessage `json:"extensions"`
}

func (w *wireEvent) common() (Common, caliper.Problems) {
	var ps caliper.Problems
	c := Common{
		ID:          w.ID,
		Actor:       User{ID: w.Actor.ID, Email: w.Actor.Email},
		GeneratedID: w.Generated.ID,
		Object: ActivityContext{
			ID: w.Object.ID, Subject: Subject(w.Object.Subject),
			AppName: w.Object.App.Name, AppID: w.Object.App.ID,
			Course: w.Object.Course, Activity: w.Object.Activity,
		},
	}
	if s, ok := w.EdApp.(string); ok {
		c.EdApp = s
	} else if m, ok := w.EdApp.(map[string]any); ok {
		c.EdApp, _ = m["id"].(string)
	}
	var err error
	if c.EventTime, err = parseTime(w.EventTime); err != nil {
		ps = append(ps, caliper.Problem{Pointer: "/eventTime", Severity: caliper.SeverityError,
			Message: err.Error()})
	}
	for k, v := range w.Extensions {
		switch k {
		case extensionRunID:
			if json.Unmarshal(v, &c.RunID) != nil {
				ps = append(ps, caliper.Problem{Pointer: "/extensions/runId",
					Severity: caliper.SeverityError, Message: "runId " + string(v) + " is not a string"})
			}
		case extensionCourseID:
			if json.Unmarshal(v, &c.CourseID) != nil {
				ps = append(ps, caliper.Problem{Pointer: "/extensions/courseId",
					Severity: caliper.SeverityError, Message: "courseId " + string(v) + " is not a string"})
			}
		default:
			if c.Extensions == nil {
				c.Extensions = make(map[string]any)
			}
			var x any
			_ = json.Unmarshal(v, &x)
			c.Extensions[k] = x
		}
	}
	return c, ps
}

func (w *wireEvent) completion() Completion {
	var m Completion
	for _, it := range w.Generated.Items {
		v := it.Value
		switch it.Type {
		case "xpEarned":
			m.XPEarned = v
		case "totalQuestions":
			m.TotalQuestions = &v
		case "correctQuestions":
			m.CorrectQuestions = &v
		case "masteredUnits":
			m.MasteredUnits = &v
		}
	}
	if p, ok := w.Generated.Extensions[extensionPctCompleteApp].(float64); ok {
		m.PctCompleteApp = &p
	}
	return m
}

func (w *wireEvent) timeItems() ([]TimeItem, caliper.Problems) {
	var ps caliper.Problems
	items := make([]TimeItem, len(w.Generated.Items))
	for i, it := range w.Generated.Items {
		items[i] = TimeItem{Type: TimeCategory(it.Type), Seconds: it.Value, SubType: it.SubType}
		var err error
		if it.StartDate != "" {
			if items[i].Start, err = parseTime(it.StartDate); err != nil {
				ps = append(ps, caliper.Problem{Pointer: "/generated/items/" + itoa(i) + "/startDate",
					Severity: caliper.SeverityError, Message: err.Error()})
			}
		}
		if it.EndDate != "" {
			if items[i].End, err = parseTime(it.EndDate); err != nil {
				ps = append(ps, caliper.Problem{Pointer: "/generated/items/" + itoa(i) + "/endDate",
					Severity: caliper.SeverityError, Message: err.Error()})
			}
		}
	}
	return items, ps
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func withArticle(noun string) string {
	if strings.IndexByte("aeiou", noun[0]) >= 0 {
		return "an " + noun
	}
	return "a " + noun
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
