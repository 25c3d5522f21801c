package timeback

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/timeback/timeback-go/caliper"
)

// ProfileTimeback is the Caliper profile of both Timeback events.
const ProfileTimeback = "TimebackProfile"

// The type, action and generated type of the two TimebackProfile events.
const (
	TypeActivityEvent        = "ActivityEvent"
	ActionCompleted          = "Completed"
	TypeActivityMetrics      = "TimebackActivityMetricsCollection"
	TypeTimeSpentEvent       = "TimeSpentEvent"
	ActionSpentTime          = "SpentTime"
	TypeTimeSpentMetrics     = "TimebackTimeSpentMetricsCollection"
	TypeUser                 = "TimebackUser"
	TypeActivityContext      = "TimebackActivityContext"
	extensionRunID           = "runId"
	extensionCourseID        = "courseId"
	extensionPctCompleteApp  = "pctCompleteApp"
	maxPctCompleteApp        = 100
	millisecondsPerTimeValue = time.Millisecond
)

// ErrInvalidEvent is wrapped by every error of NewActivityCompleted and
// NewTimeSpent, so that callers can tell a rejected input from other errors.
var ErrInvalidEvent = errors.New("timeback: invalid event")

// Common are the fields both TimebackProfile events share.
type Common struct {
	// ID is "urn:uuid:" followed by a UUID. Empty means the constructor
	// fills a new random version 4 id.
	ID string
	// EventTime is when the event occurred. Zero means time.Now(). It is
	// encoded in UTC with milliseconds; finer precision is dropped.
	EventTime time.Time
	Actor     User
	Object    ActivityContext
	// GeneratedID is the IRI of the metrics collection. Empty means the
	// constructor fills a new urn:uuid.
	GeneratedID string
	// EdApp is the IRI of the application, optional.
	EdApp string
	// RunID is extensions.runId, one run of one activity; optional.
	RunID string
	// CourseID is extensions.courseId; optional.
	CourseID string
	// Extensions are further top-level extensions, optional. The keys runId
	// and courseId belong to RunID and CourseID and are rejected here.
	Extensions map[string]any
}

// ActivityCompleted is an ActivityEvent with the action Completed: the
// completion of one activity run with its metrics.
type ActivityCompleted struct {
	Common
	Metrics Completion
}

// TimeSpent is a TimeSpentEvent with the action SpentTime: the seconds of one
// time window by category.
type TimeSpent struct {
	Common
	Items []TimeItem
}

// NewEventID returns "urn:uuid:" followed by a random version 4 UUID.
func NewEventID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand.Read does not fail on supported platforms (Go 1.24+).
		panic("timeback: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return "urn:uuid:" + string(s[:])
}

// NewActivityCompleted returns a valid ActivityEvent/Completed built from c and
// m, filling the id, event time and generated id when they are empty. The
// error wraps ErrInvalidEvent and names the first field that breaks a rule,
// with its value.
func NewActivityCompleted(c Common, m Completion) (*ActivityCompleted, error) {
	if err := c.complete(); err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &ActivityCompleted{Common: c, Metrics: m}, nil
}

// NewTimeSpent returns a valid TimeSpentEvent/SpentTime built from c and at
// least one item, filling the id, event time and generated id when they are
// empty. The error wraps ErrInvalidEvent and names the first field that
// breaks a rule, with its value.
func NewTimeSpent(c Common, items ...TimeItem) (*TimeSpent, error) {
	if err := c.complete(); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, invalidf("generated.items: a TimeSpentEvent needs at least one time item")
	}
	seen := make(map[[2]string]int, len(items))
	out := make([]TimeItem, len(items))
	for i, it := range items {
		if err := it.check(i); err != nil {
			return nil, err
		}
		key := [2]string{string(it.Type), it.SubType}
		if j, dup := seen[key]; dup {
			what := strconv.Quote(string(it.Type))
			if it.SubType != "" {
				what += " with subType " + strconv.Quote(it.SubType)
			}
			return nil, invalidf("generated.items[%d].type: %s repeats item %d; "+
				"each time category and subType may appear once", i, what, j)
		}
		seen[key] = i
		it.Start, it.End = truncateUTC(it.Start), truncateUTC(it.End)
		out[i] = it
	}
	return &TimeSpent{Common: c, Items: out}, nil
}

// EventID returns the event's id.
func (e *ActivityCompleted) EventID() string { return e.ID }

// EventID returns the event's id.
func (e *TimeSpent) EventID() string { return e.ID }

// complete fills the defaults of c and checks every field.
func (c *Common) complete() error {
	if c.ID == "" {
		c.ID = NewEventID()
	} else if !caliper.IsUUIDURN(c.ID) {
		return invalidf("id: %q is not urn:uuid: followed by a UUID", c.ID)
	}
	if c.EventTime.IsZero() {
		c.EventTime = time.Now()
	}
	c.EventTime = truncateUTC(c.EventTime)
	if y := c.EventTime.Year(); y < 1 || y > 9999 {
		return invalidf("eventTime: year %d is outside 0001-9999", y)
	}
	if c.GeneratedID == "" {
		c.GeneratedID = NewEventID()
	} else if !caliper.IsIRI(c.GeneratedID) {
		return invalidf("generated.id: %q is not an absolute IRI", c.GeneratedID)
	}
	if c.EdApp != "" && !caliper.IsIRI(c.EdApp) {
		return invalidf("edApp: %q is not an absolute IRI", c.EdApp)
	}
	if err := c.Actor.check(); err != nil {
		return err
	}
	if err := c.Object.check(); err != nil {
		return err
	}
	return c.checkExtensions()
}

func (c *Common) checkExtensions() error {
	for k := range c.Extensions {
		switch k {
		case extensionRunID:
			return invalidf("extensions: key %q belongs in Common.RunID", k)
		case extensionCourseID:
			return invalidf("extensions: key %q belongs in Common.CourseID", k)
		case "":
			return invalidf("extensions: empty key")
		}
	}
	if len(c.Extensions) > 0 {
		if _, err := json.Marshal(c.Extensions); err != nil {
			return invalidf("extensions: value cannot be encoded as JSON: %v", err)
		}
	}
	return nil
}

func (u User) check() error {
	if !caliper.IsIRI(u.ID) {
		return invalidf("actor.id: %q is not an absolute IRI", u.ID)
	}
	if !caliper.IsEmail(u.Email) {
		return invalidf("actor.email: %q is not an e-mail address", u.Email)
	}
	return nil
}

func (a ActivityContext) check() error {
	if !caliper.IsIRI(a.ID) {
		return invalidf("object.id: %q is not an absolute IRI", a.ID)
	}
	if !a.Subject.Valid() {
		return invalidf("object.subject: %q is not a Timeback subject (%s)", a.Subject, subjectList())
	}
	if a.AppName == "" {
		return invalidf("object.app.name: missing; the application name is required")
	}
	if a.AppID != "" && !caliper.IsIRI(a.AppID) {
		return invalidf("object.app.id: %q is not an absolute IRI", a.AppID)
	}
	if err := a.Course.check("object.course"); err != nil {
		return err
	}
	return a.Activity.check("object.activity")
}

func (n *Named) check(field string) error {
	if n == nil {
		return nil
	}
	if n.Name == "" {
		return invalidf("%s.name: missing; a %s needs a name", field, field)
	}
	if n.ID != "" && !caliper.IsIRI(n.ID) {
		return invalidf("%s.id: %q is not an absolute IRI", field, n.ID)
	}
	return nil
}

// Subjects lists the subjects a TimebackActivityContext may name.
var Subjects = []Subject{
	SubjectMath, SubjectReading, SubjectLanguage, SubjectVocabulary, SubjectWriting,
	SubjectScience, SubjectSocialStudies, SubjectFastMath, SubjectNone, SubjectOther,
}

// Valid reports whether s is one of Subjects.
func (s Subject) Valid() bool {
	for _, v := range Subjects {
		if s == v {
			return true
		}
	}
	return false
}

// TimeCategories lists the item types of a TimeSpentEvent.
var TimeCategories = []TimeCategory{TimeActive, TimeInactive, TimeWaste, TimeUnknown, TimeAntiPattern}

// Valid reports whether c is one of TimeCategories.
func (c TimeCategory) Valid() bool {
	for _, v := range TimeCategories {
		if c == v {
			return true
		}
	}
	return false
}

func (m Completion) check() error {
	if err := checkMetric("xpEarned", m.XPEarned); err != nil {
		return err
	}
	if (m.TotalQuestions == nil) != (m.CorrectQuestions == nil) {
		if m.TotalQuestions == nil {
			return invalidf("totalQuestions: missing; correctQuestions %v needs totalQuestions",
				*m.CorrectQuestions)
		}
		return invalidf("correctQuestions: missing; totalQuestions %v needs correctQuestions",
			*m.TotalQuestions)
	}
	for _, opt := range []struct {
		name string
		v    *float64
	}{{"totalQuestions", m.TotalQuestions}, {"correctQuestions", m.CorrectQuestions},
		{"masteredUnits", m.MasteredUnits}, {"pctCompleteApp", m.PctCompleteApp}} {
		if opt.v != nil {
			if err := checkMetric(opt.name, *opt.v); err != nil {
				return err
			}
		}
	}
	if m.TotalQuestions != nil && *m.CorrectQuestions > *m.TotalQuestions {
		return invalidf("correctQuestions: %v exceeds totalQuestions %v",
			*m.CorrectQuestions, *m.TotalQuestions)
	}
	if m.PctCompleteApp != nil && *m.PctCompleteApp > maxPctCompleteApp {
		return invalidf("pctCompleteApp: %v exceeds the maximum of 100", *m.PctCompleteApp)
	}
	return nil
}

func checkMetric(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return invalidf("%s: %v is not a finite number", name, v)
	}
	if v < 0 {
		return invalidf("%s: %v is negative; metrics are numbers >= 0", name, v)
	}
	return nil
}

func (it TimeItem) check(i int) error {
	field := fmt.Sprintf("generated.items[%d]", i)
	if !it.Type.Valid() {
		return invalidf("%s.type: %q is not a time category (active, inactive, waste, unknown, "+
			"anti-pattern)", field, it.Type)
	}
	if math.IsNaN(it.Seconds) || math.IsInf(it.Seconds, 0) {
		return invalidf("%s.value: %v is not a finite number", field, it.Seconds)
	}
	if it.Seconds < 0 {
		return invalidf("%s.value: %v is negative; seconds are >= 0", field, it.Seconds)
	}
	if it.Seconds > MaxItemSeconds {
		return invalidf("%s.value: %v exceeds the %d s maximum", field, it.Seconds, MaxItemSeconds)
	}
	start, end := truncateUTC(it.Start), truncateUTC(it.End)
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"startDate", start}, {"endDate", end}} {
		if y := t.t.Year(); !t.t.IsZero() && (y < 1 || y > 9999) {
			return invalidf("%s.%s: year %d is outside 0001-9999", field, t.name, y)
		}
	}
	if start.IsZero() || end.IsZero() {
		return nil
	}
	if end.Before(start) {
		return invalidf("%s.endDate: %s is before startDate %s", field,
			caliper.FormatDateTime(end), caliper.FormatDateTime(start))
	}
	if caliper.ExceedsWindow(it.Seconds, start, end) {
		return invalidf("%s.value: %v exceeds its window of %v s from startDate to endDate",
			field, it.Seconds, end.Sub(start).Seconds())
	}
	return nil
}

func truncateUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(millisecondsPerTimeValue)
}

func subjectList() string {
	var b []byte
	for i, s := range Subjects {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, s...)
	}
	return string(b)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidEvent}, args...)...)
}
