// Package testkit contains the test helpers that many packages share. It
// builds the two example events of the Timeback product page and envelopes
// around them. It has a log buffer and an event sink that concurrent
// handlers can write to, and it lists stored events over HTTP. It also
// gives each PostgreSQL test a schema of its own in the database that
// TIMEBACK_TEST_POSTGRES names.
//
//	body := testkit.Envelope(testkit.TimeSpent(storetest.EventID(1)), testkit.ActivityCompleted(testkit.CompletedID))
//
// The events are read from testdata/activity_completed.json and
// testdata/time_spent.json at the module root, so each example is written
// once. Only tests import this package.
package testkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// The ids of the product page's two example events, as they stand in the
// testdata files.
const (
	CompletedID = "urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594"
	TimeSpentID = "urn:uuid:a1b2c3d4-e5f6-7890-abcd-ef1234567890"
)

// Sensor and DataVersion are the envelope fields that Envelope writes.
const (
	Sensor      = "https://myapp.example.com/sensor"
	DataVersion = "http://purl.imsglobal.org/ctx/caliper/v1p2"
)

var (
	completed = sync.OnceValue(func() string { return readTestdata("activity_completed.json") })
	timeSpent = sync.OnceValue(func() string { return readTestdata("time_spent.json") })
)

// ActivityCompleted returns the product page's ActivityEvent (80 XP, 8 of
// 10 questions correct, student-123) with the event id id.
func ActivityCompleted(id string) string {
	return Replace(completed(), strconv.Quote(CompletedID), strconv.Quote(id))
}

// TimeSpent returns the product page's TimeSpentEvent (15 seconds active,
// 0 inactive, student-123) with the event id id.
func TimeSpent(id string) string {
	return Replace(timeSpent(), strconv.Quote(TimeSpentID), strconv.Quote(id))
}

// Replace returns event with every occurrence of old replaced by new. It
// panics when old does not occur, so that a test whose edit no longer
// matches the testdata fails instead of sending the unedited event.
func Replace(event, old, new string) string {
	if !strings.Contains(event, old) {
		panic(fmt.Sprintf("testkit: %q not found in the event", old))
	}
	return strings.ReplaceAll(event, old, new)
}

// Envelope returns a Caliper 1.2 envelope of Sensor that carries events.
func Envelope(events ...string) string {
	return EnvelopeOf(Sensor, DataVersion, events...)
}

// EnvelopeOf returns an envelope with the given sensor and dataVersion
// that carries events.
func EnvelopeOf(sensor, dataVersion string, events ...string) string {
	return fmt.Sprintf(`{"sensor": %q, "sendTime": "2026-01-27T10:03:01.000Z", "dataVersion": %q, "data": [%s]}`,
		sensor, dataVersion, strings.Join(events, ",\n"))
}

// LogBuffer is a log destination that concurrent handlers can write to
// while a test reads it. Its zero value is empty and ready to use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// readTestdata returns the file name of the module's testdata folder
// without its final newline, so that an event reads the same inside an
// envelope and as the store returns it. It panics when the file cannot be
// read, because the folder is part of the repository.
func readTestdata(name string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testkit: cannot locate the testkit source file")
	}
	path := filepath.Join(filepath.Dir(file), "..", "..", "testdata", name)
	b, err := os.ReadFile(path)
	if err != nil {
		panic(fmt.Sprintf("testkit: %v", err))
	}
	return strings.TrimRight(string(b), "\n")
}
