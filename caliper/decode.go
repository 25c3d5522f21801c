package caliper

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// MaxDepth is the deepest nesting of arrays and objects the decoder accepts.
// Caliper documents nest a few levels; the limit keeps hostile input such as
// megabytes of "[" from exhausting the stack.
const MaxDepth = 512

// MaxDocumentBytes is the largest document the decoder accepts: its node
// table keeps byte offsets as int32.
const MaxDocumentBytes = math.MaxInt32

// jsonKind is the kind of one decoded JSON value.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonFalse
	jsonTrue
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// node is one JSON value in a document's flat node table. Children of an
// array or object are linked through first and next, so that decoding
// allocates only the table itself.
type node struct {
	kind jsonKind
	// escaped is set for a string, or a member key, that contains a
	// backslash escape and so differs from its raw bytes.
	escaped    bool
	keyEscaped bool
	// start and end delimit the raw value; for a string they include the quotes.
	start, end int32
	// keyStart and keyEnd delimit a member's key without its quotes. For an
	// array element keyStart is the element index and keyEnd is -1.
	keyStart, keyEnd int32
	parent           int32
	first, next      int32 // -1 when absent
	count            int32 // number of children
}

// document is decoded JSON: the input bytes and the table of its values,
// node 0 being the root.
type document struct {
	data  []byte
	nodes []node
}

// decoder scans JSON strictly: RFC 8259 syntax, valid UTF-8, no duplicate
// keys, no numbers outside the float64 range, no negative zero.
type decoder struct {
	data     []byte
	pos      int
	nodes    []node
	problems Problems
	fatal    bool
	keys     []string // scratch for duplicate detection in large objects
}

// decode parses data into a document. A syntax error is one fatal problem
// naming its line and column; value problems such as a duplicate key are
// collected and decoding goes on.
func decode(data []byte) (*document, Problems) {
	if len(data) > MaxDocumentBytes {
		return nil, Problems{errorf("", "document is %d bytes; the maximum is %d bytes (2 GiB - 1)",
			len(data), MaxDocumentBytes)}
	}
	d := decoder{data: data, nodes: newNodes(estimateNodes(len(data)))}
	switch {
	case len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF:
		d.problems = append(d.problems, errorf("",
			"document starts with a UTF-8 byte order mark (EF BB BF); JSON text must not begin with one"))
		return nil, d.problems
	case len(data) >= 2 && (data[0] == 0xFE && data[1] == 0xFF || data[0] == 0xFF && data[1] == 0xFE):
		d.problems = append(d.problems, errorf("",
			"document starts with a UTF-16 byte order mark; JSON text must be UTF-8"))
		return nil, d.problems
	}
	d.skipSpace()
	if d.pos == len(data) {
		d.problems = append(d.problems, errorf("", "empty document: expected a JSON value"))
		return nil, d.problems
	}
	d.value(-1, 0, -1, 0)
	if !d.fatal {
		d.skipSpace()
		if d.pos < len(data) {
			d.syntaxf(d.pos, "unexpected %s after the top-level value", d.describe(d.pos))
		}
	}
	if d.fatal {
		freeNodes(d.nodes)
		return nil, d.problems
	}
	return &document{data: data, nodes: d.nodes}, d.problems
}

// nodePool holds node tables for reuse, so that validating a stream of
// events does not allocate a table for each one.
var nodePool sync.Pool // of *[]node

// maxPooledNodes bounds the tables kept in nodePool, so that one large
// document does not pin its table.
const maxPooledNodes = 1 << 14

// newNodes returns an empty node table with room for n nodes.
func newNodes(n int) []node {
	if p, ok := nodePool.Get().(*[]node); ok {
		if cap(*p) >= n {
			return (*p)[:0]
		}
		nodePool.Put(p)
	}
	return make([]node, 0, n)
}

func freeNodes(nodes []node) {
	if cap(nodes) <= maxPooledNodes {
		nodes = nodes[:0]
		nodePool.Put(&nodes)
	}
}

// release returns the document's node table for reuse. Nothing may read
// the document afterwards.
func (doc *document) release() {
	if doc != nil {
		freeNodes(doc.nodes)
		doc.nodes = nil
	}
}

// estimateNodes guesses the node count of a document of n bytes, about one
// value per 12 bytes in Caliper JSON, so that the table rarely grows.
func estimateNodes(n int) int {
	if n > 1<<20 {
		return 1 << 16
	}
	return n/12 + 8
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		// Compact JSON has no space at all, so most calls return at the
		// first comparison.
		c := d.data[d.pos]
		if c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return
		}
		d.pos++
	}
}

// value parses one value at d.pos and appends its node, returning its index.
func (d *decoder) value(parent int32, depth int, keyStart, keyEnd int32) int32 {
	if d.pos >= len(d.data) {
		d.syntaxf(d.pos, "unexpected end of input, expected a value")
		return -1
	}
	idx := int32(len(d.nodes))
	d.nodes = append(d.nodes, node{start: int32(d.pos), parent: parent, first: -1, next: -1,
		keyStart: keyStart, keyEnd: keyEnd})
	c := d.data[d.pos]
	switch {
	case c == '{':
		d.nodes[idx].kind = jsonObject
		d.object(idx, depth+1)
	case c == '[':
		d.nodes[idx].kind = jsonArray
		d.array(idx, depth+1)
	case c == '"':
		d.nodes[idx].kind = jsonString
		esc, ok := d.str()
		if !ok {
			return -1
		}
		d.nodes[idx].escaped = esc
	case c == '-' || c >= '0' && c <= '9':
		d.nodes[idx].kind = jsonNumber
		d.number(idx)
	case c == 't':
		d.nodes[idx].kind = jsonTrue
		d.literal("true")
	case c == 'f':
		d.nodes[idx].kind = jsonFalse
		d.literal("false")
	case c == 'n':
		d.nodes[idx].kind = jsonNull
		d.literal("null")
	default:
		d.badValue()
		return -1
	}
	if d.fatal {
		return -1
	}
	d.nodes[idx].end = int32(d.pos)
	return idx
}

func (d *decoder) badValue() {
	rest := d.data[d.pos:]
	for _, w := range []string{"NaN", "Infinity", "-Infinity", "+Infinity", "undefined"} {
		if strings.HasPrefix(string(rest[:min(len(rest), len(w))]), w) {
			d.syntaxf(d.pos, "%s is not a JSON value; JSON numbers are finite decimals", w)
			return
		}
	}
	if d.data[d.pos] == '\'' {
		d.syntaxf(d.pos, "single-quoted string; JSON strings use double quotes")
		return
	}
	d.syntaxf(d.pos, "unexpected %s, expected a value", d.describe(d.pos))
}

func (d *decoder) literal(word string) {
	end := d.pos + len(word)
	if end > len(d.data) || string(d.data[d.pos:end]) != word {
		d.syntaxf(d.pos, "unexpected %s, expected a JSON value", strconv.Quote(d.word(d.pos)))
		return
	}
	d.pos = end
	if d.pos < len(d.data) && isIdentByte(d.data[d.pos]) {
		d.syntaxf(d.pos, "unexpected %s after %s", d.describe(d.pos), word)
	}
}

// word returns the run of letters, digits and underscores at off, at most
// 20 bytes, to quote a bare word that is not a JSON literal.
func (d *decoder) word(off int) string {
	end := off
	for end < len(d.data) && end-off < 20 && isIdentByte(d.data[end]) {
		end++
	}
	return string(d.data[off:end])
}

func isIdentByte(c byte) bool { return isAlpha(c) || isDigit(c) || c == '_' }

func (d *decoder) object(idx int32, depth int) {
	if depth > MaxDepth {
		d.syntaxf(d.pos, "nesting exceeds the maximum depth of %d", MaxDepth)
		return
	}
	d.pos++ // '{'
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return
	}
	prev := int32(-1)
	for {
		d.skipSpace()
		if d.pos >= len(d.data) {
			d.syntaxf(d.pos, "unexpected end of input in object, expected a member name")
			return
		}
		if d.data[d.pos] != '"' {
			if d.data[d.pos] == '}' {
				d.syntaxf(d.pos, "trailing comma before '}'")
			} else {
				d.syntaxf(d.pos, "unexpected %s, expected a member name in double quotes", d.describe(d.pos))
			}
			return
		}
		keyStart := int32(d.pos + 1)
		keyEsc, ok := d.str()
		if !ok {
			return
		}
		keyEnd := int32(d.pos - 1)
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			d.syntaxf(d.pos, "unexpected %s after member name, expected ':'", d.describe(d.pos))
			return
		}
		d.pos++
		d.skipSpace()
		child := d.value(idx, depth, keyStart, keyEnd)
		if d.fatal {
			return
		}
		d.nodes[child].keyEscaped = keyEsc
		d.link(idx, prev, child)
		prev = child
		d.skipSpace()
		if d.pos >= len(d.data) {
			d.syntaxf(d.pos, "unexpected end of input in object, expected ',' or '}'")
			return
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			d.checkDuplicates(idx)
			return
		default:
			d.syntaxf(d.pos, "unexpected %s after object member, expected ',' or '}'", d.describe(d.pos))
			return
		}
	}
}

func (d *decoder) array(idx int32, depth int) {
	if depth > MaxDepth {
		d.syntaxf(d.pos, "nesting exceeds the maximum depth of %d", MaxDepth)
		return
	}
	d.pos++ // '['
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return
	}
	prev := int32(-1)
	for i := int32(0); ; i++ {
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.syntaxf(d.pos, "trailing comma before ']'")
			return
		}
		child := d.value(idx, depth, i, -1)
		if d.fatal {
			return
		}
		d.link(idx, prev, child)
		prev = child
		d.skipSpace()
		if d.pos >= len(d.data) {
			d.syntaxf(d.pos, "unexpected end of input in array, expected ',' or ']'")
			return
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return
		default:
			d.syntaxf(d.pos, "unexpected %s after array element, expected ',' or ']'", d.describe(d.pos))
			return
		}
	}
}

func (d *decoder) link(parent, prev, child int32) {
	if prev < 0 {
		d.nodes[parent].first = child
	} else {
		d.nodes[prev].next = child
	}
	d.nodes[parent].count++
}

// checkDuplicates reports every member whose key repeats an earlier one, at
// the later member's pointer.
func (d *decoder) checkDuplicates(obj int32) {
	n := d.nodes[obj].count
	if n < 2 {
		return
	}
	if n <= 24 {
		for b := d.nodes[d.nodes[obj].first].next; b >= 0; b = d.nodes[b].next {
			for a := d.nodes[obj].first; a != b; a = d.nodes[a].next {
				if d.sameKey(a, b) {
					d.duplicate(b)
					break
				}
			}
		}
		return
	}
	seen := make(map[string]struct{}, n)
	for c := d.nodes[obj].first; c >= 0; c = d.nodes[c].next {
		k := d.key(c)
		if _, dup := seen[k]; dup {
			d.duplicate(c)
		}
		seen[k] = struct{}{}
	}
}

func (d *decoder) duplicate(member int32) {
	doc := document{data: d.data, nodes: d.nodes}
	d.problems = append(d.problems, errorf(doc.pointer(member),
		"duplicate key %s; each member name may appear once in an object", strconv.Quote(d.key(member))))
}

func (d *decoder) sameKey(a, b int32) bool {
	na, nb := &d.nodes[a], &d.nodes[b]
	if !na.keyEscaped && !nb.keyEscaped {
		return na.keyEnd-na.keyStart == nb.keyEnd-nb.keyStart &&
			string(d.data[na.keyStart:na.keyEnd]) == string(d.data[nb.keyStart:nb.keyEnd])
	}
	return d.key(a) == d.key(b)
}

func (d *decoder) key(member int32) string {
	n := &d.nodes[member]
	raw := d.data[n.keyStart:n.keyEnd]
	if !n.keyEscaped {
		return string(raw)
	}
	return unescape(raw)
}

// str scans a string starting at its opening quote and leaves d.pos after
// the closing quote. It reports whether the string holds escapes.
func (d *decoder) str() (escaped, ok bool) {
	start := d.pos
	d.pos++
	for d.pos < len(d.data) {
		// Skip the run of plain ASCII characters, which is most of a
		// string, without the checks below.
		i := d.pos
		for i < len(d.data) && plainASCII[d.data[i]] {
			i++
		}
		d.pos = i
		if i == len(d.data) {
			break
		}
		c := d.data[i]
		switch {
		case c == '"':
			d.pos++
			return escaped, true
		case c == '\\':
			escaped = true
			if !d.escape() {
				return escaped, false
			}
		case c < 0x20:
			d.syntaxf(d.pos, "control character %#02x in string; escape it as \\u%04x", c, c)
			return escaped, false
		case c < utf8.RuneSelf:
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				d.syntaxf(d.pos, "invalid UTF-8 byte %#02x in string", c)
				return escaped, false
			}
			d.pos += size
		}
	}
	d.syntaxf(start, "string is not terminated")
	return escaped, false
}

// plainASCII marks the bytes that stand for themselves in a JSON string:
// ASCII characters other than control characters, quote and backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (d *decoder) escape() bool {
	if d.pos+1 >= len(d.data) {
		d.syntaxf(d.pos, "string is not terminated")
		return false
	}
	switch d.data[d.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		d.pos += 2
		return true
	case 'u':
		r, ok := hex4(d.data, d.pos+2)
		if !ok {
			d.syntaxf(d.pos, "invalid \\u escape; expected four hexadecimal digits")
			return false
		}
		if utf16.IsSurrogate(r) {
			r2, ok2 := rune(0), false
			if d.pos+11 < len(d.data)+0 && d.data[d.pos+6] == '\\' && d.data[d.pos+7] == 'u' {
				r2, ok2 = hex4(d.data, d.pos+8)
			}
			if r >= 0xDC00 || !ok2 || utf16.DecodeRune(r, r2) == utf8.RuneError {
				d.syntaxf(d.pos, "unpaired UTF-16 surrogate \\u%04x in string", r)
				return false
			}
			d.pos += 12
			return true
		}
		d.pos += 6
		return true
	}
	d.syntaxf(d.pos, "invalid escape \\%c in string", d.data[d.pos+1])
	return false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number scans a number, keeping its literal; it reports one that overflows
// float64 or is negative zero as a value problem.
func (d *decoder) number(idx int32) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
		if d.pos < len(d.data) && isDigit(d.data[d.pos]) {
			d.syntaxf(start, "number has a leading zero")
			return
		}
	case d.pos < len(d.data) && isDigit(d.data[d.pos]):
		d.digits()
	default:
		if strings.HasPrefix(string(d.data[d.pos:min(len(d.data), d.pos+8)]), "Infinity") {
			d.syntaxf(start, "-Infinity is not a JSON value; JSON numbers are finite decimals")
			return
		}
		d.syntaxf(d.pos, "unexpected %s in number, expected a digit", d.describe(d.pos))
		return
	}
	simple := true
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		simple = false
		d.pos++
		if d.pos >= len(d.data) || !isDigit(d.data[d.pos]) {
			d.syntaxf(d.pos, "unexpected %s after decimal point, expected a digit", d.describe(d.pos))
			return
		}
		d.digits()
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		simple = false
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if d.pos >= len(d.data) || !isDigit(d.data[d.pos]) {
			d.syntaxf(d.pos, "unexpected %s in exponent, expected a digit", d.describe(d.pos))
			return
		}
		d.digits()
	}
	if d.pos < len(d.data) && isIdentByte(d.data[d.pos]) {
		d.syntaxf(d.pos, "unexpected %s after number", d.describe(d.pos))
		return
	}
	lit := d.data[start:d.pos]
	if simple && len(lit) < 16 && lit[0] != '-' {
		return // a short unsigned integer is always in range and never -0
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	doc := document{data: d.data, nodes: d.nodes}
	switch {
	case err != nil || math.IsInf(f, 0):
		d.problems = append(d.problems, errorf(doc.pointer(idx),
			"number %s is outside the range of a 64-bit floating-point number", lit))
	case f == 0 && lit[0] == '-' && strings.ContainsAny(string(mantissa(lit)), "123456789"):
		d.problems = append(d.problems, errorf(doc.pointer(idx),
			"number %s is too small for a 64-bit floating-point number and rounds to negative zero", lit))
	case f == 0 && lit[0] == '-':
		d.problems = append(d.problems, errorf(doc.pointer(idx),
			"number %s is negative zero; write 0", lit))
	}
}

// mantissa returns a number literal without its exponent.
func mantissa(lit []byte) []byte {
	if i := strings.IndexAny(string(lit), "eE"); i >= 0 {
		return lit[:i]
	}
	return lit
}

func (d *decoder) digits() {
	for d.pos < len(d.data) && isDigit(d.data[d.pos]) {
		d.pos++
	}
}

// syntaxf records a fatal syntax error at byte offset off with its line and
// column (both from 1, the column counted in characters).
func (d *decoder) syntaxf(off int, format string, args ...any) {
	if d.fatal {
		return
	}
	d.fatal = true
	line, col := lineColumn(d.data, off)
	msg := "invalid JSON at line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + ": "
	d.problems = append(d.problems, errorf("", msg+format, args...))
}

func lineColumn(data []byte, off int) (line, col int) {
	off = min(off, len(data))
	line, lineStart := 1, 0
	for i := 0; i < off; i++ {
		if data[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return line, utf8.RuneCount(data[lineStart:off]) + 1
}

// describe names the input at off for a syntax message.
func (d *decoder) describe(off int) string {
	if off >= len(d.data) {
		return "end of input"
	}
	c := d.data[off]
	if c >= 0x20 && c < 0x7f {
		return "character " + strconv.QuoteRune(rune(c))
	}
	r, size := utf8.DecodeRune(d.data[off:])
	if r == utf8.RuneError && size <= 1 {
		return "byte " + "0x" + strconv.FormatUint(uint64(c), 16) + " (not UTF-8)"
	}
	return "character " + strconv.QuoteRune(r)
}

// unescape decodes the inside of a JSON string that the decoder accepted.
func unescape(raw []byte) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(raw, i+8)
				b.WriteRune(utf16.DecodeRune(r, r2))
				i += 12
				continue
			}
			b.WriteRune(r)
			i += 6
			continue
		default: // '"', '\\', '/'
			b.WriteByte(raw[i+1])
		}
		i += 2
	}
	return b.String()
}

// The accessors below read a decoded document.

func (doc *document) kind(i int32) jsonKind { return doc.nodes[i].kind }

func (doc *document) raw(i int32) []byte { return doc.data[doc.nodes[i].start:doc.nodes[i].end] }

// text returns the decoded value of string node i.
func (doc *document) text(i int32) string {
	n := &doc.nodes[i]
	inner := doc.data[n.start+1 : n.end-1]
	if !n.escaped {
		return string(inner)
	}
	return unescape(inner)
}

// view returns the decoded value of string node i without copying when it
// has no escapes. Like keyView, the string aliases the input, so it may
// serve checks and messages but must not reach a Report.
func (doc *document) view(i int32) string {
	n := &doc.nodes[i]
	if n.escaped || n.end-n.start <= 2 {
		return doc.text(i)
	}
	return unsafe.String(&doc.data[n.start+1], int(n.end-n.start-2))
}

// textEquals reports whether string node i equals s without allocating for
// strings without escapes.
func (doc *document) textEquals(i int32, s string) bool {
	n := &doc.nodes[i]
	if n.kind != jsonString {
		return false
	}
	if !n.escaped {
		return string(doc.data[n.start+1:n.end-1]) == s
	}
	return unescape(doc.data[n.start+1:n.end-1]) == s
}

// keyIs reports whether the key of member i, unescaped, equals s.
func (doc *document) keyIs(i int32, s string) bool {
	n := &doc.nodes[i]
	if !n.keyEscaped {
		return string(doc.data[n.keyStart:n.keyEnd]) == s
	}
	return unescape(doc.data[n.keyStart:n.keyEnd]) == s
}

func (doc *document) key(i int32) string {
	n := &doc.nodes[i]
	if !n.keyEscaped {
		return string(doc.data[n.keyStart:n.keyEnd])
	}
	return unescape(doc.data[n.keyStart:n.keyEnd])
}

// keyView returns the key of member i without copying when it has no
// escapes. The string aliases the input, so it must not outlive validation
// or reach a Report; messages copy it through fmt.
func (doc *document) keyView(i int32) string {
	n := &doc.nodes[i]
	if n.keyEscaped || n.keyEnd <= n.keyStart {
		return doc.key(i)
	}
	return unsafe.String(&doc.data[n.keyStart], int(n.keyEnd-n.keyStart))
}

// get returns the member of object obj named name, or -1.
func (doc *document) get(obj int32, name string) int32 {
	if obj < 0 || doc.nodes[obj].kind != jsonObject {
		return -1
	}
	for c := doc.nodes[obj].first; c >= 0; c = doc.nodes[c].next {
		n := &doc.nodes[c]
		if n.keyEscaped {
			if doc.keyIs(c, name) {
				return c
			}
			continue
		}
		// Compare the lengths first: most keys differ from name in length.
		if int(n.keyEnd-n.keyStart) == len(name) && string(doc.data[n.keyStart:n.keyEnd]) == name {
			return c
		}
	}
	return -1
}

// getString returns the text of member name when it is a string.
func (doc *document) getString(obj int32, name string) (string, bool) {
	c := doc.get(obj, name)
	if c < 0 || doc.nodes[c].kind != jsonString {
		return "", false
	}
	return doc.text(c), true
}

// float returns the value of number node i.
func (doc *document) float(i int32) float64 {
	f, _ := strconv.ParseFloat(string(doc.raw(i)), 64)
	return f
}

// pointer returns the RFC 6901 JSON Pointer of node i.
func (doc *document) pointer(i int32) string {
	if i < 0 || doc.nodes[i].parent < 0 {
		return ""
	}
	var segs [16]string
	parts := segs[:0]
	for ; i >= 0 && doc.nodes[i].parent >= 0; i = doc.nodes[i].parent {
		n := &doc.nodes[i]
		if n.keyEnd < 0 {
			parts = append(parts, strconv.Itoa(int(n.keyStart)))
		} else {
			parts = append(parts, escapePointer(doc.key(i)))
		}
	}
	var b strings.Builder
	for j := len(parts) - 1; j >= 0; j-- {
		b.WriteByte('/')
		b.WriteString(parts[j])
	}
	return b.String()
}

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func (k jsonKind) String() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonFalse, jsonTrue:
		return "a boolean"
	case jsonNumber:
		return "a number"
	case jsonString:
		return "a string"
	case jsonArray:
		return "an array"
	}
	return "an object"
}
