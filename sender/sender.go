package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
	"github.com/timeback/timeback-go/sqlite"
)

// Sentinel errors of a Client.
var (
	// ErrQueueFull is returned by Send when the events would take the
	// queue past Config.MaxQueueEvents or Config.MaxQueueBytes. None of
	// the call's events is queued.
	ErrQueueFull = errors.New("sender: queue full")
	// ErrClosed is returned by Send after Close has started.
	ErrClosed = errors.New("sender: client closed")
	// ErrInvalidEvent is wrapped by the *EventError of an event that fails
	// validation.
	ErrInvalidEvent = errors.New("sender: invalid event")
	// ErrEventTooLarge is wrapped by the *EventError of an event that
	// cannot fit in an envelope of Config.MaxPayloadBytes.
	ErrEventTooLarge = errors.New("sender: event too large")
)

// EventError is the error of Send for an event that cannot be queued. It
// matches ErrInvalidEvent or ErrEventTooLarge with errors.Is.
type EventError struct {
	// Index is the event's position among the arguments of Send.
	Index int
	// ID is the event's id, empty when it has none.
	ID string
	// Problems are the validator's findings that make the event invalid.
	Problems caliper.Problems
	// Kind is ErrInvalidEvent or ErrEventTooLarge.
	Kind error
	// Err describes the problem when Problems is empty, such as an
	// encoding error.
	Err error
}

func (e *EventError) Error() string {
	msg := fmt.Sprintf("sender: event %d", e.Index)
	if e.ID != "" {
		msg += fmt.Sprintf(" (%s)", e.ID)
	}
	if e.Kind == ErrEventTooLarge {
		msg += " is too large: "
	} else {
		msg += " is invalid: "
	}
	if len(e.Problems) > 0 {
		return msg + e.Problems.Error()
	}
	return msg + e.Err.Error()
}

// Is reports whether target is the error's Kind.
func (e *EventError) Is(target error) bool { return target == e.Kind }

func (e *EventError) Unwrap() error { return e.Err }

// Delivery describes one envelope that the endpoint accepted.
type Delivery struct {
	EventIDs []string
	// JobID is the endpoint's job id for the envelope, empty when the
	// reply named none.
	JobID string
	// Status is the HTTP status of the reply, such as 200.
	Status int
	// Duplicates is the count of events that the endpoint already had, as
	// its reply states.
	Duplicates int
}

// Stats is a snapshot of a Client's queue and counters. The counters count
// events since New.
type Stats struct {
	// Queued counts the events waiting in the queue, not in flight.
	Queued int
	// QueuedBytes is the JSON size of the queued and in-flight events.
	QueuedBytes int64
	// InFlight counts the events of the envelope being posted or waiting
	// for a retry.
	InFlight int
	// Delivered counts the events that the endpoint accepted.
	Delivered int64
	// Retried counts the events of posts that failed and were retried.
	Retried int64
	// DeadLettered counts the events that the endpoint rejected.
	DeadLettered int64
	// OldestAge is the age of the oldest undelivered event, in flight
	// included, zero when there is none.
	OldestAge time.Duration
	// LastError is the error of the last failed post, nil when none failed
	// since the last accepted one. It wraps ErrTokenRejected when the
	// token endpoint rejects the credentials.
	LastError error
}

// Client sends events through a durable queue to a Caliper endpoint. Its
// methods are safe for concurrent use.
type Client struct {
	s      *settings
	queue  Queue
	tokens *tokenCache // nil without OAuth2
	log    *rateLog

	sendMu sync.RWMutex // Close takes it to stop Send
	closed bool

	limitMu     sync.Mutex
	queued      int // queued and in-flight events
	queuedBytes int64

	lastSeq  atomic.Int64 // largest Seq appended
	flushing atomic.Int32 // running Flush calls
	wake     chan struct{}
	flushReq chan struct{}

	progressMu sync.Mutex
	cleared    int64         // every Seq up to cleared is delivered or dead-lettered
	progress   chan struct{} // closed and replaced when cleared grows

	// undeleted are the sorted Seqs of delivered events whose Delete
	// failed, as on a full disk, with their JSON size. Only the background
	// sender uses them: it leaves these events out of envelopes and retries
	// the Delete.
	undeleted      []int64
	undeletedBytes int
	deleteFailures int

	lastErr      atomic.Pointer[error] // of the last failed post, nil after a success
	inFlight     atomic.Int64
	delivered    atomic.Int64
	retried      atomic.Int64
	deadLettered atomic.Int64
	oldest       atomic.Int64 // Unix nanoseconds of the oldest undelivered event, 0 for none

	ctx    context.Context // ends when Close stops the background sender
	cancel context.CancelFunc
	done   chan struct{} // closed when the background sender has stopped
}

// New checks cfg, opens the queue and starts the background sender, which
// resumes the delivery of events left in the outbox by an earlier process.
func New(cfg Config) (*Client, error) {
	s, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	queue := s.Queue
	if queue == nil {
		path := s.OutboxPath
		if path == "" {
			if path, err = DefaultOutboxPath(); err != nil {
				return nil, err
			}
		}
		outbox, err := sqlite.OpenOutbox(context.Background(), path)
		if err != nil {
			return nil, fmt.Errorf("sender: %w", err)
		}
		if err := outbox.CheckWritable(context.Background()); err != nil {
			outbox.Close()
			return nil, fmt.Errorf("sender: %w", err)
		}
		queue = outbox
	}
	qs, err := queue.Stats(context.Background())
	if err != nil {
		queue.Close()
		return nil, fmt.Errorf("sender: %w", err)
	}

	c := &Client{
		s:           s,
		queue:       queue,
		log:         newRateLog(s.Logger, s.Clock),
		queued:      qs.Queued,
		queuedBytes: qs.QueuedBytes,
		wake:        make(chan struct{}, 1),
		flushReq:    make(chan struct{}, 1),
		progress:    make(chan struct{}),
		done:        make(chan struct{}),
	}
	c.lastSeq.Store(qs.LastSeq)
	if !qs.Oldest.IsZero() {
		c.oldest.Store(qs.Oldest.UnixNano())
	}
	if s.ClientID != "" {
		c.tokens = newTokenCache(s)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	return c, nil
}

// Send validates events, appends them to the queue and returns once they are
// durable. An invalid event returns an *EventError naming it, and then none
// of the events is queued. When the queue has no room for all of them Send
// returns ErrQueueFull at once, also with none queued.
func (c *Client) Send(ctx context.Context, events ...timeback.Event) error {
	if len(events) == 0 {
		return nil
	}
	entries, size, err := c.prepare(events)
	if err != nil {
		return err
	}

	c.sendMu.RLock()
	defer c.sendMu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	if err := c.reserve(len(entries), size); err != nil {
		return err
	}
	if err := c.queue.Append(ctx, entries); err != nil {
		c.release(len(entries), size)
		return fmt.Errorf("sender: queue %d events: %w", len(entries), err)
	}

	last := entries[len(entries)-1].Seq
	for {
		cur := c.lastSeq.Load()
		if last <= cur || c.lastSeq.CompareAndSwap(cur, last) {
			break
		}
	}
	c.oldest.CompareAndSwap(0, entries[0].EnqueuedAt.UnixNano())
	signal(c.wake)
	return nil
}

// Check validates events as Send does, size limit included, without
// queueing them. It returns the *EventError of the first event that Send
// would reject.
func (c *Client) Check(events ...timeback.Event) error {
	_, _, err := c.prepare(events)
	return err
}

// prepare encodes and validates events and returns them as queue entries
// with their total JSON size.
func (c *Client) prepare(events []timeback.Event) ([]Entry, int64, error) {
	now := c.s.Clock.Now()
	entries := make([]Entry, len(events))
	var size int64
	for i, ev := range events {
		if ev == nil {
			return nil, 0, invalidEvent(i, "", errors.New("the event is nil"))
		}
		if v := reflect.ValueOf(ev); v.Kind() == reflect.Pointer && v.IsNil() {
			// Its methods would dereference the nil pointer.
			return nil, 0, invalidEvent(i, "", fmt.Errorf("the event is a nil %T", ev))
		}
		data, err := encodeEvent(ev)
		if err != nil {
			return nil, 0, invalidEvent(i, ev.EventID(), err)
		}
		id, err := c.check(i, ev, data)
		if err != nil {
			return nil, 0, err
		}
		entries[i] = Entry{ID: id, JSON: data, EnqueuedAt: now}
		size += int64(len(data))
	}
	return entries, size, nil
}

// encodeEvent returns the compact JSON of ev, in a slice of its own.
func encodeEvent(ev timeback.Event) ([]byte, error) {
	raw, err := ev.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	switch ev.(type) {
	case *timeback.TimeSpent, *timeback.ActivityCompleted:
		// Their encoders write compact JSON into a new slice.
		return raw, nil
	}
	if isCompact(raw) {
		// Validation later rejects raw if it is not valid JSON.
		return bytes.Clone(raw), nil
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("encoding is not valid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// isCompact reports whether raw has no white space outside JSON strings. It
// is much cheaper than json.Compact, and encoders such as MarshalJSON
// usually write compact JSON already. It skips each string with
// bytes.IndexByte, so most bytes are not looked at one by one.
func isCompact(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			return false
		case '"':
			end := stringEnd(raw, i+1)
			if end < 0 {
				return true // validation rejects the unterminated string
			}
			i = end
		}
	}
	return true
}

// stringEnd returns the index of the quote that ends the JSON string whose
// content starts at from, or -1 when the string does not end.
func stringEnd(raw []byte, from int) int {
	for {
		k := bytes.IndexByte(raw[from:], '"')
		if k < 0 {
			return -1
		}
		end := from + k
		// The quote ends the string unless an odd number of backslashes
		// escapes it.
		backslashes := 0
		for j := end - 1; j >= from && raw[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return end
		}
		from = end + 1
	}
}

// check validates one encoded event and returns its id.
func (c *Client) check(i int, ev timeback.Event, data []byte) (string, error) {
	id := ev.EventID()
	if limit := c.s.MaxPayloadBytes - c.s.envelopeOverhead(); len(data) > limit {
		return "", &EventError{Index: i, ID: id, Kind: ErrEventTooLarge, Err: fmt.Errorf(
			"%d bytes, the limit is %d bytes (Config.MaxPayloadBytes less the envelope)",
			len(data), limit)}
	}
	report := caliper.Validate(data, caliper.Options{})
	if failing := report.Problems.Failing(false); len(failing) > 0 {
		return "", &EventError{Index: i, ID: id, Problems: failing, Kind: ErrInvalidEvent}
	}
	if report.Kind != caliper.KindEvent || len(report.Items) != 1 {
		return "", invalidEvent(i, id, errors.New("the JSON is not one Caliper event"))
	}
	jsonID := report.Items[0].ID
	switch {
	case id == "" && jsonID == "":
		return "", invalidEvent(i, "", errors.New("the event has no id"))
	case id == "":
		id = jsonID
	case jsonID != "" && jsonID != id:
		return "", invalidEvent(i, id, fmt.Errorf("EventID() returns %q but the JSON has id %q", id, jsonID))
	}
	return id, nil
}

func invalidEvent(i int, id string, err error) *EventError {
	return &EventError{Index: i, ID: id, Kind: ErrInvalidEvent, Err: err}
}

// reserve counts n events of size bytes into the queue, or returns
// ErrQueueFull when they do not fit.
func (c *Client) reserve(n int, size int64) error {
	c.limitMu.Lock()
	defer c.limitMu.Unlock()
	if c.queued+n > c.s.MaxQueueEvents || c.queuedBytes+size > c.s.MaxQueueBytes {
		return fmt.Errorf("%w: %d events (%d bytes) queued, adding %d events (%d bytes) would pass"+
			" the limit of %d events or %d bytes; wait for delivery or raise the limits",
			ErrQueueFull, c.queued, c.queuedBytes, n, size, c.s.MaxQueueEvents, c.s.MaxQueueBytes)
	}
	c.queued += n
	c.queuedBytes += size
	return nil
}

// release takes n events of size bytes out of the queue counts.
func (c *Client) release(n int, size int64) {
	c.limitMu.Lock()
	c.queued -= n
	c.queuedBytes -= size
	c.limitMu.Unlock()
}

func (c *Client) queueCounts() (int, int64) {
	c.limitMu.Lock()
	defer c.limitMu.Unlock()
	return c.queued, c.queuedBytes
}

// Flush waits until every event queued before the call is delivered or
// dead-lettered, or until ctx ends. It skips the linger of partial
// envelopes.
func (c *Client) Flush(ctx context.Context) error {
	mark := c.lastSeq.Load()
	c.flushing.Add(1)
	defer c.flushing.Add(-1)
	signal(c.flushReq)
	for {
		c.progressMu.Lock()
		cleared, progress := c.cleared, c.progress
		c.progressMu.Unlock()
		if cleared >= mark {
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			queued, _ := c.queueCounts()
			return fmt.Errorf("sender: flush stopped with %d events undelivered: %w", queued, ctx.Err())
		case <-c.done:
			return ErrClosed
		}
	}
}

// Close stops accepting events, keeps delivering until the queue is empty or
// ctx ends, then stops the background sender and closes the queue. Events
// that remain stay in the outbox, and a Client opened on it later delivers
// them. With an expired ctx Close returns at once. The error reports the
// events left behind.
func (c *Client) Close(ctx context.Context) error {
	c.sendMu.Lock()
	if c.closed {
		c.sendMu.Unlock()
		return ErrClosed
	}
	c.closed = true
	c.sendMu.Unlock()

	var flushErr error
	if ctx.Err() == nil {
		flushErr = c.Flush(ctx)
	}
	c.cancel()
	<-c.done
	queued, _ := c.queueCounts()
	err := c.queue.Close()
	if err != nil {
		return fmt.Errorf("sender: close queue: %w", err)
	}
	if flushErr != nil || ctx.Err() != nil {
		if queued == 0 {
			return nil
		}
		cause := ctx.Err()
		if cause == nil {
			cause = flushErr
		}
		return fmt.Errorf("sender: closed with %d events left in the queue for the next run: %w",
			queued, cause)
	}
	return nil
}

// Stats returns a snapshot of the queue and the counters.
func (c *Client) Stats() Stats {
	queued, bytes := c.queueCounts()
	inFlight := int(c.inFlight.Load())
	st := Stats{
		Queued:       max(queued-inFlight, 0),
		QueuedBytes:  bytes,
		InFlight:     inFlight,
		Delivered:    c.delivered.Load(),
		Retried:      c.retried.Load(),
		DeadLettered: c.deadLettered.Load(),
	}
	if err := c.lastErr.Load(); err != nil {
		st.LastError = *err
	}
	if oldest := c.oldest.Load(); oldest != 0 && queued > 0 {
		st.OldestAge = max(c.s.Clock.Now().Sub(time.Unix(0, oldest)), 0)
	}
	return st
}

// setCleared records that every Seq up to seq is gone from the queue and
// wakes the Flush calls.
func (c *Client) setCleared(seq int64) {
	c.progressMu.Lock()
	defer c.progressMu.Unlock()
	if seq <= c.cleared {
		return
	}
	c.cleared = seq
	close(c.progress)
	c.progress = make(chan struct{})
}

// envelopeOverhead is the size of an envelope with an empty data array.
func (s *settings) envelopeOverhead() int {
	return len(`{"sensor":,"sendTime":"2006-01-02T15:04:05.000Z","dataVersion":"","data":[]}`) +
		len(s.sensorJSON) + len(caliper.ContextV1p2)
}

// envelope encodes batch as a Caliper envelope sent at now.
func (s *settings) envelope(batch []Entry, now time.Time) []byte {
	size := s.envelopeOverhead() + len(batch)
	for _, e := range batch {
		size += len(e.JSON)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"sensor":`...)
	buf = append(buf, s.sensorJSON...)
	buf = append(buf, `,"sendTime":"`...)
	buf = now.UTC().AppendFormat(buf, "2006-01-02T15:04:05.000Z")
	buf = append(buf, `","dataVersion":"`...)
	buf = append(buf, caliper.ContextV1p2...)
	buf = append(buf, `","data":[`...)
	for i, e := range batch {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, e.JSON...)
	}
	return append(buf, "]}"...)
}

// maxDataBytes is the JSON size of the events that fit in one envelope,
// ignoring the separating commas, which Peek callers account for.
func (s *settings) maxDataBytes() int {
	return s.MaxPayloadBytes - s.envelopeOverhead() - s.MaxBatchEvents
}

// signal wakes the receiver of ch without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
