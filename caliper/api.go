package caliper

import (
	"time"
)

// ContextV1p2 is the JSON-LD context IRI of Caliper 1.2. It is also the only
// envelope dataVersion this package accepts.
const ContextV1p2 = "http://purl.imsglobal.org/ctx/caliper/v1p2"

// Options tune validation. The zero value validates with warnings allowed.
type Options struct {
	// Strict turns warnings into errors: every Problem of the Report then has
	// SeverityError.
	Strict bool
}

// Kind is the kind of Caliper document that Validate recognised.
type Kind uint8

const (
	KindUnknown  Kind = iota
	KindEvent         // an object with a Caliper event type
	KindEntity        // an object with a Caliper entity type
	KindEnvelope      // an object with sensor, sendTime, dataVersion and data
	KindArray         // a JSON array of events or entities
	KindConfig        // an endpoint configuration payload
)

// String returns the kind as a lower-case noun, such as "envelope".
func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindEntity:
		return "entity"
	case KindEnvelope:
		return "envelope"
	case KindArray:
		return "array"
	case KindConfig:
		return "endpoint configuration"
	}
	return "unknown document"
}

// Item is one event or entity of an envelope or array, as decoded.
type Item struct {
	// Raw is the item's bytes exactly as they were sent. It shares memory
	// with the data passed to Validate.
	Raw []byte
	// Pointer locates the item in its document, such as "/data/2"; it is ""
	// for a single event or entity.
	Pointer string
	ID      string
	Type    string
	// Event is set when the item is an event, nil for an entity.
	Event *EventInfo
}

// EventInfo is the part of an event that stores index and query.
type EventInfo struct {
	Action  string
	Profile string // "" when the event names none
	// EventTime is the parsed eventTime in UTC, zero when it is invalid.
	EventTime  time.Time
	ActorID    string // the actor's id, or the actor itself when it is an IRI
	ActorEmail string // the actor's email, "" when absent
	ObjectID   string // the object's id, or the object itself when it is an IRI
}

// Envelope is a decoded Caliper envelope.
type Envelope struct {
	Sensor      string
	SendTime    time.Time // zero when sendTime is invalid
	DataVersion string
	Data        []Item
}

// Report is the result of validating one document.
type Report struct {
	Kind     Kind
	Problems Problems
	// Items are the events and entities found: one for a single event or
	// entity, one per element for an envelope or array. Every element that
	// is a JSON object has an item, even when the document has problems.
	// Items is nil when the JSON itself is invalid.
	Items []Item
	// Envelope is set when Kind is KindEnvelope.
	Envelope *Envelope
}

// Valid reports whether the report has no problem that makes the document
// invalid under opts.
func (r Report) Valid(opts Options) bool { return r.Problems.Valid(opts.Strict) }

// Validate decodes data strictly and checks it against Caliper 1.2 and, for
// events that declare it, the TimebackProfile. Data may be an event, an
// entity, an envelope, a JSON array of events and entities, or an endpoint
// configuration payload. Malformed input yields problems, not a panic, and
// FuzzValidate checks that for arbitrary bytes.
func Validate(data []byte, opts Options) Report {
	doc, r := validate(data, opts)
	doc.release()
	return r
}

// validate is Validate that also returns the decoded document, nil when the
// JSON itself is invalid.
func validate(data []byte, opts Options) (*document, Report) {
	doc, problems := decode(data)
	if doc == nil {
		return nil, Report{Problems: problems}
	}
	v := validator{doc: doc, problems: problems}
	r := v.document()
	r.Problems = dropShadowed(v.problems, len(problems))
	if opts.Strict {
		for i := range r.Problems {
			r.Problems[i].Severity = SeverityError
		}
	}
	return doc, r
}

// Canonical returns a canonical encoding of one JSON value: object members
// sorted by key, no insignificant white space, strings with the minimal
// escapes, numbers as written. Two encodings of the same content have the
// same canonical form. Invalid JSON, including duplicate keys, is an error.
func Canonical(raw []byte) ([]byte, error) {
	doc, problems := decode(raw)
	if doc == nil || len(problems) > 0 {
		doc.release()
		return nil, problems
	}
	out := doc.appendCanonical(make([]byte, 0, len(raw)), 0)
	doc.release()
	return out, nil
}
