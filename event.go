// Package timeback models the two TimebackProfile events of IMS Caliper 1.2,
// ActivityEvent/Completed and TimeSpentEvent/SpentTime, and the rules that
// make them valid.
package timeback

import (
	"encoding/json"
	"time"
)

// Event is a Caliper event that a sender can deliver. It returns its id and
// encodes itself as one Caliper event object.
type Event interface {
	EventID() string
	json.Marshaler
}

// RawEvent is an already encoded Caliper event, such as one read from a file.
type RawEvent struct {
	ID   string
	JSON json.RawMessage
}

// EventID returns the event's id.
func (e RawEvent) EventID() string { return e.ID }

// MarshalJSON returns the event's bytes unchanged.
func (e RawEvent) MarshalJSON() ([]byte, error) { return e.JSON, nil }

// User is the actor of a TimebackProfile event, a TimebackUser.
type User struct {
	// ID is the OneRoster user URL,
	// {base}/ims/oneroster/rostering/v1p2/users/{sourcedId}.
	ID    string
	Email string
}

// Named is an optional course or activity reference of an ActivityContext.
type Named struct {
	ID   string // optional
	Name string // required
}

// ActivityContext is the object of a TimebackProfile event, a
// TimebackActivityContext.
type ActivityContext struct {
	ID       string // IRI of the activity
	Subject  Subject
	AppName  string
	AppID    string // optional
	Course   *Named // optional
	Activity *Named // optional
}

// Subject is a Timeback subject.
type Subject string

// The subjects a TimebackActivityContext may name.
const (
	SubjectMath          Subject = "Math"
	SubjectReading       Subject = "Reading"
	SubjectLanguage      Subject = "Language"
	SubjectVocabulary    Subject = "Vocabulary"
	SubjectWriting       Subject = "Writing"
	SubjectScience       Subject = "Science"
	SubjectSocialStudies Subject = "Social Studies"
	SubjectFastMath      Subject = "FastMath"
	SubjectNone          Subject = "None"
	SubjectOther         Subject = "Other"
)

// TimeCategory is the type of a TimeSpentEvent item.
type TimeCategory string

// The time categories of a TimeSpentEvent.
const (
	TimeActive      TimeCategory = "active"
	TimeInactive    TimeCategory = "inactive"
	TimeWaste       TimeCategory = "waste"
	TimeUnknown     TimeCategory = "unknown"
	TimeAntiPattern TimeCategory = "anti-pattern"
)

// MaxItemSeconds is the largest value a TimeSpentEvent item may carry.
const MaxItemSeconds = 86400

// TimeItem is one item of a TimeSpentEvent.
type TimeItem struct {
	Type    TimeCategory
	Seconds float64
	SubType string    // optional
	Start   time.Time // optional; zero means absent
	End     time.Time // optional; zero means absent
}

// Completion holds the metrics of an ActivityCompletedEvent. Nil pointers are
// absent metrics.
type Completion struct {
	XPEarned         float64
	TotalQuestions   *float64
	CorrectQuestions *float64
	MasteredUnits    *float64
	PctCompleteApp   *float64
}

// SetMetric sets the metric of a TimebackActivityMetricsCollection item
// type, such as "xpEarned", to value. It ignores other item types, which
// the Timeback profile does not define.
func (c *Completion) SetMetric(itemType string, value float64) {
	switch itemType {
	case "xpEarned":
		c.XPEarned = value
	case "totalQuestions":
		c.TotalQuestions = &value
	case "correctQuestions":
		c.CorrectQuestions = &value
	case "masteredUnits":
		c.MasteredUnits = &value
	}
}
