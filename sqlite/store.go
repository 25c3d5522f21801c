package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	timeback "github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/eventstore"
)

// storeMigrations create the event store's tables. Append new statements
// at the end and never edit one that has shipped, because PRAGMA
// user_version counts the applied ones.
//
// Seq is the rowid, so store order is commit order: one writer at a time
// holds SQLite's write lock, and rows are never deleted. Digest is the
// SHA-256 of the event's canonical JSON, which distinguishes a duplicate
// from a conflict without keeping a second copy of the event.
var storeMigrations = []string{
	`CREATE TABLE events (
		seq         INTEGER PRIMARY KEY,
		id          TEXT    NOT NULL UNIQUE,
		type        TEXT    NOT NULL,
		action      TEXT    NOT NULL,
		profile     TEXT    NOT NULL,
		sensor      TEXT    NOT NULL,
		event_time  INTEGER NOT NULL, -- Unix milliseconds
		actor_id    TEXT    NOT NULL,
		actor_email TEXT    NOT NULL,
		object_id   TEXT    NOT NULL,
		job_id      TEXT    NOT NULL,
		stored      INTEGER NOT NULL, -- Unix milliseconds
		digest      BLOB    NOT NULL,
		json        BLOB    NOT NULL
	);
	CREATE INDEX events_sensor ON events (sensor, seq);
	CREATE INDEX events_actor_id ON events (actor_id, seq);
	CREATE INDEX events_actor_email ON events (actor_email, seq);
	CREATE INDEX events_event_time ON events (event_time, seq);
	CREATE TABLE jobs (
		id        TEXT    PRIMARY KEY,
		processed INTEGER NOT NULL, -- Unix milliseconds
		results   TEXT    NOT NULL  -- JSON array of timeback.JobResult
	);`,
}

// Migrations returns the statements that create the event store's schema,
// for programs that compare against a bare SQLite insert.
func Migrations() []string { return append([]string(nil), storeMigrations...) }

// Config tunes a Store. The zero value is ready to use.
type Config struct {
	// Now returns the current time for stored and processed times.
	// Nil means time.Now.
	Now func() time.Time
	// Facts, when set, is called inside the transaction of every batch
	// that adds events.
	Facts timeback.FactWriter[*sql.Tx]
}

// Store is a timeback.EventStore in one SQLite file.
type Store struct {
	db     *sql.DB
	now    func() time.Time
	facts  timeback.FactWriter[*sql.Tx]
	closed atomic.Bool
}

var _ timeback.EventStore = (*Store)(nil)

// Open opens or creates the event store in the SQLite file at path and
// applies the migrations it has not seen yet.
func Open(ctx context.Context, path string, cfg Config) (*Store, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, storeMigrations); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, now: cfg.Now, facts: cfg.Facts}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// DB returns the store's database handle, for packages that keep their own
// tables in the same file, such as the facts that a FactWriter writes.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database. Appends in progress finish first.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return &timeback.Error{Code: timeback.CodeUnavailable, Message: "sqlite: store is closed",
			Err: timeback.ErrStoreClosed}
	}
	return nil
}

// Append stores the batches in one immediate transaction. A batch that
// conflicts is left out before any of its rows is written, so the other
// batches still commit. When the FactWriter fails on a batch, whose rows
// are written by then, the transaction is rolled back and run again
// without that batch. Such a redo is rare, and it spares every batch a
// savepoint, whose sub-journal costs a write of every page a batch
// touches.
func (s *Store) Append(ctx context.Context, batches []*timeback.Batch) ([]timeback.AppendResult, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	factFailed := map[int]error{}
	for {
		results, failed, err := s.appendOnce(ctx, batches, factFailed)
		if err != nil {
			return nil, err
		}
		if failed == nil {
			return results, nil
		}
		factFailed[failed.batch] = failed.err
	}
}

// factFailure names the batch whose FactWriter failed in an appendOnce.
type factFailure struct {
	batch int
	err   error
}

// appendOnce runs one Append transaction, leaving out the batches in skip
// with their errors as results. When a batch's FactWriter fails, it rolls
// back and returns that batch instead of results.
func (s *Store) appendOnce(ctx context.Context, batches []*timeback.Batch,
	skip map[int]error) ([]timeback.AppendResult, *factFailure, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, unavailable("begin transaction", err)
	}
	defer tx.Rollback()

	w, err := s.newAppendWriter(ctx, tx)
	if err != nil {
		return nil, nil, unavailable("prepare statements", err)
	}
	defer w.close()

	results := make([]timeback.AppendResult, len(batches))
	for i, b := range batches {
		if err, ok := skip[i]; ok {
			results[i] = timeback.AppendResult{Err: err}
			continue
		}
		var factErr error
		results[i], factErr, err = w.appendBatch(ctx, b)
		if err != nil {
			return nil, nil, unavailable("append batch "+b.JobID, err)
		}
		if factErr != nil {
			return nil, &factFailure{batch: i, err: factError(factErr)}, nil
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, unavailable("commit", err)
	}
	return results, nil, nil
}

func unavailable(step string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &timeback.Error{Code: timeback.CodeUnavailable, Message: "sqlite: " + step + " canceled", Err: err}
	}
	return &timeback.Error{Code: timeback.CodeUnavailable, Message: "sqlite: " + step + " failed", Err: err}
}

// appendWriter holds the prepared statements of one Append transaction and
// the ids it has stored so far, so that a later batch of the same
// transaction finds an earlier one's events as duplicates.
type appendWriter struct {
	s       *Store
	tx      *sql.Tx
	now     time.Time
	insert  *sql.Stmt
	saveJob *sql.Stmt
	stored  map[string]storedID
	jobs    map[string]bool
}

// storedID is the sequence number and content digest of a stored event.
type storedID struct {
	seq    int64
	digest [sha256.Size]byte
}

// lookupChunk bounds the ids of one lookup query, well below SQLite's
// default limit of 32766 host parameters.
const lookupChunk = 500

func (s *Store) newAppendWriter(ctx context.Context, tx *sql.Tx) (*appendWriter, error) {
	w := &appendWriter{s: s, tx: tx, now: s.now(), stored: map[string]storedID{}, jobs: map[string]bool{}}
	var err error
	w.insert, err = tx.PrepareContext(ctx, `INSERT INTO events
		(id, type, action, profile, sensor, event_time, actor_id, actor_email, object_id,
		 job_id, stored, digest, json)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING seq`)
	if err != nil {
		return nil, err
	}
	w.saveJob, err = tx.PrepareContext(ctx, `INSERT INTO jobs (id, processed, results) VALUES (?, ?, ?)`)
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *appendWriter) close() {
	for _, st := range []*sql.Stmt{w.insert, w.saveJob} {
		if st != nil {
			st.Close()
		}
	}
}

// appendBatch stores one batch. It checks the whole batch for conflicts
// before it writes a row, so a rejected batch leaves nothing to undo. A
// rejected batch comes back as a result with Err set. factErr is the
// FactWriter's error, after the batch's rows are written, so the caller
// must roll back. err means the transaction itself failed.
func (w *appendWriter) appendBatch(ctx context.Context, b *timeback.Batch) (res timeback.AppendResult,
	factErr, err error) {
	if err := eventstore.CheckBatch("sqlite", b); err != nil {
		return timeback.AppendResult{Err: err}, nil, nil
	}
	if rejected, err := w.checkJobID(ctx, b.JobID); rejected != nil || err != nil {
		return timeback.AppendResult{Err: rejected}, nil, err
	}
	existing, err := w.lookup(ctx, b)
	if err != nil {
		return timeback.AppendResult{}, nil, err
	}
	digests := make([][sha256.Size]byte, len(b.Events))
	for i := range b.Events {
		digests[i] = sha256.Sum256(b.Events[i].Canonical)
		if have, ok := existing[b.Events[i].Item.ID]; ok && have.digest != digests[i] {
			return timeback.AppendResult{Err: eventstore.Conflict(&b.Events[i])}, nil, nil
		}
	}

	written, err := w.writeBatch(ctx, b, digests, existing)
	if err != nil {
		return timeback.AppendResult{}, nil, err
	}
	if w.s.facts != nil && len(written.added) > 0 {
		if err := w.s.facts.WriteFacts(ctx, w.tx, b, written.added); err != nil {
			return timeback.AppendResult{}, err, nil
		}
	}
	return written.AppendResult, nil, nil
}

// checkJobID returns a rejection when the job id is stored already, and
// an error when the lookup failed.
func (w *appendWriter) checkJobID(ctx context.Context, id string) (rejected, err error) {
	used := w.jobs[id]
	if !used {
		var one int
		err := w.tx.QueryRowContext(ctx, `SELECT 1 FROM jobs WHERE id = ?`, id).Scan(&one)
		switch {
		case err == nil:
			used = true
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
	}
	if used {
		return eventstore.JobIDUsed(id), nil
	}
	return nil, nil
}

// lookup returns the events of b whose ids are stored already, by this
// transaction or an earlier one.
func (w *appendWriter) lookup(ctx context.Context, b *timeback.Batch) (map[string]storedID, error) {
	found := map[string]storedID{}
	var ask []any
	for _, ev := range b.Events {
		if have, ok := w.stored[ev.Item.ID]; ok {
			found[ev.Item.ID] = have
			continue
		}
		ask = append(ask, ev.Item.ID)
	}
	for len(ask) > 0 {
		chunk := ask[:min(len(ask), lookupChunk)]
		ask = ask[len(chunk):]
		query := `SELECT id, seq, digest FROM events WHERE id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		rows, err := w.tx.QueryContext(ctx, query, chunk...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var have storedID
			var digest []byte
			if err := rows.Scan(&id, &have.seq, &digest); err != nil {
				rows.Close()
				return nil, err
			}
			copy(have.digest[:], digest)
			found[id] = have
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// batchResult is an AppendResult with the events the batch added, for the
// FactWriter.
type batchResult struct {
	timeback.AppendResult
	added []*timeback.StoredEvent
}

// writeBatch inserts the events of b that existing does not list, and the
// job row.
func (w *appendWriter) writeBatch(ctx context.Context, b *timeback.Batch, digests [][sha256.Size]byte,
	existing map[string]storedID) (batchResult, error) {
	job := &timeback.Job{ID: b.JobID, State: timeback.JobCompleted, Processed: w.now,
		Results: make([]timeback.JobResult, 0, len(b.Events))}
	res := batchResult{AppendResult: timeback.AppendResult{Job: job}}

	for i := range b.Events {
		ev := &b.Events[i]
		if have, ok := existing[ev.Item.ID]; ok {
			res.Duplicates++
			job.Results = append(job.Results, timeback.JobResult{
				AllocatedID: strconv.FormatInt(have.seq, 10), ExternalID: ev.Item.ID, Duplicate: true})
			continue
		}
		stored := eventstore.NewStoredEvent(b, ev, w.now)
		err := w.insert.QueryRowContext(ctx, stored.ID, stored.Type, stored.Action, stored.Profile,
			stored.Sensor, stored.EventTime.UnixMilli(), stored.ActorID, stored.ActorEmail,
			stored.ObjectID, stored.JobID, w.now.UnixMilli(), digests[i][:], stored.JSON,
		).Scan(&stored.Seq)
		if err != nil {
			return res, err
		}
		w.stored[stored.ID] = storedID{seq: stored.Seq, digest: digests[i]}
		res.added = append(res.added, stored)
		res.Stored++
		job.Results = append(job.Results, timeback.JobResult{
			AllocatedID: strconv.FormatInt(stored.Seq, 10), ExternalID: stored.ID})
	}

	results, err := json.Marshal(job.Results)
	if err != nil {
		return res, err
	}
	if _, err := w.saveJob.ExecContext(ctx, job.ID, job.Processed.UnixMilli(), results); err != nil {
		return res, err
	}
	w.jobs[job.ID] = true
	return res, nil
}

func factError(err error) error {
	var e *timeback.Error
	if errors.As(err, &e) {
		return err
	}
	return &timeback.Error{Code: timeback.CodeInternal, Message: "sqlite: derive facts failed", Err: err}
}
