package caliper

import (
	"encoding/json"
	"time"
)

// TimebackEvent is a valid TimebackProfile event read from the decoded
// document: the fields the Timeback SDK types carry. Members outside them,
// such as actor.name, are not kept.
type TimebackEvent struct {
	ID        string
	Type      string // ActivityEvent or TimeSpentEvent
	EventTime time.Time
	// EdApp is the edApp IRI, or the id of an edApp object; "" when absent.
	EdApp       string
	ActorID     string
	ActorEmail  string
	ObjectID    string
	Subject     string
	AppName     string
	AppID       string         // "" when absent
	Course      *TimebackNamed // nil when absent
	Activity    *TimebackNamed // nil when absent
	GeneratedID string
	Items       []TimebackItem
	// PctCompleteApp is generated.extensions.pctCompleteApp, nil when absent.
	PctCompleteApp *float64
	RunID          string // extensions.runId, "" when absent
	CourseID       string // extensions.courseId, "" when absent
	// Extensions are the top-level extensions other than runId and courseId,
	// nil when there are none. Values are decoded as encoding/json decodes
	// into any, except that numbers are json.Number, so that their literal
	// survives a new encoding.
	Extensions map[string]any
}

// TimebackNamed is the course or activity of a TimebackActivityContext.
type TimebackNamed struct {
	ID   string // "" when absent
	Name string
}

// TimebackItem is one item of generated.items: a completion metric, or a
// time category with its optional subType and window.
type TimebackItem struct {
	Type      string
	SubType   string
	Value     float64
	StartDate time.Time // zero when absent
	EndDate   time.Time // zero when absent
}

// DecodeTimeback validates data as Validate does and, when it is one
// TimebackProfile event that is valid under opts, also returns its fields
// read from the same decoded document, without decoding it a second time.
// The event is nil when data is invalid or is not such an event; the
// Report then says why, or has Kind other than KindEvent, or its item's
// profile is not TimebackProfile.
func DecodeTimeback(data []byte, opts Options) (*TimebackEvent, Report) {
	doc, r := validate(data, opts)
	defer doc.release()
	if doc == nil || !r.Valid(opts) || r.Kind != KindEvent || r.Items[0].Event.Profile != ProfileTimeback {
		return nil, r
	}
	return doc.timebackEvent(0), r
}

// timebackEvent reads event obj, which the validator accepted as a
// TimebackProfile event, so every required member is present and typed.
func (doc *document) timebackEvent(obj int32) *TimebackEvent {
	e := &TimebackEvent{}
	e.ID, _ = doc.getString(obj, "id")
	e.Type, _ = doc.getString(obj, "type")
	if s, ok := doc.getString(obj, "eventTime"); ok {
		e.EventTime = checkDateTime(s).t
	}
	if m := doc.get(obj, "edApp"); m >= 0 {
		e.EdApp = doc.refText(m)
	}

	actor := doc.get(obj, "actor")
	e.ActorID, _ = doc.getString(actor, "id")
	e.ActorEmail, _ = doc.getString(actor, "email")

	object := doc.get(obj, "object")
	e.ObjectID, _ = doc.getString(object, "id")
	e.Subject, _ = doc.getString(object, "subject")
	app := doc.get(object, "app")
	e.AppName, _ = doc.getString(app, "name")
	e.AppID, _ = doc.getString(app, "id")
	e.Course = doc.named(doc.get(object, "course"))
	e.Activity = doc.named(doc.get(object, "activity"))

	generated := doc.get(obj, "generated")
	e.GeneratedID, _ = doc.getString(generated, "id")
	items := doc.get(generated, "items")
	e.Items = make([]TimebackItem, 0, doc.nodes[items].count)
	for it := doc.nodes[items].first; it >= 0; it = doc.nodes[it].next {
		e.Items = append(e.Items, doc.timebackItem(it))
	}
	if p := doc.get(doc.get(generated, "extensions"), "pctCompleteApp"); p >= 0 {
		f := doc.float(p)
		e.PctCompleteApp = &f
	}

	x := doc.get(obj, "extensions")
	for m := doc.firstChild(x); m >= 0; m = doc.nodes[m].next {
		switch key := doc.key(m); key {
		case "runId":
			e.RunID = doc.text(m)
		case "courseId":
			e.CourseID = doc.text(m)
		default:
			if e.Extensions == nil {
				e.Extensions = make(map[string]any)
			}
			e.Extensions[key] = doc.anyValue(m)
		}
	}
	return e
}

func (doc *document) timebackItem(it int32) TimebackItem {
	var item TimebackItem
	item.Type, _ = doc.getString(it, "type")
	item.SubType, _ = doc.getString(it, "subType")
	if v := doc.get(it, "value"); v >= 0 {
		item.Value = doc.float(v)
	}
	if s, ok := doc.getString(it, "startDate"); ok {
		item.StartDate = checkDateTime(s).t
	}
	if s, ok := doc.getString(it, "endDate"); ok {
		item.EndDate = checkDateTime(s).t
	}
	return item
}

func (doc *document) named(n int32) *TimebackNamed {
	if n < 0 {
		return nil
	}
	out := &TimebackNamed{}
	out.ID, _ = doc.getString(n, "id")
	out.Name, _ = doc.getString(n, "name")
	return out
}

// refText returns an entity reference as an IRI: the string itself or the
// object's id.
func (doc *document) refText(m int32) string {
	if doc.kind(m) == jsonString {
		return doc.text(m)
	}
	s, _ := doc.getString(m, "id")
	return s
}

// firstChild returns the first member or element of node i, or -1 when i
// is absent or has none.
func (doc *document) firstChild(i int32) int32 {
	if i < 0 {
		return -1
	}
	return doc.nodes[i].first
}

// anyValue converts node i to the Go value encoding/json decodes into any,
// with numbers as json.Number.
func (doc *document) anyValue(i int32) any {
	n := &doc.nodes[i]
	switch n.kind {
	case jsonNull:
		return nil
	case jsonTrue:
		return true
	case jsonFalse:
		return false
	case jsonNumber:
		return json.Number(doc.raw(i))
	case jsonString:
		return doc.text(i)
	case jsonArray:
		out := make([]any, 0, n.count)
		for c := n.first; c >= 0; c = doc.nodes[c].next {
			out = append(out, doc.anyValue(c))
		}
		return out
	}
	out := make(map[string]any, n.count)
	for c := n.first; c >= 0; c = doc.nodes[c].next {
		out[doc.key(c)] = doc.anyValue(c)
	}
	return out
}
