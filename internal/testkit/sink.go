package testkit

import (
	"context"
	"sync"

	"github.com/timeback/timeback-go"
)

// RecordSink is an event sink for tests that keeps every event it takes.
// While an error is set with SetErr, Send returns that error and keeps
// nothing. It is safe for concurrent use; its zero value is ready.
//
// Because this file imports the root package, the root package's own
// internal tests cannot import testkit.
type RecordSink struct {
	mu     sync.Mutex
	events []timeback.Event
	err    error
}

// Send keeps events, after checking that each encodes to JSON, unless an
// error is set.
func (s *RecordSink) Send(_ context.Context, events ...timeback.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	for _, e := range events {
		if _, err := e.MarshalJSON(); err != nil {
			return err
		}
	}
	s.events = append(s.events, events...)
	return nil
}

// SetErr sets the error that Send returns; nil makes Send succeed again.
func (s *RecordSink) SetErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// Events returns a copy of the events taken so far, in order.
func (s *RecordSink) Events() []timeback.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]timeback.Event(nil), s.events...)
}

// EventsOf returns the events of type T, such as *timeback.TimeSpent, that
// s has taken, in order.
func EventsOf[T timeback.Event](s *RecordSink) []T {
	var out []T
	for _, e := range s.Events() {
		if v, ok := e.(T); ok {
			out = append(out, v)
		}
	}
	return out
}
