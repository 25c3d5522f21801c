package caliper

import (
	"slices"
	"strconv"
	"strings"
)

// validator walks a decoded document and collects problems.
type validator struct {
	doc      *document
	problems Problems
}

func (v *validator) errorf(node int32, format string, args ...any) {
	v.problems = append(v.problems, errorf(v.doc.pointer(node), format, args...))
}

func (v *validator) errorAt(pointer, format string, args ...any) {
	v.problems = append(v.problems, errorf(pointer, format, args...))
}

func (v *validator) warnf(node int32, format string, args ...any) {
	v.problems = append(v.problems, warningf(v.doc.pointer(node), format, args...))
}

// memberPointer returns the pointer a missing member name of obj would have.
func (v *validator) memberPointer(obj int32, name string) string {
	return v.doc.pointer(obj) + "/" + escapePointer(name)
}

// document classifies the root value and validates it.
func (v *validator) document() Report {
	root := int32(0)
	switch v.doc.kind(root) {
	case jsonObject:
		switch {
		case v.isEnvelope(root):
			return v.envelope(root)
		case v.isConfig(root):
			v.config(root)
			return Report{Kind: KindConfig}
		}
		item, kind := v.topItem(root)
		return Report{Kind: kind, Items: []Item{item}}
	case jsonArray:
		r := Report{Kind: KindArray}
		if v.doc.nodes[root].count == 0 {
			v.errorf(root, "empty array; expected one or more events or entities")
		}
		for c := v.doc.nodes[root].first; c >= 0; c = v.doc.nodes[c].next {
			if v.doc.kind(c) != jsonObject {
				v.errorf(c, "array element is %s; expected an event or entity object", v.doc.kind(c))
				continue
			}
			item, _ := v.topItem(c)
			r.Items = append(r.Items, item)
		}
		v.duplicateEventIDs(r.Items)
		return r
	}
	if len(v.problems) > 0 {
		return Report{} // the decoder already named what is wrong with the scalar
	}
	k := v.doc.kind(root)
	if k == jsonNull {
		v.errorf(root, "document is null; expected a Caliper event, entity, envelope or array")
		return Report{}
	}
	v.errorf(root, "document is %s (%s); expected a Caliper event, entity, envelope or array",
		k, v.snippet(root))
	return Report{}
}

func (v *validator) isEnvelope(obj int32) bool {
	if v.doc.get(obj, "data") < 0 {
		return false
	}
	return v.doc.get(obj, "type") < 0 ||
		v.doc.get(obj, "sensor") >= 0 || v.doc.get(obj, "dataVersion") >= 0 || v.doc.get(obj, "sendTime") >= 0
}

// topItem validates a top-level event or entity: the root, an envelope data
// element or an array element. Each of them needs a @context.
func (v *validator) topItem(obj int32) (Item, Kind) {
	item := Item{Raw: v.doc.raw(obj), Pointer: v.doc.pointer(obj)}
	item.ID, _ = v.doc.getString(obj, "id")
	item.Type = v.term(obj, "type")
	c := v.typeOf(obj)
	if c == nil {
		return item, KindUnknown
	}
	if ctx := v.doc.get(obj, "@context"); ctx < 0 && (c.isEntity || c.isEvent) {
		v.errorAt(v.memberPointer(obj, "@context"), "@context is missing; a top-level %s needs %q",
			kindNoun(c), ContextV1p2)
	}
	if c.isEvent {
		v.event(obj, c)
		item.Event = v.eventInfo(obj)
		return item, KindEvent
	}
	v.entity(obj, c)
	return item, KindEntity
}

func kindNoun(c *class) string {
	if c.isEvent {
		return "event"
	}
	return "entity"
}

// typeOf reads the type of obj and returns its class, reporting a missing
// or unknown type.
func (v *validator) typeOf(obj int32) *class {
	t := v.doc.get(obj, "type")
	if t < 0 {
		v.errorAt(v.memberPointer(obj, "type"), "type is missing; every Caliper event and entity has a type")
		return nil
	}
	if v.doc.kind(t) != jsonString {
		v.errorf(t, "type is %s; expected a string naming a Caliper type", v.doc.kind(t))
		return nil
	}
	name := v.doc.view(t)
	c := classes[name]
	if c == nil {
		v.errorf(t, "type %q is not a Caliper 1.2 event or entity type", name)
		return nil
	}
	return c
}

// event validates the members of an event object of class c.
func (v *validator) event(obj int32, c *class) {
	timeback := c.name == "ActivityEvent" || c.name == "TimeSpentEvent"
	for m := v.doc.nodes[obj].first; m >= 0; m = v.doc.nodes[m].next {
		key := v.doc.keyView(m)
		switch key {
		case "@context":
			v.context(m, timeback)
		case "type":
		case "id":
			v.eventID(m)
		case "action":
			v.action(m, c)
		case "profile":
			v.profile(m, c)
		default:
			p := c.props[key]
			if p == nil {
				v.unknownProperty(m, key, c)
				continue
			}
			if timeback && (key == "actor" || key == "object" || key == "generated" || key == "extensions") {
				continue // checked by the TimebackProfile rules below
			}
			if p.typ == typeEntity && c.restrict[key] != nil {
				v.entityRef(m, key, c.restrict[key])
				continue
			}
			v.value(m, p)
		}
	}
	for _, name := range []string{"id", "action", "actor", "object", "eventTime"} {
		if v.doc.get(obj, name) < 0 {
			v.errorAt(v.memberPointer(obj, name), "%s is missing; %s requires it", name, c.name)
		}
	}
	if timeback {
		if v.doc.get(obj, "profile") < 0 {
			v.errorAt(v.memberPointer(obj, "profile"), "profile is missing; %s must declare %q",
				c.name, "TimebackProfile")
		}
		v.timebackEvent(obj, c)
	}
}

func (v *validator) unknownProperty(m int32, key string, c *class) {
	v.errorf(m, "property %q is not defined for %s; put custom data in extensions", key, c.name)
}

func (v *validator) eventID(m int32) {
	if v.doc.kind(m) != jsonString {
		v.errorf(m, "id is %s; expected a string urn:uuid:<UUID>", v.doc.kind(m))
		return
	}
	if id := v.doc.view(m); !IsUUIDURN(id) {
		v.errorf(m, "id %q is not urn:uuid: followed by a UUID; Caliper event ids are UUID URNs", clip(id))
	}
}

func (v *validator) action(m int32, c *class) {
	if v.doc.kind(m) != jsonString {
		v.errorf(m, "action is %s; expected a string naming a Caliper action", v.doc.kind(m))
		return
	}
	a := v.doc.view(m)
	switch {
	case !actions[a]:
		v.errorf(m, "action %q is not a Caliper 1.2 action", clip(a))
	case !c.actions[a]:
		v.errorf(m, "action %q is not allowed for %s (allowed: %s)", a, c.name, sortedKeys(c.actions))
	}
}

func (v *validator) profile(m int32, c *class) {
	if v.doc.kind(m) != jsonString {
		v.errorf(m, "profile is %s; expected a string naming a Caliper profile", v.doc.kind(m))
		return
	}
	name := v.doc.view(m)
	events, ok := profiles[name]
	switch {
	case !ok:
		v.errorf(m, "profile %q is not a Caliper 1.2 profile", clip(name))
	case !events[c.name]:
		v.errorf(m, "profile %q does not allow %s (allowed: %s)", name, c.name, sortedKeys(events))
	}
}

// context checks a @context: the v1p2 IRI, or for Caliper documents an array
// whose last element is it or an inline context object. The TimebackProfile
// requires the plain string.
func (v *validator) context(m int32, exact bool) {
	switch v.doc.kind(m) {
	case jsonString:
		if s := v.doc.view(m); s != ContextV1p2 {
			v.errorf(m, "@context %q is not the Caliper 1.2 context %q", clip(s), ContextV1p2)
		}
		return
	case jsonArray:
		if exact {
			v.errorf(m, "@context is an array; a TimebackProfile event uses exactly %q", ContextV1p2)
			return
		}
		last := int32(-1)
		for c := v.doc.nodes[m].first; c >= 0; c = v.doc.nodes[c].next {
			last = c
			if k := v.doc.kind(c); k != jsonString && k != jsonObject {
				v.errorf(c, "@context element is %s; expected an IRI or a context object", k)
			}
		}
		if last < 0 || !v.doc.textEquals(last, ContextV1p2) {
			v.errorf(m, "@context array does not end with the Caliper 1.2 context %q", ContextV1p2)
		}
		return
	}
	if v.doc.kind(m) == jsonObject && !exact {
		return // an inline JSON-LD context, which Caliper 1.2 documents may carry
	}
	v.errorf(m, "@context is %s; expected %q or an array ending with it", v.doc.kind(m), ContextV1p2)
}

// entity validates the members of an entity object of class c.
func (v *validator) entity(obj int32, c *class) {
	if strings.HasPrefix(c.name, "Timeback") {
		v.errorf(obj, "%s appears outside a TimebackProfile event", c.name)
	}
	for m := v.doc.nodes[obj].first; m >= 0; m = v.doc.nodes[m].next {
		key := v.doc.keyView(m)
		switch key {
		case "@context":
			v.context(m, false)
		case "type":
		case "id":
			v.entityID(m)
		default:
			p := c.props[key]
			if p == nil {
				v.unknownProperty(m, key, c)
				continue
			}
			v.value(m, p)
		}
	}
	if c.isEntity && v.doc.get(obj, "id") < 0 {
		v.errorAt(v.memberPointer(obj, "id"), "id is missing; a %s entity requires an IRI id", c.name)
	}
	for _, p := range c.props {
		if p.required && v.doc.get(obj, p.name) < 0 {
			v.errorAt(v.memberPointer(obj, p.name), "%s is missing; %s requires it", p.name, c.name)
		}
	}
}

func (v *validator) entityID(m int32) {
	if v.doc.kind(m) != jsonString {
		v.errorf(m, "id is %s; expected an IRI string", v.doc.kind(m))
		return
	}
	if id := v.doc.view(m); !IsIRI(id) {
		v.errorf(m, "id %q is not an absolute IRI", clip(id))
	}
}

// value checks one property value against its declared type.
func (v *validator) value(m int32, p *property) {
	k := v.doc.kind(m)
	if k == jsonNull {
		v.errorf(m, "%s is null; omit a property that has no value", p.name)
		return
	}
	if p.list {
		if k != jsonArray {
			v.errorf(m, "%s is %s; expected an array", p.name, k)
			return
		}
		for c := v.doc.nodes[m].first; c >= 0; c = v.doc.nodes[c].next {
			v.scalar(c, p, p.name+" element")
		}
		return
	}
	v.scalar(m, p, p.name)
}

func (v *validator) scalar(m int32, p *property, what string) {
	k := v.doc.kind(m)
	switch p.typ {
	case typeAny:
	case typeString:
		if k != jsonString {
			v.errorf(m, "%s is %s (%s); expected a string", what, k, v.snippet(m))
		}
	case typeInteger:
		if k != jsonNumber {
			v.errorf(m, "%s is %s (%s); expected an integer", what, k, v.snippet(m))
		} else if lit := v.doc.raw(m); !isIntegerLiteral(lit) {
			v.errorf(m, "%s %s is not an integer", what, lit)
		}
	case typeDecimal:
		if k != jsonNumber {
			v.errorf(m, "%s is %s (%s); expected a decimal number", what, k, v.snippet(m))
		} else if lit := v.doc.raw(m); isIntegerLiteral(lit) {
			v.errorf(m, "%s %s is written as an integer; a Caliper Decimal has a fractional part, such as %s.0",
				what, lit, lit)
		}
	case typeBoolean:
		if k != jsonTrue && k != jsonFalse {
			v.errorf(m, "%s is %s (%s); expected true or false", what, k, v.snippet(m))
		}
	case typeDateTime:
		v.dateTime(m, what)
	case typeDuration:
		if k != jsonString {
			v.errorf(m, "%s is %s; expected an ISO 8601 duration string such as PT30M", what, k)
		} else if s := v.doc.view(m); !checkDuration(s) {
			v.errorf(m, "%s %q is not an ISO 8601 duration such as PT30M54S", what, clip(s))
		}
	case typeIRI:
		if k != jsonString {
			v.errorf(m, "%s is %s; expected an IRI string", what, k)
		} else if s := v.doc.view(m); !IsIRI(s) {
			v.errorf(m, "%s %q is not an absolute IRI", what, clip(s))
		}
	case typeObject:
		if k != jsonObject {
			v.errorf(m, "%s is %s (%s); expected a JSON object", what, k, v.snippet(m))
		}
	case typeEnum:
		if k != jsonString {
			v.errorf(m, "%s is %s; expected one of the %s terms", what, k, p.enumName)
		} else if s := v.doc.view(m); !p.enum[s] {
			v.errorf(m, "%s %q is not a Caliper %s term (%s)", what, clip(s), p.enumName, sortedKeys(p.enum))
		}
	case typeEntity:
		v.entityRefElement(m, what, []*class{p.class})
	}
}

// dateTime checks a DateTime value and returns its check result.
func (v *validator) dateTime(m int32, what string) dateTimeCheck {
	if v.doc.kind(m) != jsonString {
		v.errorf(m, "%s is %s (%s); expected an ISO 8601 date and time string", what, v.doc.kind(m),
			v.snippet(m))
		return dateTimeCheck{err: "not a string"}
	}
	s := v.doc.view(m)
	c := checkDateTime(s)
	switch {
	case c.err != "":
		v.errorf(m, "%s %q %s", what, clip(s), c.err)
	case c.deviation != "":
		v.warnf(m, "%s %q %s", what, s, c.deviation)
	}
	return c
}

// entityRef checks an entity-valued event property.
func (v *validator) entityRef(m int32, name string, allowed []*class) {
	if v.doc.kind(m) == jsonNull {
		v.errorf(m, "%s is null; omit a property that has no value", name)
		return
	}
	v.entityRefElement(m, name, allowed)
}

// entityRefElement checks a value that is an IRI or an entity object whose
// type descends from one of allowed.
func (v *validator) entityRefElement(m int32, what string, allowed []*class) {
	switch v.doc.kind(m) {
	case jsonString:
		if s := v.doc.view(m); !IsIRI(s) {
			v.errorf(m, "%s %q is neither an IRI nor a %s object", what, clip(s), classNames(allowed))
		}
	case jsonObject:
		c := v.typeOf(m)
		if c == nil {
			return
		}
		if !descends(c, allowed) {
			v.errorf(v.doc.get(m, "type"), "%s has type %s; expected %s", what, c.name, classNames(allowed))
			return
		}
		if c.isEvent {
			v.errorf(m, "%s is an event; expected an entity", what)
			return
		}
		v.entity(m, c)
	default:
		v.errorf(m, "%s is %s (%s); expected an IRI or a %s object", what, v.doc.kind(m),
			v.snippet(m), classNames(allowed))
	}
}

func descends(c *class, allowed []*class) bool {
	for _, a := range allowed {
		if c.ancestors[a.name] {
			return true
		}
	}
	return false
}

func classNames(cs []*class) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return strings.Join(names, " or ")
}

// eventInfo extracts what a store indexes from a validated event object.
func (v *validator) eventInfo(obj int32) *EventInfo {
	e := &EventInfo{}
	e.Action = v.term(obj, "action")
	e.Profile = v.term(obj, "profile")
	if s, ok := v.doc.getString(obj, "eventTime"); ok {
		if c := checkDateTime(s); c.err == "" {
			e.EventTime = c.t
		}
	}
	e.ActorID, e.ActorEmail = v.refID(v.doc.get(obj, "actor")), ""
	if a := v.doc.get(obj, "actor"); a >= 0 && v.doc.kind(a) == jsonObject {
		e.ActorEmail, _ = v.doc.getString(a, "email")
	}
	e.ObjectID = v.refID(v.doc.get(obj, "object"))
	return e
}

// term returns the text of member name of obj when it is a string, "" when
// it is not. A Caliper term comes from the vocabulary, so it costs no copy.
func (v *validator) term(obj int32, name string) string {
	m := v.doc.get(obj, name)
	if m < 0 || v.doc.kind(m) != jsonString {
		return ""
	}
	if t, ok := terms[v.doc.view(m)]; ok {
		return t
	}
	return v.doc.text(m)
}

// refID returns the IRI of an entity reference: the string itself or the
// object's id.
func (v *validator) refID(m int32) string {
	if m < 0 {
		return ""
	}
	switch v.doc.kind(m) {
	case jsonString:
		return v.doc.text(m)
	case jsonObject:
		s, _ := v.doc.getString(m, "id")
		return s
	}
	return ""
}

// duplicateEventIDs reports each event whose id repeats an earlier event's
// id, at the later event's id.
func (v *validator) duplicateEventIDs(items []Item) {
	seen := make(map[string]string, len(items))
	for _, it := range items {
		if it.Event == nil || it.ID == "" {
			continue
		}
		if first, dup := seen[it.ID]; dup {
			v.errorAt(it.Pointer+"/id", "event id %q repeats the id at %s; events in one document need distinct ids",
				it.ID, first+"/id")
			continue
		}
		seen[it.ID] = it.Pointer
	}
}

func isIntegerLiteral(lit []byte) bool {
	for _, c := range lit {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

// snippet returns value node i as JSON without the white space between
// tokens, clipped like clip, so that a message quoting an object or array
// stays on one line.
func (v *validator) snippet(i int32) string {
	raw := v.doc.raw(i)
	k := v.doc.kind(i)
	if k != jsonObject && k != jsonArray {
		return clip(string(raw))
	}
	b := make([]byte, 0, min(len(raw), 64))
	inString := false
	for j := 0; j < len(raw) && len(b) <= 64; j++ {
		c := raw[j]
		switch {
		case inString && c == '\\' && j+1 < len(raw):
			b = append(b, c, raw[j+1])
			j++
			continue
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			continue
		}
		b = append(b, c)
	}
	return clip(string(b))
}

// clip shortens a value quoted in a message to 60 bytes.
func clip(s string) string {
	const limit = 60
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}

func sortedKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	if len(keys) > 12 {
		return strings.Join(keys[:12], ", ") + ", ... (" + strconv.Itoa(len(keys)) + " in all)"
	}
	return strings.Join(keys, ", ")
}

// dropShadowed removes the validator's problems, those after the first
// decoded, at a pointer where the decoder already reported a problem. The
// decoder's problem (a number out of range, negative zero, a duplicate key)
// already names the fault in that value, so a second message about the same
// value would only repeat the cause.
func dropShadowed(ps Problems, decoded int) Problems {
	if decoded == 0 {
		return ps
	}
	out := ps[:decoded]
	for _, p := range ps[decoded:] {
		if !slices.ContainsFunc(ps[:decoded], func(q Problem) bool { return q.Pointer == p.Pointer }) {
			out = append(out, p)
		}
	}
	return out
}
