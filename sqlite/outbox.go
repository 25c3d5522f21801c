package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// OutboxEntry is one event waiting in an Outbox.
type OutboxEntry struct {
	// Seq orders the entries. The outbox assigns it on Append and never
	// reuses a value, so a later append always has a larger Seq.
	Seq int64
	// ID is the Caliper event id.
	ID string
	// JSON is the encoded event, sent unchanged on every attempt.
	JSON []byte
	// EnqueuedAt is when the event was appended, with millisecond precision.
	EnqueuedAt time.Time
}

// DeadLetter is an event that the endpoint rejected and that the sender
// stopped trying to deliver.
type DeadLetter struct {
	OutboxEntry
	// Status is the HTTP status of the rejection.
	Status int
	// Message is the endpoint's explanation of the rejection.
	Message string
	// FailedAt is when the event was dead-lettered.
	FailedAt time.Time
}

// OutboxStats counts what an outbox contains.
type OutboxStats struct {
	Queued      int
	QueuedBytes int64
	// Oldest is the EnqueuedAt of the oldest queued event, zero when the
	// queue is empty.
	Oldest time.Time
	// LastSeq is the largest Seq queued, 0 when the queue is empty.
	LastSeq int64
	Dead    int
}

// ErrOutboxClosed is returned by the methods of a closed Outbox.
var ErrOutboxClosed = errors.New("sqlite: outbox closed")

// ErrOutboxLocked is returned by OpenOutbox when another process has the
// outbox open.
var ErrOutboxLocked = errors.New("sqlite: outbox locked by another process")

var outboxMigrations = []string{
	`CREATE TABLE outbox (
		seq         INTEGER PRIMARY KEY AUTOINCREMENT,
		event_id    TEXT    NOT NULL,
		body        BLOB    NOT NULL,
		enqueued_at INTEGER NOT NULL -- Unix milliseconds
	);
	CREATE TABLE dead_letter (
		seq         INTEGER PRIMARY KEY,
		event_id    TEXT    NOT NULL,
		body        BLOB    NOT NULL,
		enqueued_at INTEGER NOT NULL,
		status      INTEGER NOT NULL,
		message     TEXT    NOT NULL,
		failed_at   INTEGER NOT NULL
	);`,
}

// Outbox is a durable queue of events in a SQLite file. Writes of concurrent
// callers share one transaction and one fsync (group commit), and every write
// method returns only after its commit is durable. Only one process may have
// an outbox open at a time. Its methods are safe for concurrent use.
type Outbox struct {
	path   string
	db     *sql.DB
	lock   *os.File
	writes chan *outboxWrite
	stop   chan struct{}
	done   chan struct{}

	mu     sync.RWMutex // guards closed against the writes channel
	closed bool
}

// outboxWrite is one caller's write, run inside a shared transaction.
type outboxWrite struct {
	ctx    context.Context
	apply  func(tx *outboxTx) error
	result chan error
}

// outboxTx is a transaction shared by several writes, with the statements
// they have in common prepared once. Appended entries wait in pending and
// are inserted together, with few statements, before the commit.
type outboxTx struct {
	*sql.Tx
	delete  *sql.Stmt
	pending []*OutboxEntry
}

// insertChunk is the most rows one INSERT statement carries: 3 variables a
// row stays far below SQLite's default limit of 32766 variables.
const insertChunk = 500

// insertPending inserts the pending entries and sets their Seq. Within one
// INSERT, SQLite assigns the AUTOINCREMENT rowids of the rows in order and
// consecutively, because the transaction is the only writer, so the Seq of
// each row follows from the last one.
func (tx *outboxTx) insertPending() error {
	for start := 0; start < len(tx.pending); start += insertChunk {
		rows := tx.pending[start:min(start+insertChunk, len(tx.pending))]
		query := `INSERT INTO outbox (event_id, body, enqueued_at) VALUES ` +
			strings.Repeat("(?, ?, ?), ", len(rows)-1) + "(?, ?, ?)"
		args := make([]any, 0, 3*len(rows))
		for _, e := range rows {
			args = append(args, e.ID, e.JSON, e.EnqueuedAt.UnixMilli())
		}
		res, err := tx.Exec(query, args...)
		if err != nil {
			return err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for i, e := range rows {
			e.Seq = last - int64(len(rows)-1-i)
		}
	}
	tx.pending = tx.pending[:0]
	return nil
}

func (tx *outboxTx) deleteStmt() (*sql.Stmt, error) {
	if tx.delete == nil {
		stmt, err := tx.Prepare(`DELETE FROM outbox WHERE seq = ?`)
		if err != nil {
			return nil, err
		}
		tx.delete = stmt
	}
	return tx.delete, nil
}

// maxWritesPerCommit bounds how many callers share one transaction, so that
// a commit stays short when thousands of callers are waiting.
const maxWritesPerCommit = 256

// OpenOutbox opens the outbox at path, creating the file and its folder when
// missing, and locks it against other processes: on Unix with an flock on
// the file path+".lock", which stays beside it. The error wraps
// ErrOutboxLocked when another process holds the lock.
func OpenOutbox(ctx context.Context, path string) (*Outbox, error) {
	if path == "" {
		return nil, errors.New("sqlite: outbox path is empty")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create outbox folder: %w", err)
	}
	lock, err := lockOutbox(path + ".lock")
	if err != nil {
		return nil, err
	}
	db, err := openDB(path)
	if err != nil {
		lock.Close()
		return nil, outboxOpenError(path, err)
	}
	if err := migrate(ctx, db, outboxMigrations); err != nil {
		db.Close()
		lock.Close()
		return nil, outboxOpenError(path, err)
	}
	o := &Outbox{
		path:   path,
		db:     db,
		lock:   lock,
		writes: make(chan *outboxWrite, maxWritesPerCommit),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go o.commitLoop()
	return o, nil
}

// outboxOpenError adds to err what the user can do about the usual causes.
func outboxOpenError(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not a database"), strings.Contains(msg, "malformed"):
		return fmt.Errorf("sqlite: outbox %s is corrupt: %w; move the file aside to start a new outbox"+
			" (the events in it cannot be delivered)", path, err)
	case strings.Contains(msg, "readonly"), strings.Contains(msg, "permission denied"),
		strings.Contains(msg, "unable to open"):
		return fmt.Errorf("sqlite: outbox %s cannot be opened for writing: %w; check the permissions"+
			" of the file and its folder, or choose another outbox path", path, err)
	case strings.Contains(msg, "locked"), strings.Contains(msg, "busy"):
		return fmt.Errorf("sqlite: outbox %s is in use by another program: %w; stop it or choose"+
			" another outbox path", path, err)
	}
	return fmt.Errorf("sqlite: open outbox %s: %w", path, err)
}

// outboxWriteError adds to err what the user can do about the usual causes.
func outboxWriteError(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "full"):
		return fmt.Errorf("sqlite: write outbox %s: %w; free disk space and send again", path, err)
	case strings.Contains(msg, "readonly"):
		return fmt.Errorf("sqlite: write outbox %s: %w; the file became read-only, check its permissions",
			path, err)
	}
	return fmt.Errorf("sqlite: write outbox %s: %w", path, err)
}

// Path returns the outbox's file name.
func (o *Outbox) Path() string { return o.path }

// Append adds entries to the queue, sets their Seq, and returns once they are
// durable. EnqueuedAt is stored with millisecond precision.
func (o *Outbox) Append(ctx context.Context, entries []OutboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return o.write(ctx, func(tx *outboxTx) error {
		for i := range entries {
			tx.pending = append(tx.pending, &entries[i])
		}
		return nil
	})
}

// Peek returns the oldest queued entries, at most maxEvents of them and, past
// the first, at most maxBytes of JSON in total. It leaves them queued.
func (o *Outbox) Peek(ctx context.Context, maxEvents, maxBytes int) ([]OutboxEntry, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := o.db.QueryContext(ctx,
		`SELECT seq, event_id, body, enqueued_at FROM outbox ORDER BY seq LIMIT ?`, maxEvents)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read outbox %s: %w", o.path, err)
	}
	defer rows.Close()
	var out []OutboxEntry
	size := 0
	for rows.Next() {
		var e OutboxEntry
		var at int64
		if err := rows.Scan(&e.Seq, &e.ID, &e.JSON, &at); err != nil {
			return nil, fmt.Errorf("sqlite: read outbox %s: %w", o.path, err)
		}
		if len(out) > 0 && size+len(e.JSON) > maxBytes {
			break
		}
		size += len(e.JSON)
		e.EnqueuedAt = time.UnixMilli(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read outbox %s: %w", o.path, err)
	}
	return out, nil
}

// Delete removes delivered entries by Seq.
func (o *Outbox) Delete(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	return o.write(ctx, func(tx *outboxTx) error {
		stmt, err := tx.deleteStmt()
		if err != nil {
			return err
		}
		for _, seq := range seqs {
			if _, err := stmt.Exec(seq); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeadLetter moves entries from the queue to the dead-letter table with the
// status and message of their rejection, in one transaction.
func (o *Outbox) DeadLetter(ctx context.Context, entries []OutboxEntry, status int, message string,
	at time.Time) error {
	if len(entries) == 0 {
		return nil
	}
	return o.write(ctx, func(tx *outboxTx) error {
		ins, err := tx.Prepare(`INSERT OR REPLACE INTO dead_letter
			(seq, event_id, body, enqueued_at, status, message, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		del, err := tx.deleteStmt()
		if err != nil {
			return err
		}
		for _, e := range entries {
			if _, err := ins.Exec(e.Seq, e.ID, e.JSON, e.EnqueuedAt.UnixMilli(),
				status, message, at.UnixMilli()); err != nil {
				return err
			}
			if _, err := del.Exec(e.Seq); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeadLetters returns up to limit dead letters, oldest first, starting after
// the given Seq. A limit of 0 or less returns all of them.
func (o *Outbox) DeadLetters(ctx context.Context, afterSeq int64, limit int) ([]DeadLetter, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1 // SQLite reads a negative LIMIT as no limit
	}
	rows, err := o.db.QueryContext(ctx, `SELECT seq, event_id, body, enqueued_at, status, message,
		failed_at FROM dead_letter WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read dead letters of %s: %w", o.path, err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var enqueued, failed int64
		if err := rows.Scan(&d.Seq, &d.ID, &d.JSON, &enqueued, &d.Status, &d.Message, &failed); err != nil {
			return nil, fmt.Errorf("sqlite: read dead letters of %s: %w", o.path, err)
		}
		d.EnqueuedAt, d.FailedAt = time.UnixMilli(enqueued), time.UnixMilli(failed)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read dead letters of %s: %w", o.path, err)
	}
	return out, nil
}

// Requeue moves dead letters back to the end of the queue with new Seq
// values and returns how many it moved. With no ids it moves all of them;
// otherwise it moves those whose event id is listed.
func (o *Outbox) Requeue(ctx context.Context, ids ...string) (int, error) {
	moved := 0
	err := o.write(ctx, func(tx *outboxTx) error {
		moved = 0
		where, args := "", []any{}
		if len(ids) > 0 {
			where = " WHERE event_id IN (" + strings.Repeat("?,", len(ids)-1) + "?)"
			for _, id := range ids {
				args = append(args, id)
			}
		}
		res, err := tx.Exec(`INSERT INTO outbox (event_id, body, enqueued_at)
			SELECT event_id, body, enqueued_at FROM dead_letter`+where+` ORDER BY seq`, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM dead_letter`+where, args...); err != nil {
			return err
		}
		moved = int(n)
		return nil
	})
	return moved, err
}

// Stats counts the queued events and the dead letters.
func (o *Outbox) Stats(ctx context.Context) (OutboxStats, error) {
	var s OutboxStats
	if err := o.checkOpen(); err != nil {
		return s, err
	}
	var oldest sql.NullInt64
	err := o.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(length(body)), 0),
		coalesce(max(seq), 0), (SELECT enqueued_at FROM outbox ORDER BY seq LIMIT 1) FROM outbox`).
		Scan(&s.Queued, &s.QueuedBytes, &s.LastSeq, &oldest)
	if err != nil {
		return s, fmt.Errorf("sqlite: read outbox %s: %w", o.path, err)
	}
	if oldest.Valid {
		s.Oldest = time.UnixMilli(oldest.Int64)
	}
	if err := o.db.QueryRowContext(ctx, `SELECT count(*) FROM dead_letter`).Scan(&s.Dead); err != nil {
		return s, fmt.Errorf("sqlite: read dead letters of %s: %w", o.path, err)
	}
	return s, nil
}

// Close waits for the writes in progress, then closes the database and
// releases the lock. The queued events stay in the file.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	o.mu.Unlock()

	close(o.stop)
	<-o.done
	err := o.db.Close()
	if lerr := o.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

func (o *Outbox) checkOpen() error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.closed {
		return ErrOutboxClosed
	}
	return nil
}

// write hands apply to the commit loop and waits for its durable commit.
func (o *Outbox) write(ctx context.Context, apply func(tx *outboxTx) error) error {
	w := &outboxWrite{ctx: ctx, apply: apply, result: make(chan error, 1)}
	o.mu.RLock()
	if o.closed {
		o.mu.RUnlock()
		return ErrOutboxClosed
	}
	select {
	case o.writes <- w:
	case <-ctx.Done():
		o.mu.RUnlock()
		return ctx.Err()
	}
	o.mu.RUnlock()

	// The write may already be in a transaction, so the caller waits for
	// its outcome even when ctx ends: it must not report a failure for
	// events that are committed.
	return <-w.result
}

// commitLoop runs the queued writes, merging the writes of concurrent callers
// into one transaction.
func (o *Outbox) commitLoop() {
	defer close(o.done)
	previous := 0 // writes in the last commit
	for {
		var first *outboxWrite
		select {
		case first = <-o.writes:
		case <-o.stop:
			o.drainWrites()
			return
		}
		batch := o.collect([]*outboxWrite{first}, previous)
		previous = len(batch)
		o.commit(batch)
	}
}

// commitDelay bounds how long a commit waits for more writers to join it.
// In BenchmarkSend on 2 shared cores, 16 goroutines sending one event per
// call gained 10-40% events/s from this wait.
const commitDelay = 200 * time.Microsecond

// collect adds the writes that are already waiting to batch. When fewer are
// waiting than joined the previous commit, the callers of that commit are
// likely preparing their next write, so it waits up to commitDelay for them.
// A lone caller (previous of 1) never waits.
func (o *Outbox) collect(batch []*outboxWrite, previous int) []*outboxWrite {
	for len(batch) < maxWritesPerCommit {
		select {
		case w := <-o.writes:
			batch = append(batch, w)
			continue
		default:
		}
		break
	}
	if len(batch) >= previous {
		return batch
	}
	timer := time.NewTimer(commitDelay)
	defer timer.Stop()
	for len(batch) < previous {
		select {
		case w := <-o.writes:
			batch = append(batch, w)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// drainWrites runs the writes that were handed over before Close.
func (o *Outbox) drainWrites() {
	for {
		select {
		case w := <-o.writes:
			o.commit([]*outboxWrite{w})
		default:
			return
		}
	}
}

// commit runs batch in one transaction. When that fails, it runs each write
// in a transaction of its own, so that one failing write does not fail the
// others.
func (o *Outbox) commit(batch []*outboxWrite) {
	if len(batch) > 1 {
		if err := o.runTx(batch); err == nil {
			for _, w := range batch {
				w.result <- nil
			}
			return
		}
	}
	for _, w := range batch {
		if err := o.runTx([]*outboxWrite{w}); err != nil {
			w.result <- outboxWriteError(o.path, err)
			continue
		}
		w.result <- nil
	}
}

func (o *Outbox) runTx(batch []*outboxWrite) error {
	// The transaction does not use the callers' contexts: one caller giving
	// up must not roll back the writes of the others.
	sqlTx, err := o.db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	tx := &outboxTx{Tx: sqlTx}
	for _, w := range batch {
		// A caller that gave up before its write started is left out. A
		// write already in the transaction commits or fails with the others.
		if err := w.ctx.Err(); err != nil {
			tx.Rollback()
			return err
		}
		if err := w.apply(tx); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.insertPending(); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
