package timeback

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"github.com/timeback/timeback-go/caliper"
)

// MarshalJSON encodes the event as one Caliper 1.2 event object, with the
// members in the order of the Timeback product page.
func (e *ActivityCompleted) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 1024)
	b = e.Common.appendHead(b, TypeActivityEvent, ActionCompleted)
	b = append(b, `,"generated":{"id":`...)
	b = caliper.AppendString(b, e.GeneratedID)
	b = append(b, `,"type":"`+TypeActivityMetrics+`","items":[`...)
	b = appendMetric(b, "xpEarned", e.Metrics.XPEarned)
	for _, opt := range []struct {
		name string
		v    *float64
	}{{"totalQuestions", e.Metrics.TotalQuestions}, {"correctQuestions", e.Metrics.CorrectQuestions},
		{"masteredUnits", e.Metrics.MasteredUnits}} {
		if opt.v != nil {
			b = append(b, ',')
			b = appendMetric(b, opt.name, *opt.v)
		}
	}
	b = append(b, ']')
	if e.Metrics.PctCompleteApp != nil {
		b = append(b, `,"extensions":{"`+extensionPctCompleteApp+`":`...)
		b = appendNumber(b, *e.Metrics.PctCompleteApp)
		b = append(b, '}')
	}
	b = append(b, '}')
	return e.Common.appendTail(b)
}

// MarshalJSON encodes the event as one Caliper 1.2 event object, with the
// members in the order of the Timeback product page.
func (e *TimeSpent) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 1024)
	b = e.Common.appendHead(b, TypeTimeSpentEvent, ActionSpentTime)
	b = append(b, `,"generated":{"id":`...)
	b = caliper.AppendString(b, e.GeneratedID)
	b = append(b, `,"type":"`+TypeTimeSpentMetrics+`","items":[`...)
	for i, it := range e.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = caliper.AppendString(b, string(it.Type))
		if it.SubType != "" {
			b = append(b, `,"subType":`...)
			b = caliper.AppendString(b, it.SubType)
		}
		b = append(b, `,"value":`...)
		b = appendNumber(b, it.Seconds)
		if !it.Start.IsZero() {
			b = append(b, `,"startDate":"`...)
			b = caliper.AppendDateTime(b, it.Start)
			b = append(b, '"')
		}
		if !it.End.IsZero() {
			b = append(b, `,"endDate":"`...)
			b = caliper.AppendDateTime(b, it.End)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	return e.Common.appendTail(b)
}

// appendHead writes everything before generated: the fixed context and
// profile, id, type, action, eventTime, actor, object and edApp.
func (c *Common) appendHead(b []byte, typ, action string) []byte {
	b = append(b, `{"@context":"`+caliper.ContextV1p2+`","id":`...)
	b = caliper.AppendString(b, c.ID)
	b = append(b, `,"type":"`+typ+`","action":"`+action+`","profile":"`+ProfileTimeback+`"`...)
	b = append(b, `,"eventTime":"`...)
	b = caliper.AppendDateTime(b, c.EventTime)
	b = append(b, `","actor":{"id":`...)
	b = caliper.AppendString(b, c.Actor.ID)
	b = append(b, `,"type":"`+TypeUser+`","email":`...)
	b = caliper.AppendString(b, c.Actor.Email)
	b = append(b, `},"object":{"id":`...)
	b = caliper.AppendString(b, c.Object.ID)
	b = append(b, `,"type":"`+TypeActivityContext+`","subject":`...)
	b = caliper.AppendString(b, string(c.Object.Subject))
	b = append(b, `,"app":{"name":`...)
	b = caliper.AppendString(b, c.Object.AppName)
	if c.Object.AppID != "" {
		b = append(b, `,"id":`...)
		b = caliper.AppendString(b, c.Object.AppID)
	}
	b = append(b, '}')
	b = appendNamed(b, "course", c.Object.Course)
	b = appendNamed(b, "activity", c.Object.Activity)
	b = append(b, '}')
	if c.EdApp != "" {
		b = append(b, `,"edApp":`...)
		b = caliper.AppendString(b, c.EdApp)
	}
	return b
}

// appendTail writes the top-level extensions and closes the event.
func (c *Common) appendTail(b []byte) ([]byte, error) {
	if c.RunID == "" && c.CourseID == "" && len(c.Extensions) == 0 {
		return append(b, '}'), nil
	}
	b = append(b, `,"extensions":{`...)
	first := true
	member := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = caliper.AppendString(b, name)
		b = append(b, ':')
	}
	if c.RunID != "" {
		member(extensionRunID)
		b = caliper.AppendString(b, c.RunID)
	}
	if c.CourseID != "" {
		member(extensionCourseID)
		b = caliper.AppendString(b, c.CourseID)
	}
	keys := make([]string, 0, len(c.Extensions))
	for k := range c.Extensions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := json.Marshal(c.Extensions[k])
		if err != nil {
			return nil, invalidf("extensions.%s: %v", k, err)
		}
		member(k)
		b = append(b, v...)
	}
	return append(b, "}}"...), nil
}

func appendNamed(b []byte, name string, n *Named) []byte {
	if n == nil {
		return b
	}
	b = append(b, `,"`+name+`":{`...)
	if n.ID != "" {
		b = append(b, `"id":`...)
		b = caliper.AppendString(b, n.ID)
		b = append(b, ',')
	}
	b = append(b, `"name":`...)
	b = caliper.AppendString(b, n.Name)
	return append(b, '}')
}

func appendMetric(b []byte, name string, v float64) []byte {
	b = append(b, `{"type":"`+name+`","value":`...)
	b = appendNumber(b, v)
	return append(b, '}')
}

// appendNumber writes v as the shortest decimal that reads back as v, in
// plain notation for the magnitudes metrics have.
func appendNumber(b []byte, v float64) []byte {
	if v == 0 {
		return append(b, '0') // also for -0, which the validator rejects
	}
	if math.Abs(v) >= 1e-6 && math.Abs(v) < 1e21 {
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
