package caliper

import (
	"strings"
	"time"
)

// IsIRI reports whether s is an absolute IRI: a scheme of a letter followed
// by letters, digits, "+", "-" or ".", then ":" and at least one character,
// with no white space, control character or any of <>"{}|\^`.
func IsIRI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || colon == len(s)-1 {
		return false
	}
	if !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < colon; i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	for i := colon + 1; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f {
			return false
		}
		switch c {
		case '<', '>', '"', '{', '}', '|', '\\', '^', '`':
			return false
		}
	}
	return true
}

// IsUUIDURN reports whether s is "urn:uuid:" followed by a UUID in its
// 8-4-4-4-12 hexadecimal form. Any version is accepted; lower or upper case.
func IsUUIDURN(s string) bool {
	const prefix = "urn:uuid:"
	if len(s) != len(prefix)+36 || !strings.EqualFold(s[:len(prefix)], prefix) {
		return false
	}
	return IsUUID(s[len(prefix):])
}

// IsUUID reports whether s is a UUID in its 8-4-4-4-12 hexadecimal form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// IsEmail reports whether s is a plain e-mail address, local@domain, with a
// dot-atom local part and a domain of at least two DNS labels. Display names,
// quoted local parts and address literals are not accepted.
func IsEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > 64 || len(s)-at-1 < 3 || len(s) > 254 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		if !isAtext(local[i]) && local[i] != '.' {
			return false
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlpha(l[i]) && !isDigit(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return true
}

// DateTimeLayout is the form Caliper 1.2 asks for: ISO 8601 in UTC with
// milliseconds, such as "2026-01-27T10:03:00.000Z".
const DateTimeLayout = "2006-01-02T15:04:05.000Z"

// FormatDateTime formats t in UTC with milliseconds, truncating finer
// precision.
func FormatDateTime(t time.Time) string {
	return string(AppendDateTime(nil, t))
}

// AppendDateTime appends the FormatDateTime form of t to b.
func AppendDateTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Truncate(time.Millisecond).AppendFormat(b, DateTimeLayout)
	}
	// Writing the digits directly is faster than AppendFormat, which
	// interprets the layout on every call.
	hour, minute, second := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, second, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/int(time.Millisecond), 3)
	return append(b, 'Z')
}

// appendDigits appends the n last decimal digits of v, v >= 0 and n <= 4.
func appendDigits(b []byte, v, n int) []byte {
	var digits [4]byte
	for i := n - 1; i >= 0; i-- {
		digits[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, digits[:n]...)
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// isAtext reports whether c may appear in a dot-atom of RFC 5322.
func isAtext(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
