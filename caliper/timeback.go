package caliper

import (
	"strconv"
	"strings"
	"time"
)

// ProfileTimeback is the profile of the two Timeback events.
const ProfileTimeback = "TimebackProfile"

// MaxTimeSpentSeconds is the largest value a TimeSpentEvent item may carry.
const MaxTimeSpentSeconds = 86400

// TimebackSubjects are the subjects a TimebackActivityContext may name.
var TimebackSubjects = []string{"Math", "Reading", "Language", "Vocabulary", "Writing", "Science",
	"Social Studies", "FastMath", "None", "Other"}

// TimeCategories are the item types of a TimeSpentEvent.
var TimeCategories = []string{"active", "inactive", "waste", "unknown", "anti-pattern"}

// CompletionMetrics are the item types of an ActivityEvent/Completed.
var CompletionMetrics = []string{"xpEarned", "totalQuestions", "correctQuestions", "masteredUnits"}

// The members a TimebackProfile entity may have beyond the Entity basics.
var (
	timebackEntityBase = []string{"id", "type", "name", "description", "dateCreated", "dateModified",
		"extensions"}
	timebackUserMembers    = append([]string{"email", "otherIdentifiers"}, timebackEntityBase...)
	timebackContextMembers = append([]string{"subject", "app", "course", "activity"}, timebackEntityBase...)
	timebackAppMembers     = []string{"id", "type", "name", "version", "extensions"}
	timebackNamedMembers   = []string{"id", "type", "name", "extensions"}
	timebackGenerated      = []string{"id", "type", "items", "extensions"}
	completionItemMembers  = []string{"type", "value"}
	timeItemMembers        = []string{"type", "value", "subType", "startDate", "endDate"}
)

// timebackEvent applies the TimebackProfile rules to actor, object,
// generated and extensions of an ActivityEvent or TimeSpentEvent.
func (v *validator) timebackEvent(obj int32, c *class) {
	if m := v.doc.get(obj, "profile"); m >= 0 && !v.doc.textEquals(m, ProfileTimeback) {
		// Reported here only when the generic profile check passed.
		if s, ok := v.doc.getString(obj, "profile"); ok && profiles[s] != nil && profiles[s][c.name] {
			v.errorf(m, "profile %q is not %s", s, ProfileTimeback)
		}
	}
	if a := v.doc.get(obj, "actor"); a >= 0 {
		v.timebackUser(a)
	}
	if o := v.doc.get(obj, "object"); o >= 0 {
		v.timebackContext(o)
	}
	if g := v.doc.get(obj, "generated"); g >= 0 {
		v.timebackGeneratedObject(g, c)
	} else {
		v.errorAt(v.memberPointer(obj, "generated"), "generated is missing; a TimebackProfile %s "+
			"carries its metrics in generated", c.name)
	}
	if x := v.doc.get(obj, "extensions"); x >= 0 {
		v.timebackExtensions(x)
	}
}

// members reports every member of obj outside allowed.
func (v *validator) members(obj int32, what string, allowed []string) {
	for m := v.doc.nodes[obj].first; m >= 0; m = v.doc.nodes[m].next {
		key := v.doc.keyView(m)
		if !contains(allowed, key) {
			v.errorf(m, "property %q is not defined for %s; put custom data in extensions", key, what)
		}
	}
}

func (v *validator) requireObject(m int32, what, typeName string) bool {
	if v.doc.kind(m) == jsonObject {
		return true
	}
	if v.doc.kind(m) == jsonString {
		v.errorf(m, "%s is the IRI %q; the TimebackProfile requires a %s object", what,
			clip(v.doc.text(m)), typeName)
		return false
	}
	v.errorf(m, "%s is %s; expected a %s object", what, v.doc.kind(m), typeName)
	return false
}

// requireType checks that obj has the type want.
func (v *validator) requireType(obj int32, what, want string) {
	t := v.doc.get(obj, "type")
	switch {
	case t < 0:
		v.errorAt(v.memberPointer(obj, "type"), "%s.type is missing; expected %q", what, want)
	case !v.doc.textEquals(t, want):
		v.errorf(t, "%s.type %s is not %q", what, v.snippet(t), want)
	}
}

// requireIRI checks that member name of obj is an absolute IRI; a missing
// member is an error when required.
func (v *validator) requireIRI(obj int32, what, name string, required bool) {
	m := v.doc.get(obj, name)
	if m < 0 {
		if required {
			v.errorAt(v.memberPointer(obj, name), "%s.%s is missing; it is required", what, name)
		}
		return
	}
	if v.doc.kind(m) != jsonString {
		v.errorf(m, "%s.%s is %s; expected an IRI string", what, name, v.doc.kind(m))
		return
	}
	if s := v.doc.view(m); !IsIRI(s) {
		v.errorf(m, "%s.%s %q is not an absolute IRI", what, name, clip(s))
	}
}

// requireText checks that member name of obj is a non-empty string and
// returns it, as a view of the input, with its node.
func (v *validator) requireText(obj int32, what, name string, required bool) (string, int32) {
	m := v.doc.get(obj, name)
	if m < 0 {
		if required {
			v.errorAt(v.memberPointer(obj, name), "%s.%s is missing; it is required", what, name)
		}
		return "", -1
	}
	if v.doc.kind(m) != jsonString {
		v.errorf(m, "%s.%s is %s (%s); expected a string", what, name, v.doc.kind(m), v.snippet(m))
		return "", -1
	}
	s := v.doc.view(m)
	if strings.TrimSpace(s) == "" {
		v.errorf(m, "%s.%s is empty; expected a non-empty string", what, name)
		return "", -1
	}
	return s, m
}

func (v *validator) timebackUser(a int32) {
	if !v.requireObject(a, "actor", "TimebackUser") {
		return
	}
	v.members(a, "TimebackUser", timebackUserMembers)
	v.requireType(a, "actor", "TimebackUser")
	v.requireIRI(a, "actor", "id", true)
	if email, m := v.requireText(a, "actor", "email", true); m >= 0 && !IsEmail(email) {
		v.errorf(m, "actor.email %q is not an e-mail address", clip(email))
	}
	v.entityBasics(a)
}

// entityBasics checks the optional Entity members of a Timeback entity.
func (v *validator) entityBasics(obj int32) {
	base := classes["Entity"]
	for _, name := range []string{"name", "description", "dateCreated", "dateModified", "otherIdentifiers",
		"extensions"} {
		if m := v.doc.get(obj, name); m >= 0 {
			v.value(m, base.props[name])
		}
	}
}

func (v *validator) timebackContext(o int32) {
	if !v.requireObject(o, "object", "TimebackActivityContext") {
		return
	}
	v.members(o, "TimebackActivityContext", timebackContextMembers)
	v.requireType(o, "object", "TimebackActivityContext")
	v.requireIRI(o, "object", "id", true)
	if s, m := v.requireText(o, "object", "subject", true); m >= 0 && !contains(TimebackSubjects, s) {
		v.errorf(m, "object.subject %q is not a Timeback subject (%s)", clip(s), strings.Join(TimebackSubjects, ", "))
	}
	v.entityBasics(o)

	app := v.doc.get(o, "app")
	switch {
	case app < 0:
		v.errorAt(v.memberPointer(o, "app"), "object.app is missing; a TimebackActivityContext names its app")
	case v.doc.kind(app) != jsonObject:
		v.errorf(app, "object.app is %s; expected an object with a name", v.doc.kind(app))
	default:
		v.members(app, "object.app", timebackAppMembers)
		v.requireText(app, "object.app", "name", true)
		v.requireIRI(app, "object.app", "id", false)
	}
	for _, name := range []string{"course", "activity"} {
		n := v.doc.get(o, name)
		if n < 0 {
			continue
		}
		what := "object." + name
		if v.doc.kind(n) != jsonObject {
			v.errorf(n, "%s is %s; expected an object with a name", what, v.doc.kind(n))
			continue
		}
		v.members(n, what, timebackNamedMembers)
		v.requireText(n, what, "name", true)
		v.requireIRI(n, what, "id", false)
	}
}

func (v *validator) timebackGeneratedObject(g int32, c *class) {
	want := "TimebackActivityMetricsCollection"
	if c.name == "TimeSpentEvent" {
		want = "TimebackTimeSpentMetricsCollection"
	}
	if !v.requireObject(g, "generated", want) {
		return
	}
	v.members(g, want, timebackGenerated)
	v.requireIRI(g, "generated", "id", true)
	if t := v.doc.get(g, "type"); t >= 0 && !v.doc.textEquals(t, want) {
		v.errorf(t, "generated.type %s does not match %s; an %s generates a %s", v.snippet(t),
			c.name, c.name, want)
	} else if t < 0 {
		v.errorAt(v.memberPointer(g, "type"), "generated.type is missing; expected %q", want)
	}
	ext := v.doc.get(g, "extensions")
	if ext >= 0 && v.doc.kind(ext) != jsonObject {
		v.errorf(ext, "generated.extensions is %s; expected an object", v.doc.kind(ext))
		ext = -1
	}
	items := v.doc.get(g, "items")
	switch {
	case items < 0:
		v.errorAt(v.memberPointer(g, "items"), "generated.items is missing; a %s lists its metrics", want)
		return
	case v.doc.kind(items) != jsonArray:
		v.errorf(items, "generated.items is %s; expected an array of metrics", v.doc.kind(items))
		return
	}
	if c.name == "TimeSpentEvent" {
		v.timeItems(items)
	} else {
		v.completionItems(items, ext)
	}
}

// metricValue checks that item.value is a number >= 0 and returns it.
func (v *validator) metricValue(item int32, metric string) (float64, int32, bool) {
	m := v.doc.get(item, "value")
	if m < 0 {
		v.errorAt(v.memberPointer(item, "value"), "value of %s is missing; each metric has a number value", metric)
		return 0, -1, false
	}
	if v.doc.kind(m) != jsonNumber {
		v.errorf(m, "%s value %s is %s; expected a number", metric, v.snippet(m), v.doc.kind(m))
		return 0, m, false
	}
	f := v.doc.float(m)
	if f < 0 {
		v.errorf(m, "%s value %s is negative; metric values are numbers >= 0", metric, v.doc.raw(m))
		return f, m, false
	}
	return f, m, true
}

func (v *validator) completionItems(items, ext int32) {
	type seenMetric struct {
		node  int32 // the item
		value float64
		ok    bool
		vnode int32
	}
	seen := map[string]seenMetric{}
	for it := v.doc.nodes[items].first; it >= 0; it = v.doc.nodes[it].next {
		t, name, ok := v.itemType(it, "metric", "a completion metric", completionItemMembers, CompletionMetrics)
		if !ok {
			continue
		}
		if name == "pctCompleteApp" {
			v.errorf(t, "pctCompleteApp is not an item; send it as generated.extensions.pctCompleteApp")
			continue
		}
		if !contains(CompletionMetrics, name) {
			v.errorf(t, "metric type %q is not a completion metric (%s)", clip(name),
				strings.Join(CompletionMetrics, ", "))
			continue
		}
		if prev, dup := seen[name]; dup {
			v.errorf(t, "metric type %q repeats %s; each metric type may appear once", name,
				v.doc.pointer(prev.node))
			continue
		}
		f, vn, ok := v.metricValue(it, name)
		seen[name] = seenMetric{node: it, value: f, ok: ok, vnode: vn}
	}
	if _, ok := seen["xpEarned"]; !ok {
		v.errorf(items, "xpEarned is missing; an ActivityEvent/Completed requires an xpEarned metric")
	}
	total, hasTotal := seen["totalQuestions"]
	correct, hasCorrect := seen["correctQuestions"]
	switch {
	case hasTotal && !hasCorrect:
		v.errorf(total.node, "totalQuestions %s has no correctQuestions; send both or neither",
			v.numberText(total.vnode))
	case hasCorrect && !hasTotal:
		v.errorf(correct.node, "correctQuestions %s has no totalQuestions; send both or neither",
			v.numberText(correct.vnode))
	case hasTotal && correct.ok && total.ok && correct.value > total.value:
		v.errorf(correct.vnode, "correctQuestions %s exceeds totalQuestions %s",
			v.doc.raw(correct.vnode), v.doc.raw(total.vnode))
	}
	if ext < 0 {
		return
	}
	if p := v.doc.get(ext, "pctCompleteApp"); p >= 0 {
		switch {
		case v.doc.kind(p) != jsonNumber:
			v.errorf(p, "pctCompleteApp is %s (%s); expected a number from 0 to 100", v.doc.kind(p),
				v.snippet(p))
		case v.doc.float(p) < 0 || v.doc.float(p) > 100:
			v.errorf(p, "pctCompleteApp %s is outside 0-100", v.doc.raw(p))
		}
	}
}

// itemType checks that item it of generated.items is an object with only
// the members allowed and a string type, and returns the type's node and
// text, a view of the input. Kind, such as "metric", and article, such as
// "a completion metric", name the item in messages, and types lists the
// valid types for the message of a missing type. It returns ok false after reporting a problem
// that leaves no type to check.
func (v *validator) itemType(it int32, kind, article string, allowed, types []string) (int32, string, bool) {
	if v.doc.kind(it) != jsonObject {
		v.errorf(it, "%s is %s; expected an object with type and value", kind, v.doc.kind(it))
		return -1, "", false
	}
	v.members(it, article, allowed)
	t := v.doc.get(it, "type")
	if t < 0 || v.doc.kind(t) != jsonString {
		v.errorAt(v.memberPointer(it, "type"), "%s type is missing or not a string; expected one of %s",
			kind, strings.Join(types, ", "))
		return -1, "", false
	}
	return t, v.doc.view(t), true
}

func (v *validator) numberText(m int32) string {
	if m < 0 {
		return "(no value)"
	}
	return v.snippet(m)
}

func (v *validator) timeItems(items int32) {
	if v.doc.nodes[items].count == 0 {
		v.errorf(items, "generated.items is empty; a TimeSpentEvent carries at least one time item")
	}
	seen := map[string]int32{}
	for it := v.doc.nodes[items].first; it >= 0; it = v.doc.nodes[it].next {
		t, name, ok := v.itemType(it, "time item", "a time item", timeItemMembers, TimeCategories)
		if !ok {
			continue
		}
		if !contains(TimeCategories, name) {
			v.errorf(t, "time category %q is not one of %s", clip(name), strings.Join(TimeCategories, ", "))
			continue
		}
		sub := ""
		if s := v.doc.get(it, "subType"); s >= 0 {
			if v.doc.kind(s) != jsonString {
				v.errorf(s, "subType is %s; expected a string", v.doc.kind(s))
			} else {
				sub = v.doc.view(s)
			}
		}
		key := name + "\x00" + sub
		if prev, dup := seen[key]; dup {
			what := strconv.Quote(name)
			if sub != "" {
				what += " with subType " + strconv.Quote(clip(sub))
			}
			v.errorf(t, "time category %s repeats %s; each time category and subType may appear once",
				what, v.doc.pointer(prev))
			continue
		}
		seen[key] = it
		v.timeItem(it, name)
	}
}

func (v *validator) timeItem(it int32, name string) {
	f, vn, ok := v.metricValue(it, name)
	if ok && f > MaxTimeSpentSeconds {
		v.errorf(vn, "%s exceeds the %d s maximum", v.doc.raw(vn), MaxTimeSpentSeconds)
		ok = false
	}
	var start, end time.Time
	if s := v.doc.get(it, "startDate"); s >= 0 {
		if c := v.dateTime(s, "startDate"); c.err == "" {
			start = c.t
		}
	}
	e := v.doc.get(it, "endDate")
	if e >= 0 {
		if c := v.dateTime(e, "endDate"); c.err == "" {
			end = c.t
		}
	}
	if start.IsZero() || end.IsZero() {
		return
	}
	if end.Before(start) {
		v.errorf(e, "endDate %s is before startDate %s", v.doc.text(e), v.doc.text(v.doc.get(it, "startDate")))
		return
	}
	if ok && ExceedsWindow(f, start, end) {
		v.errorf(vn, "%s exceeds its window of %s s from startDate to endDate", v.doc.raw(vn),
			strconv.FormatFloat(end.Sub(start).Seconds(), 'f', -1, 64))
	}
}

// ExceedsWindow reports whether a time item's value in seconds is longer
// than its window from start to end. Most decimal values, such as 1.949,
// have no exact float64, and neither has the window's length in seconds, so
// the comparison allows one microsecond: a value equal to its window in
// milliseconds never exceeds it.
func ExceedsWindow(seconds float64, start, end time.Time) bool {
	return seconds > end.Sub(start).Seconds()+1e-6
}

func (v *validator) timebackExtensions(x int32) {
	if v.doc.kind(x) != jsonObject {
		v.errorf(x, "extensions is %s; expected an object", v.doc.kind(x))
		return
	}
	for _, name := range []string{"runId", "courseId"} {
		m := v.doc.get(x, name)
		if m < 0 {
			continue
		}
		if v.doc.kind(m) != jsonString || strings.TrimSpace(v.doc.view(m)) == "" {
			v.errorf(m, "extensions.%s %s is not a non-empty string", name, v.snippet(m))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
