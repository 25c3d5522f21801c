package caliper

import (
	"fmt"
	"strings"
)

// Severity tells whether a Problem makes a document invalid.
type Severity uint8

const (
	// SeverityError marks a violation of Caliper 1.2 or the TimebackProfile.
	SeverityError Severity = iota
	// SeverityWarning marks a format deviation that the Timeback endpoint
	// tolerates, such as a "+00:00" offset. Strict validation treats it as an error.
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText encodes the severity as "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Problem is one finding of the validator.
type Problem struct {
	// Pointer is the RFC 6901 JSON Pointer of the offending value, such as
	// "/generated/items/1/value". The empty string is the whole document.
	Pointer  string   `json:"path"`
	Severity Severity `json:"severity"`
	// Message names the value and the rule it breaks.
	Message string `json:"message"`
}

// String returns the problem as "pointer: message", with "warning: " before
// the message of a warning. A problem of the whole document has no pointer
// part.
func (p Problem) String() string {
	msg := p.Message
	if p.Severity == SeverityWarning {
		msg = "warning: " + msg
	}
	if p.Pointer == "" {
		return msg
	}
	return p.Pointer + ": " + msg
}

// Problems is the list of findings for one document, in document order.
type Problems []Problem

// Failing returns the problems that make the document invalid: every error,
// and with strict set every warning too.
func (ps Problems) Failing(strict bool) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == SeverityError || strict {
			out = append(out, p)
		}
	}
	return out
}

// Valid reports whether no problem makes the document invalid.
func (ps Problems) Valid(strict bool) bool {
	for _, p := range ps {
		if p.Severity == SeverityError || strict {
			return false
		}
	}
	return true
}

// Warnings returns the problems of severity warning.
func (ps Problems) Warnings() Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == SeverityWarning {
			out = append(out, p)
		}
	}
	return out
}

// Error joins the problems into one message, so that a Problems value can be
// returned as an error.
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Prefix returns a copy of the problems with prefix put before every pointer,
// as when the problems of an event are reported inside its envelope ("/data/3").
func (ps Problems) Prefix(prefix string) Problems {
	out := make(Problems, len(ps))
	for i, p := range ps {
		p.Pointer = prefix + p.Pointer
		out[i] = p
	}
	return out
}

func errorf(pointer, format string, args ...any) Problem {
	return Problem{Pointer: pointer, Severity: SeverityError, Message: fmt.Sprintf(format, args...)}
}

func warningf(pointer, format string, args ...any) Problem {
	return Problem{Pointer: pointer, Severity: SeverityWarning, Message: fmt.Sprintf(format, args...)}
}
