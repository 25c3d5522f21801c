package caliper

import (
	"bytes"
	"encoding/json"
	"time"
)

// ContextV1p2 is the JSON-LD context IRI of Caliper 1.2. It is also the only
// envelope dataVersion this package accepts.
const ContextV1p2 = "http://purl.imsglobal.org/ctx/caliper/v1p2"

// Options tune validation. The zero value validates with warnings allowed.
type Options struct {
	// Strict turns warnings into errors.
	Strict bool
}

// Kind is what a JSON document was recognised as.
type Kind uint8

const (
	KindUnknown  Kind = iota
	KindEvent         // an object with a Caliper event type
	KindEntity        // an object with a Caliper entity type
	KindEnvelope      // an object with sensor, sendTime, dataVersion and data
	KindArray         // a JSON array of events or entities
	KindConfig        // an endpoint configuration payload
)

// Item is one event or entity of an envelope or array, as decoded.
type Item struct {
	// Raw is the item's bytes exactly as they were sent.
	Raw json.RawMessage
	// Pointer locates the item in its document, such as "/data/2".
	Pointer string
	ID      string
	Type    string
	// Event is set when the item is an event, nil for an entity.
	Event *EventInfo
}

// EventInfo is the part of an event that stores index and query.
type EventInfo struct {
	Action     string
	Profile    string
	EventTime  time.Time
	ActorID    string
	ActorEmail string
	ObjectID   string
}

// Envelope is a decoded Caliper envelope.
type Envelope struct {
	Sensor      string
	SendTime    time.Time
	DataVersion string
	Data        []Item
}

// Report is the result of validating one document.
type Report struct {
	Kind     Kind
	Problems Problems
	// Items are the events and entities found: one for a single event or
	// entity, one per element for an envelope or array.
	Items []Item
	// Envelope is set when Kind is KindEnvelope.
	Envelope *Envelope
}

// Validate decodes data strictly and checks it against Caliper 1.2 and, for
// events that declare it, the TimebackProfile. Data may be an event, an
// entity, an envelope, a JSON array of events and entities, or an endpoint
// configuration payload.
func Validate(data []byte, opts Options) Report {
	// Placeholder until the strict decoder lands: decodes with encoding/json.
	var r Report
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		r.Problems = append(r.Problems, errorf("", "invalid JSON: %v", err))
		return r
	}
	obj, ok := v.(map[string]any)
	if !ok {
		r.Problems = append(r.Problems, errorf("", "document is not a JSON object"))
		return r
	}
	if d, ok := obj["data"].([]any); ok {
		r.Kind = KindEnvelope
		env := &Envelope{DataVersion: str(obj["dataVersion"]), Sensor: str(obj["sensor"])}
		env.SendTime, _ = time.Parse(time.RFC3339, str(obj["sendTime"]))
		for i, e := range d {
			raw, _ := json.Marshal(e)
			m, _ := e.(map[string]any)
			it := Item{Raw: raw, Pointer: "/data/" + itoa(i), ID: str(m["id"]), Type: str(m["type"])}
			if _, ok := m["action"]; ok {
				it.Event = &EventInfo{Action: str(m["action"]), Profile: str(m["profile"])}
				it.Event.EventTime, _ = time.Parse(time.RFC3339, str(m["eventTime"]))
				if a, ok := m["actor"].(map[string]any); ok {
					it.Event.ActorID, it.Event.ActorEmail = str(a["id"]), str(a["email"])
				}
			}
			env.Data = append(env.Data, it)
		}
		r.Envelope, r.Items = env, env.Data
		return r
	}
	r.Kind = KindEvent
	r.Items = []Item{{Raw: data, ID: str(obj["id"]), Type: str(obj["type"])}}
	return r
}

// Canonical returns a canonical encoding of one JSON value: object members
// sorted by key, no insignificant white space, numbers as written. Two
// encodings of the same content have the same canonical form.
func Canonical(raw []byte) ([]byte, error) {
	// Placeholder until the strict decoder lands.
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func str(v any) string { s, _ := v.(string); return s }

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

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
