package caliper

import (
	"slices"
	"unicode/utf8"
)

func sortStrings(s []string) { slices.Sort(s) }

// envelope validates a Caliper envelope and fills its items.
func (v *validator) envelope(obj int32) Report {
	env := &Envelope{}
	r := Report{Kind: KindEnvelope, Envelope: env}
	for m := v.doc.nodes[obj].first; m >= 0; m = v.doc.nodes[m].next {
		switch key := v.doc.keyView(m); key {
		case "sensor":
			if v.doc.kind(m) != jsonString {
				v.errorf(m, "sensor is %s; expected the sensor's IRI", v.doc.kind(m))
			} else if env.Sensor = v.doc.text(m); !IsIRI(env.Sensor) {
				v.errorf(m, "sensor %q is not an absolute IRI", clip(env.Sensor))
			}
		case "sendTime":
			if c := v.dateTime(m, "sendTime"); c.err == "" {
				env.SendTime = c.t
			}
		case "dataVersion":
			v.dataVersion(m, env)
		case "data":
			r.Items = v.envelopeData(m)
		default:
			v.errorf(m, "property %q is not defined for an envelope (sensor, sendTime, dataVersion, data)", key)
		}
	}
	for _, name := range []string{"sensor", "sendTime", "dataVersion", "data"} {
		if v.doc.get(obj, name) < 0 {
			v.errorAt("/"+name, "%s is missing; a Caliper envelope requires it", name)
		}
	}
	env.Data = r.Items
	return r
}

// dataVersion checks the envelope's dataVersion. The endpoint maps a problem
// at exactly "/dataVersion" to 422 Unprocessable Entity, so every problem
// with the version is reported there.
func (v *validator) dataVersion(m int32, env *Envelope) {
	if v.doc.kind(m) != jsonString {
		v.errorAt("/dataVersion", "dataVersion is %s; expected %q", v.doc.kind(m), ContextV1p2)
		return
	}
	env.DataVersion = v.doc.text(m)
	if env.DataVersion != ContextV1p2 {
		v.errorAt("/dataVersion", "unsupported dataVersion %q; this endpoint accepts %q",
			clip(env.DataVersion), ContextV1p2)
	}
}

func (v *validator) envelopeData(m int32) []Item {
	if v.doc.kind(m) != jsonArray {
		v.errorf(m, "data is %s; expected an array of events and entities", v.doc.kind(m))
		return nil
	}
	if v.doc.nodes[m].count == 0 {
		v.errorf(m, "data is empty; an envelope carries one or more events or entities")
	}
	items := make([]Item, 0, v.doc.nodes[m].count)
	for c := v.doc.nodes[m].first; c >= 0; c = v.doc.nodes[c].next {
		if v.doc.kind(c) != jsonObject {
			v.errorf(c, "data element is %s (%s); expected an event or entity object",
				v.doc.kind(c), v.snippet(c))
			continue
		}
		item, _ := v.topItem(c)
		items = append(items, item)
	}
	v.duplicateEventIDs(items)
	return items
}

// The members of an endpoint configuration payload, in the camelCase of the
// specification text and the snake_case of its fixtures; both are read.
var configMembers = map[string]string{
	"caliperSupportedVersions":     "versions",
	"caliper_supported_versions":   "versions",
	"caliperMaximumPayloadSize":    "size",
	"caliper_maximum_payload_size": "size",
	"caliperSupportedExtensions":   "extensions",
	"caliper_supported_extensions": "extensions",
}

func (v *validator) isConfig(obj int32) bool {
	if v.doc.get(obj, "type") >= 0 {
		return false
	}
	for m := v.doc.nodes[obj].first; m >= 0; m = v.doc.nodes[m].next {
		if _, ok := configMembers[v.doc.key(m)]; ok {
			return true
		}
	}
	return false
}

// config validates an endpoint configuration payload.
func (v *validator) config(obj int32) {
	for m := v.doc.nodes[obj].first; m >= 0; m = v.doc.nodes[m].next {
		key := v.doc.keyView(m)
		switch configMembers[key] {
		case "versions":
			if v.doc.kind(m) != jsonArray {
				v.errorf(m, "%s is %s; expected an array of context IRIs", key, v.doc.kind(m))
				continue
			}
			for c := v.doc.nodes[m].first; c >= 0; c = v.doc.nodes[c].next {
				if v.doc.kind(c) != jsonString || !IsIRI(v.doc.view(c)) {
					v.errorf(c, "%s element %s is not a context IRI", key, v.snippet(c))
				}
			}
		case "size":
			if v.doc.kind(m) != jsonNumber || !isIntegerLiteral(v.doc.raw(m)) || v.doc.float(m) < 0 {
				v.errorf(m, "%s %s is not a non-negative integer number of bytes", key, v.snippet(m))
			}
		case "extensions":
			if v.doc.kind(m) != jsonObject {
				v.errorf(m, "%s is %s; expected an object", key, v.doc.kind(m))
			}
		default:
			v.errorf(m, "property %q is not defined for an endpoint configuration "+
				"(caliperSupportedVersions, caliperMaximumPayloadSize, caliperSupportedExtensions)", key)
		}
	}
}

// appendCanonical writes node i in canonical form.
func (doc *document) appendCanonical(b []byte, i int32) []byte {
	n := &doc.nodes[i]
	switch n.kind {
	case jsonString:
		return AppendString(b, doc.text(i))
	case jsonArray:
		b = append(b, '[')
		for c := n.first; c >= 0; c = doc.nodes[c].next {
			if c != n.first {
				b = append(b, ',')
			}
			b = doc.appendCanonical(b, c)
		}
		return append(b, ']')
	case jsonObject:
		type member struct {
			key  string
			node int32
		}
		members := make([]member, 0, n.count)
		for c := n.first; c >= 0; c = doc.nodes[c].next {
			members = append(members, member{doc.key(c), c})
		}
		slices.SortFunc(members, func(a, b member) int {
			switch {
			case a.key < b.key:
				return -1
			case a.key > b.key:
				return 1
			}
			return 0
		})
		b = append(b, '{')
		for j, m := range members {
			if j > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, m.key)
			b = append(b, ':')
			b = doc.appendCanonical(b, m.node)
		}
		return append(b, '}')
	}
	return append(b, doc.raw(i)...) // numbers as written, and the literals
}

// AppendString appends s to b as a JSON string with only the escapes JSON
// requires: quote, backslash and control characters. Invalid UTF-8 becomes
// U+FFFD, and every other character is written as it is. Canonical uses it,
// so its output is part of the canonical form and must not change.
func AppendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainASCII[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\ufffd"...)
				start = i + 1
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
