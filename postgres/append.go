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
	"github.com/timeback/timeback-go/internal/eventstore"
)

// maxAttempts bounds how often Append runs a transaction that failed only
// because of a concurrent one (a deadlock or serialization failure).
const maxAttempts = 3

// Append stores the batches in one transaction. It holds the store's
// advisory lock for the whole transaction, so no other appender writes
// meanwhile: it first reads which ids and job ids are stored already and
// decides in memory which batches conflict, then writes the events, jobs
// and facts of all accepted batches with one statement each.
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
	// seq order is commit order (see migrations) and the checks below
	// stay true until the commit.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockAppend); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	plan, err := planAppend(ctx, tx, batches, now)
	if err != nil {
		return nil, err
	}
	if err := plan.write(ctx, tx); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return plan.results, nil
}

// appendPlan is the outcome of one Append before it is written: the new
// events of the accepted batches in order, and one result per batch.
type appendPlan struct {
	results []timeback.AppendResult
	added   []*timeback.StoredEvent
	decoded []*facts.Event // facts.Decode of added, nil for events of other profiles
	digests [][]byte
	jobs    []*timeback.Job
	// pending maps the results that wait for the seq of an event added in
	// this Append, by event id.
	pending map[string][]*timeback.JobResult
	// nextSeq is the first of the seqs that lookup reserved, one per event
	// of the Append. Duplicates and rejected batches leave gaps, as a
	// rolled-back insert does.
	nextSeq int64
}

type storedDigest struct {
	seq    int64
	digest []byte
}

// planAppend decides the outcome of each batch against what is stored and
// what earlier batches of the same Append add.
func planAppend(ctx context.Context, tx pgx.Tx, batches []*timeback.Batch, now time.Time) (*appendPlan, error) {
	var ids, jobIDs []string
	for _, b := range batches {
		jobIDs = append(jobIDs, b.JobID)
		for _, ev := range b.Events {
			ids = append(ids, ev.Item.ID)
		}
	}
	stored, usedJobs, nextSeq, err := lookup(ctx, tx, ids, jobIDs)
	if err != nil {
		return nil, err
	}

	p := &appendPlan{results: make([]timeback.AppendResult, len(batches)),
		pending: map[string][]*timeback.JobResult{}, nextSeq: nextSeq}
	addedDigest := map[string][]byte{} // events added by earlier batches of this Append
	for i, b := range batches {
		res, batchAdded, err := p.planBatch(b, now, stored, addedDigest, usedJobs)
		if err != nil {
			p.results[i] = timeback.AppendResult{Err: err}
			continue
		}
		p.results[i] = res
		p.jobs = append(p.jobs, res.Job)
		usedJobs[b.JobID] = true
		for _, a := range batchAdded {
			p.added = append(p.added, a.event)
			p.decoded = append(p.decoded, a.decoded)
			p.digests = append(p.digests, a.digest)
			addedDigest[a.event.ID] = a.digest
		}
	}
	return p, nil
}

type addedEvent struct {
	event   *timeback.StoredEvent
	decoded *facts.Event
	digest  []byte
}

// planBatch returns the result of one batch and the events it adds, or the
// error that rejects it. It changes p only through the pending results of
// an accepted batch.
func (p *appendPlan) planBatch(b *timeback.Batch, now time.Time, stored map[string]storedDigest,
	addedDigest map[string][]byte, usedJobs map[string]bool) (timeback.AppendResult, []addedEvent, error) {
	if err := eventstore.CheckBatch("postgres", b); err != nil {
		return timeback.AppendResult{}, nil, err
	}
	if usedJobs[b.JobID] {
		return timeback.AppendResult{}, nil, eventstore.JobIDUsed(b.JobID)
	}
	job := &timeback.Job{ID: b.JobID, State: timeback.JobCompleted, Processed: now,
		Results: make([]timeback.JobResult, len(b.Events))}
	res := timeback.AppendResult{Job: job}
	var added []addedEvent
	var waiting []int // results that wait for an event added earlier in this Append
	for i := range b.Events {
		ev := &b.Events[i]
		sum := sha256.Sum256(ev.Canonical)
		job.Results[i].ExternalID = ev.Item.ID
		if have, ok := stored[ev.Item.ID]; ok {
			if !bytes.Equal(have.digest, sum[:]) {
				return timeback.AppendResult{}, nil, eventstore.Conflict(ev)
			}
			res.Duplicates++
			job.Results[i].Duplicate = true
			job.Results[i].AllocatedID = strconv.FormatInt(have.seq, 10)
			continue
		}
		if d, ok := addedDigest[ev.Item.ID]; ok {
			if !bytes.Equal(d, sum[:]) {
				return timeback.AppendResult{}, nil, eventstore.Conflict(ev)
			}
			res.Duplicates++
			job.Results[i].Duplicate = true
			waiting = append(waiting, i)
			continue
		}
		se := eventstore.NewStoredEvent(b, ev, now)
		se.Seq = p.nextSeq
		p.nextSeq++
		decoded, err := facts.Decode(se.JSON)
		switch {
		case errors.Is(err, facts.ErrNotTimeback):
			decoded = nil
		case err != nil:
			return timeback.AppendResult{}, nil, factError(err)
		}
		added = append(added, addedEvent{se, decoded, sum[:]})
		res.Stored++
		waiting = append(waiting, i)
	}
	for _, i := range waiting {
		r := &job.Results[i]
		p.pending[r.ExternalID] = append(p.pending[r.ExternalID], r)
	}
	return res, added, nil
}

// lookup returns the seq and digest of the ids that are stored and which
// job ids are used, and reserves one seq per id: it returns the first.
func lookup(ctx context.Context, tx pgx.Tx, ids, jobIDs []string) (map[string]storedDigest, map[string]bool, int64, error) {
	batch := &pgx.Batch{}
	batch.Queue(`SELECT id, seq, digest FROM events WHERE id = ANY($1)`, ids)
	batch.Queue(`SELECT id FROM jobs WHERE id = ANY($1)`, jobIDs)
	batch.Queue(`SELECT setval(s, nextval(s) + $1 - 1) - $1 + 1
		FROM pg_get_serial_sequence('events', 'seq') AS s`, int64(max(len(ids), 1)))
	results := tx.SendBatch(ctx, batch)
	defer results.Close()

	stored := map[string]storedDigest{}
	rows, err := results.Query()
	if err != nil {
		return nil, nil, 0, err
	}
	for rows.Next() {
		var id string
		var d storedDigest
		if err := rows.Scan(&id, &d.seq, &d.digest); err != nil {
			rows.Close()
			return nil, nil, 0, err
		}
		stored[id] = d
	}
	if err := rows.Err(); err != nil {
		return nil, nil, 0, err
	}
	rows, err = results.Query()
	if err != nil {
		return nil, nil, 0, err
	}
	used, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, 0, err
	}
	usedJobs := map[string]bool{}
	for _, id := range used {
		usedJobs[id] = true
	}
	var first int64
	if err := results.QueryRow().Scan(&first); err != nil {
		return nil, nil, 0, err
	}
	return stored, usedJobs, first, results.Close()
}

var eventFields = []string{"seq", "id", "type", "action", "profile", "sensor", "event_time", "actor_id",
	"actor_email", "object_id", "job_id", "stored", "digest", "json"}

// write inserts the plan's events, jobs and facts.
func (p *appendPlan) write(ctx context.Context, tx pgx.Tx) error {
	if len(p.added) > 0 {
		if err := p.insertEvents(ctx, tx); err != nil {
			return err
		}
	}
	if len(p.jobs) > 0 {
		var ids []string
		var processed []time.Time
		var results [][]byte
		for _, j := range p.jobs {
			b, err := json.Marshal(j.Results)
			if err != nil {
				return err
			}
			ids, processed, results = append(ids, j.ID), append(processed, j.Processed), append(results, b)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO jobs (id, processed, results)
			SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::jsonb[])`, ids, processed, results); err != nil {
			return err
		}
	}
	if len(p.added) == 0 {
		return nil
	}
	return facts.KeepDecoded(ctx, ledger{tx}, p.added, p.decoded)
}

// insertEvents copies the plan's events with the seqs planBatch gave them.
func (p *appendPlan) insertEvents(ctx context.Context, tx pgx.Tx) error {
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventFields,
		pgx.CopyFromSlice(len(p.added), func(i int) ([]any, error) {
			ev := p.added[i]
			return []any{ev.Seq, ev.ID, ev.Type, ev.Action, ev.Profile, ev.Sensor, ev.EventTime, ev.ActorID,
				ev.ActorEmail, ev.ObjectID, ev.JobID, ev.Stored, p.digests[i], ev.JSON}, nil
		}))
	if err != nil {
		return err
	}
	if int(n) != len(p.added) {
		return fmt.Errorf("postgres: copied %d of %d events", n, len(p.added))
	}
	for _, ev := range p.added {
		for _, r := range p.pending[ev.ID] {
			r.AllocatedID = strconv.FormatInt(ev.Seq, 10)
		}
	}
	return nil
}

// factError is the outcome of a batch with an event that passed validation
// but whose facts cannot be derived.
func factError(err error) error {
	return &timeback.Error{Code: timeback.CodeInvalid, Message: err.Error(), Err: err}
}
