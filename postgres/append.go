package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
)

// maxAttempts bounds how often Append runs a transaction that failed only
// because of a concurrent one (a deadlock or serialization failure).
const maxAttempts = 3

// Append stores the batches in one transaction. Each batch runs inside a
// savepoint, so a conflict rolls back that batch alone, and the facts of
// the events a batch adds are kept in the same savepoint.
func (s *Store) Append(ctx context.Context, batches []*timeback.Batch) ([]timeback.AppendResult, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		results, err := s.appendOnce(ctx, batches)
		if err == nil {
			return results, nil
		}
		if attempt == maxAttempts || !retryable(err) {
			return nil, unavailable("append", err)
		}
	}
}

func (s *Store) appendOnce(ctx context.Context, batches []*timeback.Batch) ([]timeback.AppendResult, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)

	// One appender at a time across all servers of the database, so that
	// seq order is commit order; see migrations.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockAppend); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	results := make([]timeback.AppendResult, len(batches))
	for i, b := range batches {
		if results[i], err = appendBatch(ctx, tx, b, now); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return results, nil
}

// batchRejected is a batch outcome that rolls back the batch's savepoint
// but keeps the transaction going.
type batchRejected struct{ err error }

func (e batchRejected) Error() string { return e.err.Error() }

func appendBatch(ctx context.Context, tx pgx.Tx, b *timeback.Batch, now time.Time) (timeback.AppendResult, error) {
	if _, err := tx.Exec(ctx, `SAVEPOINT batch`); err != nil {
		return timeback.AppendResult{}, err
	}
	res, err := storeBatch(ctx, tx, b, now)
	var rejected batchRejected
	if errors.As(err, &rejected) {
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT batch`); err != nil {
			return timeback.AppendResult{}, err
		}
		if _, err := tx.Exec(ctx, `RELEASE SAVEPOINT batch`); err != nil {
			return timeback.AppendResult{}, err
		}
		return timeback.AppendResult{Err: rejected.err}, nil
	}
	if err != nil {
		return timeback.AppendResult{}, err
	}
	if _, err := tx.Exec(ctx, `RELEASE SAVEPOINT batch`); err != nil {
		return timeback.AppendResult{}, err
	}
	return res, nil
}

const insertEvents = `INSERT INTO events (id, type, action, profile, sensor, event_time, actor_id,
		actor_email, object_id, job_id, stored, digest, json)
	SELECT u.id, u.type, u.action, u.profile, $10, u.event_time, u.actor_id,
		u.actor_email, u.object_id, $11, $12, u.digest, u.json
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
		$7::text[], $8::text[], $9::bytea[], $13::bytea[]) WITH ORDINALITY
		AS u(id, type, action, profile, event_time, actor_id, actor_email, object_id, digest, json, ord)
	ORDER BY u.ord
	ON CONFLICT (id) DO NOTHING
	RETURNING id, seq`

func storeBatch(ctx context.Context, tx pgx.Tx, b *timeback.Batch, now time.Time) (timeback.AppendResult, error) {
	if err := checkBatch(b); err != nil {
		return timeback.AppendResult{}, batchRejected{err}
	}
	n := len(b.Events)
	events := make([]*timeback.StoredEvent, n)
	digests := make([][]byte, n)
	cols := struct {
		id, typ, action, profile, actorID, actorEmail, objectID []string
		eventTime                                               []time.Time
		digest, json                                            [][]byte
	}{}
	for i := range b.Events {
		ev := storedEvent(b, &b.Events[i], now)
		sum := sha256.Sum256(b.Events[i].Canonical)
		events[i], digests[i] = ev, sum[:]
		cols.id = append(cols.id, ev.ID)
		cols.typ = append(cols.typ, ev.Type)
		cols.action = append(cols.action, ev.Action)
		cols.profile = append(cols.profile, ev.Profile)
		cols.eventTime = append(cols.eventTime, ev.EventTime)
		cols.actorID = append(cols.actorID, ev.ActorID)
		cols.actorEmail = append(cols.actorEmail, ev.ActorEmail)
		cols.objectID = append(cols.objectID, ev.ObjectID)
		cols.digest = append(cols.digest, sum[:])
		cols.json = append(cols.json, ev.JSON)
	}

	rows, err := tx.Query(ctx, insertEvents, cols.id, cols.typ, cols.action, cols.profile, cols.eventTime,
		cols.actorID, cols.actorEmail, cols.objectID, cols.digest, b.Sensor, b.JobID, now, cols.json)
	if err != nil {
		return timeback.AppendResult{}, err
	}
	inserted := map[string]int64{}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			rows.Close()
			return timeback.AppendResult{}, err
		}
		inserted[id] = seq
	}
	if err := rows.Err(); err != nil {
		return timeback.AppendResult{}, err
	}

	existing, err := storedDigests(ctx, tx, events, inserted)
	if err != nil {
		return timeback.AppendResult{}, err
	}
	job := &timeback.Job{ID: b.JobID, State: timeback.JobCompleted, Processed: now,
		Results: make([]timeback.JobResult, 0, n)}
	res := timeback.AppendResult{Job: job}
	var added []*timeback.StoredEvent
	for i, ev := range events {
		if seq, ok := inserted[ev.ID]; ok {
			ev.Seq = seq
			added = append(added, ev)
			res.Stored++
			job.Results = append(job.Results, timeback.JobResult{
				AllocatedID: strconv.FormatInt(seq, 10), ExternalID: ev.ID})
			continue
		}
		have := existing[ev.ID]
		if !bytes.Equal(have.digest, digests[i]) {
			return timeback.AppendResult{}, batchRejected{conflict(&b.Events[i])}
		}
		res.Duplicates++
		job.Results = append(job.Results, timeback.JobResult{
			AllocatedID: strconv.FormatInt(have.seq, 10), ExternalID: ev.ID, Duplicate: true})
	}

	if err := saveJob(ctx, tx, job); err != nil {
		return timeback.AppendResult{}, err
	}
	if len(added) > 0 {
		err := facts.Keep(ctx, ledger{tx}, added)
		if errors.Is(err, facts.ErrInvalidEvent) {
			return timeback.AppendResult{}, batchRejected{factError(err)}
		}
		if err != nil {
			return timeback.AppendResult{}, err
		}
	}
	return res, nil
}

type storedDigest struct {
	seq    int64
	digest []byte
}

// storedDigests returns the seq and digest of the events of the batch that
// were stored before it.
func storedDigests(ctx context.Context, tx pgx.Tx, events []*timeback.StoredEvent,
	inserted map[string]int64) (map[string]storedDigest, error) {
	var ids []string
	for _, ev := range events {
		if _, ok := inserted[ev.ID]; !ok {
			ids = append(ids, ev.ID)
		}
	}
	out := make(map[string]storedDigest, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT id, seq, digest FROM events WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var d storedDigest
		if err := rows.Scan(&id, &d.seq, &d.digest); err != nil {
			return nil, err
		}
		out[id] = d
	}
	return out, rows.Err()
}

func saveJob(ctx context.Context, tx pgx.Tx, job *timeback.Job) error {
	results, err := json.Marshal(job.Results)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO jobs (id, processed, results) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, job.ID, job.Processed, results)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return batchRejected{timeback.Errorf(timeback.CodeInvalid, "job id %q is already used", job.ID)}
	}
	return nil
}

func storedEvent(b *timeback.Batch, ev *timeback.NewEvent, now time.Time) *timeback.StoredEvent {
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

// checkBatch rejects a batch that the store cannot take as it is.
func checkBatch(b *timeback.Batch) error {
	if b.JobID == "" {
		return timeback.Errorf(timeback.CodeInvalid, "postgres: batch has no job id")
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

func conflict(ev *timeback.NewEvent) error {
	msg := fmt.Sprintf("event id %q is already stored with different content", ev.Item.ID)
	return &timeback.Error{
		Code:    timeback.CodeConflict,
		Message: msg + "; nothing of the envelope was stored",
		Fields:  []timeback.FieldError{{Path: ev.Item.Pointer + "/id", Message: msg}},
		Err:     timeback.ErrEventConflict,
	}
}

// factError is the outcome of a batch with an event that passed validation
// but whose facts cannot be derived.
func factError(err error) error {
	return &timeback.Error{Code: timeback.CodeInvalid, Message: err.Error(), Err: err}
}
