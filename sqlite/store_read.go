package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	timeback "github.com/timeback/timeback-go"
)

const eventColumns = `seq, id, type, action, profile, sensor, event_time, actor_id, actor_email,
	object_id, job_id, stored, json`

// Event returns the stored event with the given id.
func (s *Store) Event(ctx context.Context, id string) (*timeback.StoredEvent, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	row := s.db.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id)
	ev, err := scanEvent(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &timeback.Error{Code: timeback.CodeNotFound,
			Message: fmt.Sprintf("event %q not found", id), Err: timeback.ErrEventNotFound}
	}
	if err != nil {
		return nil, unavailable("read event "+id, err)
	}
	return ev, nil
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

	where := []string{"seq > ?"}
	args := []any{after}
	for _, f := range []struct {
		column, value string
	}{{"sensor", q.Sensor}, {"actor_id", q.ActorID}, {"actor_email", q.ActorEmail}} {
		if f.value != "" {
			where = append(where, f.column+" = ?")
			args = append(args, f.value)
		}
	}
	if !q.Start.IsZero() {
		where = append(where, "event_time >= ?")
		args = append(args, q.Start.UnixMilli())
	}
	if !q.End.IsZero() {
		where = append(where, "event_time <= ?")
		args = append(args, q.End.UnixMilli())
	}
	// Reading one row more than the page shows whether a next page exists.
	args = append(args, limit+1, q.Offset)
	query := `SELECT ` + eventColumns + ` FROM events WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY seq LIMIT ? OFFSET ?`

	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable("list events", err)
	}
	defer rows.Close()
	page := &timeback.EventPage{Events: []*timeback.StoredEvent{}}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, unavailable("list events", err)
		}
		page.Events = append(page.Events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list events", err)
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

type scanner interface{ Scan(dest ...any) error }

func scanEvent(row scanner) (*timeback.StoredEvent, error) {
	var ev timeback.StoredEvent
	var eventTime, stored int64
	err := row.Scan(&ev.Seq, &ev.ID, &ev.Type, &ev.Action, &ev.Profile, &ev.Sensor, &eventTime,
		&ev.ActorID, &ev.ActorEmail, &ev.ObjectID, &ev.JobID, &stored, &ev.JSON)
	if err != nil {
		return nil, err
	}
	ev.EventTime = time.UnixMilli(eventTime).UTC()
	ev.Stored = time.UnixMilli(stored).UTC()
	return &ev, nil
}

// Job returns the job that stored a batch.
func (s *Store) Job(ctx context.Context, id string) (*timeback.Job, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	var processed int64
	var results []byte
	err := s.db.QueryRowContext(ctx, `SELECT processed, results FROM jobs WHERE id = ?`, id).
		Scan(&processed, &results)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &timeback.Error{Code: timeback.CodeNotFound,
			Message: fmt.Sprintf("job %q not found", id), Err: timeback.ErrJobNotFound}
	}
	if err != nil {
		return nil, unavailable("read job "+id, err)
	}

	job := &timeback.Job{ID: id, State: timeback.JobCompleted, Processed: time.UnixMilli(processed).UTC()}
	if err := json.Unmarshal(results, &job.Results); err != nil {
		return nil, fmt.Errorf("sqlite: job %q has unreadable results: %w", id, err)
	}
	return job, nil
}
