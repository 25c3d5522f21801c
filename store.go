package timeback

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/timeback/timeback-go/caliper"
)

// EventStore is the durable store behind the Caliper endpoint. The SQLite
// and PostgreSQL packages implement it.
//
// Append is idempotent on the event id, which the store enforces with a
// unique key. An id stored before with the same canonical content is a
// duplicate and is not stored again. An id stored with different content is
// a conflict that rejects the whole batch. Every method is safe for
// concurrent use.
type EventStore interface {
	// Append stores batches in one transaction, with one durable commit,
	// and returns one AppendResult per batch in the order given. Each batch
	// is all or nothing: a batch that conflicts or fails leaves nothing
	// stored and does not affect the other batches, whose events are
	// committed. The error is non-nil only when the transaction as a whole
	// could not commit. Then nothing of any batch is stored, and the error
	// has code CodeUnavailable. Append returns only after the commit is
	// durable.
	Append(ctx context.Context, batches []*Batch) ([]AppendResult, error)

	// Event returns the stored event with the given id. The error wraps
	// ErrEventNotFound when there is none.
	Event(ctx context.Context, id string) (*StoredEvent, error)

	// Events lists stored events that match the query, in the order they
	// were stored. Paging with EventPage.Next is stable: events stored
	// later never shift the events of pages already read.
	Events(ctx context.Context, q EventQuery) (*EventPage, error)

	// Job returns the job that stored a batch. The error wraps
	// ErrJobNotFound when there is none.
	Job(ctx context.Context, id string) (*Job, error)

	// Close releases the store's resources. Calls after Close fail with
	// ErrStoreClosed.
	Close() error
}

// Sentinel errors of an EventStore. Implementations wrap them in an *Error
// whose Code maps to the HTTP status.
var (
	ErrEventNotFound = errors.New("event not found")     // CodeNotFound
	ErrJobNotFound   = errors.New("job not found")       // CodeNotFound
	ErrEventConflict = errors.New("event id conflict")   // CodeConflict
	ErrStoreClosed   = errors.New("event store closed")  // CodeUnavailable
	ErrInvalidCursor = errors.New("invalid page cursor") // CodeInvalid
)

// Batch is the events of one accepted envelope, appended together.
type Batch struct {
	// JobID names the job that reports the batch's outcome. It must be
	// unique; the caller allocates it, for example with a urn:uuid.
	JobID string
	// Sensor is the envelope's sensor IRI, stored with every event.
	Sensor string
	// SendTime is the envelope's sendTime.
	SendTime time.Time
	// Received is when the server received the envelope.
	Received time.Time
	// Events are the batch's events in envelope order. Their ids are
	// distinct; the caller rejects an envelope that repeats an id.
	Events []NewEvent
}

// NewEvent is one decoded event to store.
type NewEvent struct {
	// Item is the event as the validator decoded it. Item.Raw holds the
	// bytes as sent, which the store keeps unchanged; Item.Event must be
	// set.
	Item caliper.Item
	// Canonical is caliper.Canonical(Item.Raw). The store compares it to
	// tell a duplicate from a conflict.
	Canonical []byte
}

// AppendResult is the outcome of one batch of an Append.
type AppendResult struct {
	// Err is nil when the batch is stored. Otherwise it is an *Error: code
	// CodeConflict wrapping ErrEventConflict when an event id is stored
	// with different content, or the error of a FactWriter.
	Err error
	// Job reports what the batch stored. It is nil when Err is set.
	Job *Job
	// Stored counts the events that the batch added.
	Stored int
	// Duplicates counts the events whose id was already stored with the
	// same content, by an earlier batch or an earlier one of the same
	// Append.
	Duplicates int
}

// JobState is the state of a job in the Timeback job status shape.
type JobState string

// The job states of the Timeback API. The store completes a job in the
// transaction that stores its batch, so a stored job is always completed.
const (
	JobWaiting   JobState = "waiting"
	JobActive    JobState = "active"
	JobCompleted JobState = "completed"
	JobFailed    JobState = "failed"
)

// Job is the record of one stored batch.
type Job struct {
	ID    string
	State JobState
	// Results has one entry per event of the batch, in envelope order,
	// duplicates included.
	Results []JobResult
	// Processed is the commit time of the batch's transaction, read from
	// the store's clock.
	Processed time.Time
}

// JobResult maps one event of a job to the id the store allocated for it.
type JobResult struct {
	// AllocatedID is the store's id of the event: its position in store
	// order, in decimal. A duplicate gets the id of the copy stored first.
	AllocatedID string
	// ExternalID is the event's own id, as sent.
	ExternalID string
	// Duplicate is set when the event was already stored.
	Duplicate bool
}

// StoredEvent is an event as the store holds it.
type StoredEvent struct {
	// Seq is the event's position in store order, starting at 1. It is the
	// AllocatedID of its job result.
	Seq        int64
	ID         string
	Type       string
	Action     string
	Profile    string
	Sensor     string
	EventTime  time.Time
	ActorID    string
	ActorEmail string
	ObjectID   string
	JobID      string
	Stored     time.Time
	// JSON is the event's bytes exactly as they were sent.
	JSON []byte
}

// EventQuery selects stored events. Its zero value lists from the first
// event, DefaultEventLimit at a time.
type EventQuery struct {
	// Sensor, ActorID and ActorEmail match exactly when non-empty.
	Sensor     string
	ActorID    string
	ActorEmail string
	// Start and End bound eventTime, both inclusive, when non-zero.
	Start time.Time
	End   time.Time
	// Limit is the page size: zero means DefaultEventLimit, and values
	// above MaxEventLimit are an error.
	Limit int
	// Offset skips that many matching events after the cursor.
	Offset int
	// Cursor is an EventPage.Next from an earlier call with the same
	// filters. Empty starts at the first event.
	Cursor string
}

// Limits of EventQuery.Limit.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// EventPage is one page of an Events listing.
type EventPage struct {
	Events []*StoredEvent
	// Next is the cursor of the following page, empty on the last page.
	Next string
}

// FactWriter derives data from newly stored events inside the transaction
// that stores them, so that the derived data and the events commit
// together. Tx is the implementation's transaction type, such as *sql.Tx
// for SQLite or pgx.Tx for PostgreSQL. WriteFacts gets only the events the
// batch added, not its duplicates, and is not called for a batch that adds
// none. An error rejects the batch.
type FactWriter[Tx any] interface {
	WriteFacts(ctx context.Context, tx Tx, batch *Batch, added []*StoredEvent) error
}

// EncodeCursor returns the page cursor that resumes a listing after the
// event with sequence number seq. Both store implementations use it, so a
// cursor reads the same whichever store wrote it.
func EncodeCursor(seq int64) string {
	return "s" + strconv.FormatInt(seq, 10)
}

// DecodeCursor returns the sequence number of a cursor from EncodeCursor.
// The error is an *Error with CodeInvalid wrapping ErrInvalidCursor.
func DecodeCursor(cursor string) (int64, error) {
	digits, ok := strings.CutPrefix(cursor, "s")
	seq, err := strconv.ParseInt(digits, 10, 64)
	if !ok || err != nil || seq < 0 {
		return 0, &Error{Code: CodeInvalid, Message: "invalid cursor " + strconv.Quote(cursor) +
			": use the next value of an earlier page", Err: ErrInvalidCursor}
	}
	return seq, nil
}
