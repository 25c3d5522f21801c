package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/timeback/timeback-go"
)

const eventColumns = `seq, id, type, action, profile, sensor, event_time, actor_id, actor_email,
	object_id, job_id, stored, json`

// Event returns the stored event with the given id.
func (s *Store) Event(ctx context.Context, id string) (*timeback.StoredEvent, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, id)
	if err != nil {
		return nil, unavailable("read event "+id, err)
	}
	ev, err := pgx.CollectExactlyOneRow(rows, scanEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &timeback.Error{Code: timeback.CodeNotFound,
			Message: fmt.Sprintf("event %q not found", id), Err: timeback.ErrEventNotFound}
	}
	if err != nil {
		return nil, unavailable("read event "+id, err)
	}
	return ev, nil
}

func scanEvent(row pgx.CollectableRow) (*timeback.StoredEvent, error) {
	var ev timeback.StoredEvent
	err := row.Scan(&ev.Seq, &ev.ID, &ev.Type, &ev.Action, &ev.Profile, &ev.Sensor, &ev.EventTime,
		&ev.ActorID, &ev.ActorEmail, &ev.ObjectID, &ev.JobID, &ev.Stored, &ev.JSON)
	ev.EventTime, ev.Stored = ev.EventTime.UTC(), ev.Stored.UTC()
	return &ev, err
}

// Events lists the stored events that match q in store order.
func (s *Store) Events(ctx context.Context, q timeback.EventQuery) (*timeback.EventPage, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	limit, err := checkQuery(q)
	if err != nil {
		return nil, err
	}
	var after int64
	if q.Cursor != "" {
		if after, err = timeback.DecodeCursor(q.Cursor); err != nil {
			return nil, err
		}
	}

	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where = append(where, "seq > "+arg(after))
	for _, f := range []struct{ column, value string }{
		{"sensor", q.Sensor}, {"actor_id", q.ActorID}, {"actor_email", q.ActorEmail},
	} {
		if f.value != "" {
			where = append(where, f.column+" = "+arg(f.value))
		}
	}
	if !q.Start.IsZero() {
		where = append(where, "event_time >= "+arg(q.Start))
	}
	if !q.End.IsZero() {
		where = append(where, "event_time <= "+arg(q.End))
	}
	// One row more than the page tells whether a next page exists.
	query := `SELECT ` + eventColumns + ` FROM events WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY seq LIMIT ` + arg(limit+1) + ` OFFSET ` + arg(q.Offset)

	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, unavailable("list events", err)
	}
	events, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, unavailable("list events", err)
	}
	page := &timeback.EventPage{Events: events}
	if page.Events == nil {
		page.Events = []*timeback.StoredEvent{}
	}
	if len(page.Events) > limit {
		page.Events = page.Events[:limit]
		page.Next = timeback.EncodeCursor(page.Events[limit-1].Seq)
	}
	return page, nil
}

// checkQuery returns the page size of q, or an error naming the field that
// is out of range.
func checkQuery(q timeback.EventQuery) (int, error) {
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

// Job returns the job that stored a batch.
func (s *Store) Job(ctx context.Context, id string) (*timeback.Job, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	job := &timeback.Job{ID: id, State: timeback.JobCompleted}
	var results []byte
	err := s.pool.QueryRow(ctx, `SELECT processed, results FROM jobs WHERE id = $1`, id).
		Scan(&job.Processed, &results)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &timeback.Error{Code: timeback.CodeNotFound,
			Message: fmt.Sprintf("job %q not found", id), Err: timeback.ErrJobNotFound}
	}
	if err != nil {
		return nil, unavailable("read job "+id, err)
	}
	job.Processed = job.Processed.UTC()
	if err := json.Unmarshal(results, &job.Results); err != nil {
		return nil, fmt.Errorf("postgres: job %q has unreadable results: %w", id, err)
	}
	return job, nil
}
