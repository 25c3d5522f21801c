package facts

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// scanner reads the few fields of an event that facts need straight from
// its JSON, skipping everything else without building values for it. It
// expects JSON that the validator has accepted, but it checks the syntax of
// every byte it reads and returns an error for anything else.
type scanner struct {
	b []byte
	i int
}

var errSyntax = errors.New("invalid JSON")

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, 0 at the end.
func (s *scanner) peek() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return fmt.Errorf("%w: expected %q at offset %d", errSyntax, c, s.i)
	}
	s.i++
	return nil
}

// object calls field for each key of the object that starts at the next
// byte; field reads or skips the value.
func (s *scanner) object(field func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return fmt.Errorf("%w: expected , or } at offset %d", errSyntax, s.i)
		}
	}
}

// array calls elem for each element of the array that starts at the next
// byte.
func (s *scanner) array(elem func(i int) error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		if err := elem(n); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return fmt.Errorf("%w: expected , or ] at offset %d", errSyntax, s.i)
		}
	}
}

// str reads a string. Strings without escapes and in valid UTF-8, nearly
// all of them, are copied as they are. Any other string is decoded by
// encoding/json, which also replaces invalid UTF-8 with U+FFFD.
func (s *scanner) str() (string, error) {
	if s.peek() != '"' {
		return "", fmt.Errorf("%w: expected a string at offset %d", errSyntax, s.i)
	}
	start := s.i
	escaped := false
	for s.i++; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '\\':
			escaped = true
			s.i++
		case c == '"':
			s.i++
			if !escaped && utf8.Valid(s.b[start+1:s.i-1]) {
				return string(s.b[start+1 : s.i-1]), nil
			}
			var v string
			if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
				return "", fmt.Errorf("%w: %v", errSyntax, err)
			}
			return v, nil
		case c < 0x20:
			return "", fmt.Errorf("%w: control character in a string at offset %d", errSyntax, s.i)
		}
	}
	return "", fmt.Errorf("%w: unterminated string", errSyntax)
}

// number reads a number.
func (s *scanner) number() (float64, error) {
	s.space()
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	tok := s.b[start:s.i]
	if !json.Valid(tok) {
		return 0, fmt.Errorf("%w: expected a number at offset %d", errSyntax, start)
	}
	return strconv.ParseFloat(string(tok), 64)
}

// skip reads past one value of any kind.
func (s *scanner) skip() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(func(string) error { return s.skip() })
	case c == '[':
		return s.array(func(int) error { return s.skip() })
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		_, err := s.number()
		return err
	}
}

func (s *scanner) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return fmt.Errorf("%w: expected %s at offset %d", errSyntax, word, s.i)
	}
	s.i += len(word)
	return nil
}

// end checks that only white space follows the value read.
func (s *scanner) end() error {
	if s.peek() != 0 || s.i != len(s.b) {
		return fmt.Errorf("%w: data after the event at offset %d", errSyntax, s.i)
	}
	return nil
}
