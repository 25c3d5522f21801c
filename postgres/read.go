package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/eventstore"
)

// Event returns the stored event with the given id.
func (s *Store) Event(ctx context.Context, id string) (*timeback.StoredEvent, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventstore.Columns+` FROM events WHERE id = $1`, id)
	if err != nil {
		return nil, unavailable("read event "+id, err)
	}
	ev, err := pgx.CollectExactlyOneRow(rows, scanEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, eventstore.EventNotFound(id)
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
	query, args, limit, err := eventstore.ListQuery(q, listDialect)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, unavailable("list events", err)
	}
	events, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, unavailable("list events", err)
	}
	return eventstore.Page(events, limit), nil
}

// listDialect writes numbered placeholders and compares event_time, a
// timestamptz, with the time itself.
var listDialect = eventstore.Dialect{
	Placeholder: func(n int) string { return fmt.Sprintf("$%d", n) },
	Time:        func(t time.Time) any { return t },
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
		return nil, eventstore.JobNotFound(id)
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
