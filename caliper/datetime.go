package caliper

import (
	"time"
)

// dateTimeCheck is the result of checking a Caliper DateTime string.
type dateTimeCheck struct {
	t time.Time
	// deviation, when set, names how a parseable value departs from the
	// Caliper form YYYY-MM-DDTHH:mm:ss.SSSZ; the Timeback endpoint accepts it.
	deviation string
	// err, when set, gives the reason the value is not an ISO 8601 date and time.
	err string
}

// checkDateTime parses s as an RFC 3339 (ISO 8601) date and time. The Caliper
// form is UTC with exactly three fractional digits; other fractions and
// numeric offsets are deviations, anything else is an error.
func checkDateTime(s string) dateTimeCheck {
	if len(s) < 20 {
		return dateTimeCheck{err: "is not an ISO 8601 date and time such as 2026-01-27T10:03:00.000Z"}
	}
	if s[10] != 'T' {
		if s[10] == ' ' || s[10] == 't' {
			return dateTimeCheck{err: "separates date and time with " + quoteByte(s[10]) +
				"; Caliper requires an upper-case T"}
		}
		return dateTimeCheck{err: "is not an ISO 8601 date and time such as 2026-01-27T10:03:00.000Z"}
	}
	if s[19] == ',' {
		// time.Parse accepts a decimal comma, which ISO 8601 allows but
		// RFC 3339 and the Caliper form do not.
		return dateTimeCheck{err: "separates the fraction of a second with a comma; " +
			"Caliper writes milliseconds after a period, such as 10:03:00.000Z"}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if n := len(s); n >= 5 && (s[n-5] == '+' || s[n-5] == '-') && isDigit(s[n-1]) {
			return dateTimeCheck{err: "has the offset " + s[n-5:] + " without a colon; " +
				"ISO 8601 in Caliper writes Z or an offset such as +00:00"}
		}
		return dateTimeCheck{err: "is not an ISO 8601 date and time such as 2026-01-27T10:03:00.000Z"}
	}
	c := dateTimeCheck{t: t.UTC()}
	frac := 0
	i := 19
	if s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			frac++
		}
	}
	switch {
	case s[i] != 'Z':
		c.deviation = "has the offset " + s[i:] + "; Caliper requires UTC written as Z"
	case frac == 0:
		c.deviation = "has no milliseconds; Caliper requires the form YYYY-MM-DDTHH:mm:ss.SSSZ"
	case frac != 3:
		c.deviation = "has " + itoa(frac) + " fractional digits; Caliper requires milliseconds (three digits)"
		if frac == 1 {
			c.deviation = "has 1 fractional digit; Caliper requires milliseconds (three digits)"
		}
	}
	return c
}

func quoteByte(c byte) string {
	if c == ' ' {
		return "a space"
	}
	return "'" + string(c) + "'"
}

// checkDuration reports whether s is an ISO 8601 duration such as PT30M54S,
// P1DT2H or P3W. That is a P, then components with non-negative numbers in
// the order Y M W D, and after a T in the order H M S. At least one
// component is needed, and only the last one may have a decimal fraction.
func checkDuration(s string) bool {
	if len(s) < 2 || s[0] != 'P' {
		return false
	}
	const dateUnits, timeUnits = "YMWD", "HMS"
	units, next := dateUnits, 0
	inTime, any, fraction := false, false, false
	for i := 1; i < len(s); {
		if s[i] == 'T' {
			if inTime {
				return false
			}
			inTime, units, next = true, timeUnits, 0
			i++
			if i == len(s) {
				return false
			}
			continue
		}
		if fraction {
			return false // a fraction is allowed on the smallest component only
		}
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			i++
			fracStart := i
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i == fracStart {
				return false
			}
			fraction = true
		}
		if i == len(s) {
			return false
		}
		k := indexByteFrom(units, s[i], next)
		if k < 0 {
			return false
		}
		next = k + 1
		any = true
		i++
	}
	return any
}

func indexByteFrom(s string, c byte, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}
