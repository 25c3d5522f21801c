package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	timeback "github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/eventstore"
)

// Event returns the stored event with the given id.
func (s *Store) Event(ctx context.Context, id string) (*timeback.StoredEvent, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	row := s.db.QueryRowContext(ctx, `SELECT `+eventstore.Columns+` FROM events WHERE id = ?`, id)
	ev, err := scanEvent(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, eventstore.EventNotFound(id)
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
	query, args, limit, err := eventstore.ListQuery(q, listDialect)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable("list events", err)
	}
	defer rows.Close()
	var events []*timeback.StoredEvent
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, unavailable("list events", err)
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list events", err)
	}
	return eventstore.Page(events, limit), nil
}

// listDialect writes "?" placeholders and compares event_time, which
// holds Unix milliseconds.
var listDialect = eventstore.Dialect{
	Placeholder: func(int) string { return "?" },
	Time:        func(t time.Time) any { return t.UnixMilli() },
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
		return nil, eventstore.JobNotFound(id)
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
