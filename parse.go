package timeback

import (
	"strconv"
	"strings"

	"github.com/timeback/timeback-go/caliper"
)

// ParseEvent decodes one TimebackProfile event and validates it against
// Caliper 1.2 and the TimebackProfile. It returns an *ActivityCompleted or a
// *TimeSpent together with any warnings, or a nil Event and the problems
// when the event is invalid or is not a TimebackProfile event. The data is
// decoded once: the fields come from the validator's document. Extension
// values are decoded as encoding/json decodes into any, except that numbers
// are json.Number, so that MarshalJSON writes their literals unchanged.
func ParseEvent(data []byte) (Event, caliper.Problems) {
	w, r := caliper.DecodeTimeback(data, caliper.Options{})
	switch {
	case !r.Problems.Valid(false):
		return nil, r.Problems
	case r.Kind != caliper.KindEvent:
		return nil, append(r.Problems, caliper.Problem{
			Severity: caliper.SeverityError,
			Message:  "document is " + withArticle(r.Kind.String()) + ", not a TimebackProfile event",
		})
	case w == nil:
		return nil, append(r.Problems, caliper.Problem{
			Pointer: "/profile", Severity: caliper.SeverityError,
			Message: "profile " + strconv.Quote(r.Items[0].Event.Profile) + " is not " + ProfileTimeback,
		})
	}
	c := commonOf(w)
	if w.Type == TypeActivityEvent {
		return &ActivityCompleted{Common: c, Metrics: completion(w)}, r.Problems
	}
	return &TimeSpent{Common: c, Items: timeItems(w)}, r.Problems
}

func commonOf(w *caliper.TimebackEvent) Common {
	return Common{
		ID:          w.ID,
		EventTime:   w.EventTime,
		Actor:       User{ID: w.ActorID, Email: w.ActorEmail},
		GeneratedID: w.GeneratedID,
		EdApp:       w.EdApp,
		RunID:       w.RunID,
		CourseID:    w.CourseID,
		Extensions:  w.Extensions,
		Object: ActivityContext{
			ID: w.ObjectID, Subject: Subject(w.Subject),
			AppName: w.AppName, AppID: w.AppID,
			Course: named(w.Course), Activity: named(w.Activity),
		},
	}
}

func named(n *caliper.TimebackNamed) *Named {
	if n == nil {
		return nil
	}
	return &Named{ID: n.ID, Name: n.Name}
}

func completion(w *caliper.TimebackEvent) Completion {
	m := Completion{PctCompleteApp: w.PctCompleteApp}
	for _, it := range w.Items {
		m.SetMetric(it.Type, it.Value)
	}
	return m
}

func timeItems(w *caliper.TimebackEvent) []TimeItem {
	items := make([]TimeItem, len(w.Items))
	for i, it := range w.Items {
		items[i] = TimeItem{Type: TimeCategory(it.Type), Seconds: it.Value, SubType: it.SubType,
			Start: it.StartDate, End: it.EndDate}
	}
	return items
}

func withArticle(noun string) string {
	if strings.IndexByte("aeiou", noun[0]) >= 0 {
		return "an " + noun
	}
	return "a " + noun
}
