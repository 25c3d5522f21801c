// Package eventstore contains the logic that the SQLite and PostgreSQL
// event stores share. That is the checks of a batch before it is appended,
// the rows it becomes, the errors a store returns, and the events listing
// query with its filters, page size and cursor. Each store passes its SQL
// dialect as a Dialect and keeps its own statements for everything else.
package eventstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/timeback/timeback-go"
)

// CheckBatch rejects a batch that the store cannot take as it is: one with
// no job id, an event with no id, or two events with the same id. Store
// names the store, such as "sqlite", in the message of a missing job id.
func CheckBatch(store string, b *timeback.Batch) error {
	if b.JobID == "" {
		return timeback.Errorf(timeback.CodeInvalid, "%s: batch has no job id", store)
	}
	seen := make(map[string]int, len(b.Events))
	for i, ev := range b.Events {
		path := ev.Item.Pointer + "/id"
		if ev.Item.ID == "" {
			return &timeback.Error{Code: timeback.CodeInvalid, Message: "event has no id",
				Fields: []timeback.FieldError{{Path: path, Message: "missing event id"}}}
		}
		if j, ok := seen[ev.Item.ID]; ok {
			msg := fmt.Sprintf("event id %q repeats the id of event %d of the envelope", ev.Item.ID, j)
			return &timeback.Error{Code: timeback.CodeInvalid, Message: msg,
				Fields: []timeback.FieldError{{Path: path, Message: msg}}}
		}
		seen[ev.Item.ID] = i
	}
	return nil
}

// JobIDUsed returns the rejection of a batch whose job id is stored already.
func JobIDUsed(id string) error {
	return timeback.Errorf(timeback.CodeInvalid, "job id %q is already used", id)
}

// Conflict returns the rejection of a batch whose event ev has the id of a
// stored event with different content. It wraps timeback.ErrEventConflict.
func Conflict(ev *timeback.NewEvent) error {
	msg := fmt.Sprintf("event id %q is already stored with different content", ev.Item.ID)
	return &timeback.Error{
		Code:    timeback.CodeConflict,
		Message: msg + "; nothing of the envelope was stored",
		Fields:  []timeback.FieldError{{Path: ev.Item.Pointer + "/id", Message: msg}},
		Err:     timeback.ErrEventConflict,
	}
}

// NewStoredEvent returns the row of event ev of batch b, stored at now. Seq
// is left zero for the store to allocate. Events of other profiles, which
// carry no decoded Item.Event, get empty action, profile, actor and object
// fields and a zero event time.
func NewStoredEvent(b *timeback.Batch, ev *timeback.NewEvent, now time.Time) *timeback.StoredEvent {
	se := &timeback.StoredEvent{
		ID:     ev.Item.ID,
		Type:   ev.Item.Type,
		Sensor: b.Sensor,
		JobID:  b.JobID,
		Stored: now,
		JSON:   ev.Item.Raw,
	}
	if info := ev.Item.Event; info != nil {
		se.Action = info.Action
		se.Profile = info.Profile
		se.EventTime = info.EventTime.UTC()
		se.ActorID = info.ActorID
		se.ActorEmail = info.ActorEmail
		se.ObjectID = info.ObjectID
	}
	return se
}

// EventNotFound returns the error of a lookup of an unknown event id. It
// wraps timeback.ErrEventNotFound.
func EventNotFound(id string) error {
	return &timeback.Error{Code: timeback.CodeNotFound,
		Message: fmt.Sprintf("event %q not found", id), Err: timeback.ErrEventNotFound}
}

// JobNotFound returns the error of a lookup of an unknown job id. It wraps
// timeback.ErrJobNotFound.
func JobNotFound(id string) error {
	return &timeback.Error{Code: timeback.CodeNotFound,
		Message: fmt.Sprintf("job %q not found", id), Err: timeback.ErrJobNotFound}
}

// Columns lists the columns of the events table in the order that each
// store's scan function reads them.
const Columns = `seq, id, type, action, profile, sensor, event_time, actor_id, actor_email,
	object_id, job_id, stored, json`

// Dialect is the part of the events listing SQL that differs between the
// stores.
type Dialect struct {
	// Placeholder returns the placeholder of the n-th argument, counted
	// from 1, such as "?" for SQLite or "$3" for PostgreSQL.
	Placeholder func(n int) string
	// Time returns the argument that event_time is compared with.
	Time func(time.Time) any
}

// ListQuery returns the statement that lists the events matching q in store
// order, its arguments, and the page size. The statement reads one row more
// than the page size, so that Page can see whether a next page exists. The
// error is a *timeback.Error that names the field of q that is invalid.
func ListQuery(q timeback.EventQuery, d Dialect) (query string, args []any, limit int, err error) {
	limit, err = PageSize(q)
	if err != nil {
		return "", nil, 0, err
	}
	var after int64
	if q.Cursor != "" {
		if after, err = timeback.DecodeCursor(q.Cursor); err != nil {
			return "", nil, 0, err
		}
	}

	arg := func(v any) string {
		args = append(args, v)
		return d.Placeholder(len(args))
	}
	where := []string{"seq > " + arg(after)}
	for _, f := range []struct{ column, value string }{
		{"sensor", q.Sensor}, {"actor_id", q.ActorID}, {"actor_email", q.ActorEmail},
	} {
		if f.value != "" {
			where = append(where, f.column+" = "+arg(f.value))
		}
	}
	if !q.Start.IsZero() {
		where = append(where, "event_time >= "+arg(d.Time(q.Start)))
	}
	if !q.End.IsZero() {
		where = append(where, "event_time <= "+arg(d.Time(q.End)))
	}
	query = `SELECT ` + Columns + ` FROM events WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY seq LIMIT ` + arg(limit+1) + ` OFFSET ` + arg(q.Offset)
	return query, args, limit, nil
}

// Page returns the page of the rows that a ListQuery statement read: at
// most limit events, with a cursor to the next page when there were more.
func Page(events []*timeback.StoredEvent, limit int) *timeback.EventPage {
	page := &timeback.EventPage{Events: events}
	if page.Events == nil {
		page.Events = []*timeback.StoredEvent{}
	}
	if len(page.Events) > limit {
		page.Events = page.Events[:limit]
		page.Next = timeback.EncodeCursor(page.Events[limit-1].Seq)
	}
	return page
}

// PageSize returns the page size of q, or an error naming the field that
// is out of range.
func PageSize(q timeback.EventQuery) (int, error) {
	switch {
	case q.Limit < 0 || q.Limit > timeback.MaxEventLimit:
		return 0, &timeback.Error{Code: timeback.CodeInvalid,
			Message: fmt.Sprintf("invalid limit %d: use 1 to %d", q.Limit, timeback.MaxEventLimit),
			Fields:  []timeback.FieldError{{Path: "limit", Message: "out of range"}}}
	case q.Offset < 0:
		return 0, &timeback.Error{Code: timeback.CodeInvalid,
			Message: fmt.Sprintf("invalid offset %d: use 0 or more", q.Offset),
			Fields:  []timeback.FieldError{{Path: "offset", Message: "negative"}}}
	case !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start):
		return 0, &timeback.Error{Code: timeback.CodeInvalid,
			Message: fmt.Sprintf("invalid date range: endDate %s is before startDate %s",
				q.End.Format(time.RFC3339Nano), q.Start.Format(time.RFC3339Nano)),
			Fields: []timeback.FieldError{{Path: "endDate", Message: "before startDate"}}}
	}
	if q.Limit == 0 {
		return timeback.DefaultEventLimit, nil
	}
	return q.Limit, nil
}
