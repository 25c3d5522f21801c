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
// callers share one transaction (group commit), and every write method
// returns only after its commit is durable. Only one process may have an
// outbox open at a time. Its methods are safe for concurrent use.
//
// The commits are pipelined: one connection writes the transactions with
// synchronous=NORMAL, which in WAL mode writes a commit to the WAL file
// without an fsync, and a second goroutine fsyncs the WAL file and then
// releases the callers of every commit that ended before the fsync began.
// So the next transaction is written while the previous one is being made
// durable, and one fsync covers several commits. The writing connection stays
// open while the outbox is, so SQLite never deletes the WAL file under it.
//
// The newest durable entries also stay in memory, within fixed bounds, so
// that Peek reads the file only for older ones.
type Outbox struct {
	path string
	db   *sql.DB
	// conn is the only connection that writes. Only the commit loop uses
	// it, and with it stmts, the statements prepared on it by query.
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	peek  *sql.Stmt
	wal   *os.File // the WAL file, opened to fsync it
	lock  *os.File
	tail  *outboxTail

	writes   chan *outboxWrite
	syncs    chan []*outboxWrite // committed writes waiting for the fsync
	stop     chan struct{}
	done     chan struct{} // closed when the commit loop has stopped
	syncDone chan struct{} // closed when the sync loop has stopped

	mu     sync.RWMutex // guards closed against the writes channel
	closed bool
}

// outboxWrite is one caller's write, run inside a shared transaction.
type outboxWrite struct {
	ctx    context.Context
	apply  func(tx *outboxTx) error
	change tailChange // set by apply, or before it runs
	result chan error
}

// outboxTx is a transaction shared by several writes on the writing
// connection. Appended entries wait in pending and are inserted together,
// with few statements, before the commit.
type outboxTx struct {
	o       *Outbox
	pending []*OutboxEntry
	args    []any
	change  *tailChange // of the write being applied
}

// exec runs query in the transaction with a statement prepared once for the
// life of the outbox.
func (tx *outboxTx) exec(query string, args ...any) (sql.Result, error) {
	stmt, err := tx.o.stmt(query)
	if err != nil {
		return nil, err
	}
	return stmt.Exec(args...)
}

// insertChunk is the most rows one INSERT statement carries. Each row count
// up to it gets a statement of its own, prepared once, so it stays small:
// 3 variables a row are far below SQLite's default limit of 32766.
const insertChunk = 64

// insertPending inserts the pending entries and sets their Seq. Within one
// INSERT, SQLite assigns the AUTOINCREMENT rowids of the rows in order and
// consecutively, because the transaction is the only writer, so the Seq of
// each row follows from the last one.
func (tx *outboxTx) insertPending() error {
	for start := 0; start < len(tx.pending); start += insertChunk {
		rows := tx.pending[start:min(start+insertChunk, len(tx.pending))]
		args := tx.args[:0]
		for _, e := range rows {
			args = append(args, e.ID, e.JSON, e.EnqueuedAt.UnixMilli())
		}
		tx.args = args
		res, err := tx.exec(insertQuery(len(rows)), args...)
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
	clear(tx.args)
	tx.pending = tx.pending[:0]
	return nil
}

// insertQueries are the INSERT statements of 1 to insertChunk rows.
var insertQueries = func() []string {
	queries := make([]string, insertChunk+1)
	for n := 1; n <= insertChunk; n++ {
		queries[n] = `INSERT INTO outbox (event_id, body, enqueued_at) VALUES ` +
			strings.Repeat("(?, ?, ?), ", n-1) + "(?, ?, ?)"
	}
	return queries
}()

func insertQuery(rows int) string { return insertQueries[rows] }

// deleteSeqs deletes the outbox rows of seqs, one statement for each run of
// consecutive values.
func (tx *outboxTx) deleteSeqs(seqs []int64) error {
	for start := 0; start < len(seqs); {
		end := start + 1
		for end < len(seqs) && seqs[end] == seqs[end-1]+1 {
			end++
		}
		if _, err := tx.exec(`DELETE FROM outbox WHERE seq BETWEEN ? AND ?`, seqs[start],
			seqs[end-1]); err != nil {
			return err
		}
		start = end
	}
	return nil
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
	if fi, err := os.Stat(path); err == nil && fi.IsDir() || os.IsPathSeparator(path[len(path)-1]) {
		return nil, fmt.Errorf("sqlite: outbox %s names a folder; give the path of a file in it, such as %s",
			path, filepath.Join(path, "outbox.db"))
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
	o := &Outbox{
		path:     path,
		db:       db,
		lock:     lock,
		stmts:    make(map[string]*sql.Stmt),
		writes:   make(chan *outboxWrite, maxWritesPerCommit),
		syncs:    make(chan []*outboxWrite, maxWritesPerCommit),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		syncDone: make(chan struct{}),
	}
	if err := o.open(ctx); err != nil {
		o.closeFiles()
		return nil, outboxOpenError(path, err)
	}
	go o.commitLoop()
	go o.syncLoop()
	return o, nil
}

// open migrates the database, pins the writing connection and opens the WAL
// file.
func (o *Outbox) open(ctx context.Context) error {
	if err := migrate(ctx, o.db, outboxMigrations); err != nil {
		return err
	}
	conn, err := o.db.Conn(ctx)
	if err != nil {
		return err
	}
	o.conn = conn
	// The sync loop makes the commits durable, so the commits themselves
	// skip the fsync. Checkpoints still fsync the WAL and the database.
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return err
	}
	if o.peek, err = o.db.PrepareContext(ctx, `SELECT seq, event_id, body, enqueued_at FROM outbox
		WHERE seq <= ? ORDER BY seq LIMIT ?`); err != nil {
		return err
	}
	// The entries queued by earlier processes are only in the file.
	var last int64
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM outbox`).Scan(&last); err != nil {
		return err
	}
	o.tail = newOutboxTail(last)
	// The open connection in WAL mode has created the WAL file, which
	// stays until the last connection closes.
	if o.wal, err = os.OpenFile(o.path+"-wal", os.O_RDWR, 0); err != nil {
		return err
	}
	// A new WAL file is durable only once its folder entry is.
	return syncFolder(filepath.Dir(o.path))
}

// closeFiles closes the statements, the connections and the files.
func (o *Outbox) closeFiles() error {
	var errs []error
	for _, stmt := range o.stmts {
		errs = append(errs, stmt.Close())
	}
	if o.peek != nil {
		errs = append(errs, o.peek.Close())
	}
	if o.conn != nil {
		errs = append(errs, o.conn.Close())
	}
	errs = append(errs, o.db.Close())
	if o.wal != nil {
		errs = append(errs, o.wal.Close())
	}
	errs = append(errs, o.lock.Close())
	return errors.Join(errs...)
}

// stmt returns the statement of query prepared on the writing connection.
func (o *Outbox) stmt(query string) (*sql.Stmt, error) {
	if stmt, ok := o.stmts[query]; ok {
		return stmt, nil
	}
	stmt, err := o.conn.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	o.stmts[query] = stmt
	return stmt, nil
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
		return fmt.Errorf("sqlite: write outbox %s: %w; the file is read-only: check its permissions and"+
			" attributes, or choose another outbox path", path, err)
	case strings.Contains(msg, "I/O error"):
		return fmt.Errorf("sqlite: write outbox %s: %w; check the disk, and that the file and its folder"+
			" are still writable (not read-only or immutable), then send again", path, err)
	case strings.Contains(msg, "malformed"), strings.Contains(msg, "not a database"):
		return fmt.Errorf("sqlite: write outbox %s: %w; the outbox is corrupt: move the file aside to"+
			" start a new outbox", path, err)
	}
	return fmt.Errorf("sqlite: write outbox %s: %w", path, err)
}

// outboxReadError describes a failed read of the outbox at path, adding
// what the user can do about corruption.
func outboxReadError(what, path string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "malformed") || strings.Contains(msg, "not a database") {
		return fmt.Errorf("sqlite: %s %s: %w; the outbox is corrupt: move the file aside to start a new"+
			" outbox (the events in it cannot be delivered)", what, path, err)
	}
	return fmt.Errorf("sqlite: %s %s: %w", what, path, err)
}

// CheckWritable returns an error when the outbox cannot be written. SQLite
// opens a file that it may not write read-only without an error, so without
// this check only the first write would fail. It rewrites the schema
// version with its current value, because a transaction that changes no
// page writes nothing.
func (o *Outbox) CheckWritable(ctx context.Context) error {
	return o.write(ctx, tailChange{}, func(tx *outboxTx) error {
		_, err := tx.exec(fmt.Sprintf("PRAGMA user_version = %d", len(outboxMigrations)))
		return err
	})
}

// Path returns the outbox's file name.
func (o *Outbox) Path() string { return o.path }

// Append adds entries to the queue, sets their Seq, and returns once they are
// durable. EnqueuedAt is stored with millisecond precision. The outbox keeps
// the entries' JSON in memory for Peek, so the caller must not change it
// after Append.
func (o *Outbox) Append(ctx context.Context, entries []OutboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return o.write(ctx, tailChange{appended: entries}, func(tx *outboxTx) error {
		for i := range entries {
			tx.pending = append(tx.pending, &entries[i])
		}
		return nil
	})
}

// Peek returns the oldest queued entries, at most maxEvents of them and, past
// the first, at most maxBytes of JSON in total. It leaves them queued. It
// reads the file only for entries that the outbox no longer keeps in
// memory, as those queued by an earlier process.
func (o *Outbox) Peek(ctx context.Context, maxEvents, maxBytes int) ([]OutboxEntry, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	if maxEvents <= 0 {
		return nil, nil
	}
	for {
		entries, ok, diskSeq, gen := o.tail.peek(maxEvents, maxBytes)
		if ok {
			return entries, nil
		}
		entries, err := o.peekFile(ctx, diskSeq, maxEvents, maxBytes)
		if err != nil || len(entries) > 0 {
			return entries, err
		}
		o.tail.fileDrained(gen)
	}
}

// peekFile reads the oldest queued entries with Seq up to diskSeq from the
// file, within the limits of Peek.
func (o *Outbox) peekFile(ctx context.Context, diskSeq int64, maxEvents, maxBytes int) ([]OutboxEntry,
	error) {
	rows, err := o.peek.QueryContext(ctx, diskSeq, maxEvents)
	if err != nil {
		return nil, outboxReadError("read outbox", o.path, err)
	}
	defer rows.Close()
	var out []OutboxEntry
	size := 0
	for rows.Next() {
		var e OutboxEntry
		var at int64
		if err := rows.Scan(&e.Seq, &e.ID, &e.JSON, &at); err != nil {
			return nil, outboxReadError("read outbox", o.path, err)
		}
		if len(out) > 0 && size+len(e.JSON) > maxBytes {
			break
		}
		size += len(e.JSON)
		e.EnqueuedAt = time.UnixMilli(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, outboxReadError("read outbox", o.path, err)
	}
	return out, nil
}

// Delete removes delivered entries by Seq.
func (o *Outbox) Delete(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	return o.write(ctx, tailChange{removed: seqs}, func(tx *outboxTx) error { return tx.deleteSeqs(seqs) })
}

// DeadLetter moves entries from the queue to the dead-letter table with the
// status and message of their rejection, in one transaction.
func (o *Outbox) DeadLetter(ctx context.Context, entries []OutboxEntry, status int, message string,
	at time.Time) error {
	if len(entries) == 0 {
		return nil
	}
	seqs := make([]int64, len(entries))
	for i, e := range entries {
		seqs[i] = e.Seq
	}
	return o.write(ctx, tailChange{removed: seqs}, func(tx *outboxTx) error {
		for _, e := range entries {
			if _, err := tx.exec(`INSERT OR REPLACE INTO dead_letter
				(seq, event_id, body, enqueued_at, status, message, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				e.Seq, e.ID, e.JSON, e.EnqueuedAt.UnixMilli(), status, message, at.UnixMilli()); err != nil {
				return err
			}
		}
		return tx.deleteSeqs(seqs)
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
		return nil, outboxReadError("read dead letters of", o.path, err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var enqueued, failed int64
		if err := rows.Scan(&d.Seq, &d.ID, &d.JSON, &enqueued, &d.Status, &d.Message, &failed); err != nil {
			return nil, outboxReadError("read dead letters of", o.path, err)
		}
		d.EnqueuedAt, d.FailedAt = time.UnixMilli(enqueued), time.UnixMilli(failed)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, outboxReadError("read dead letters of", o.path, err)
	}
	return out, nil
}

// Requeue moves dead letters back to the end of the queue with new Seq
// values and returns how many it moved. With no ids it moves all of them;
// otherwise it moves those whose event id is listed.
func (o *Outbox) Requeue(ctx context.Context, ids ...string) (int, error) {
	moved := 0
	err := o.write(ctx, tailChange{}, func(tx *outboxTx) error {
		moved = 0
		where, args := "", []any{}
		if len(ids) > 0 {
			where = " WHERE event_id IN (" + strings.Repeat("?,", len(ids)-1) + "?)"
			for _, id := range ids {
				args = append(args, id)
			}
		}
		res, err := tx.o.conn.ExecContext(context.Background(), `INSERT INTO outbox (event_id, body, enqueued_at)
			SELECT event_id, body, enqueued_at FROM dead_letter`+where+` ORDER BY seq`, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n > 0 {
			if tx.change.queuedUpTo, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		if _, err := tx.o.conn.ExecContext(context.Background(), `DELETE FROM dead_letter`+where,
			args...); err != nil {
			return err
		}
		moved = int(n)
		return nil
	})
	return moved, err
}

// QueuedIDs returns the event ids of the queued entries, oldest first.
func (o *Outbox) QueuedIDs(ctx context.Context) ([]string, error) {
	return o.ids(ctx, `SELECT event_id FROM outbox ORDER BY seq`, "read outbox")
}

// DeadLetterIDs returns the event ids of the dead letters, oldest first.
func (o *Outbox) DeadLetterIDs(ctx context.Context) ([]string, error) {
	return o.ids(ctx, `SELECT event_id FROM dead_letter ORDER BY seq`, "read dead letters of")
}

// ids runs query, which selects one column of event ids. Operation names
// the read in errors, such as "read outbox".
func (o *Outbox) ids(ctx context.Context, query, operation string) ([]string, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := o.db.QueryContext(ctx, query)
	if err != nil {
		return nil, outboxReadError(operation, o.path, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, outboxReadError(operation, o.path, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, outboxReadError(operation, o.path, err)
	}
	return ids, nil
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
		return s, outboxReadError("read outbox", o.path, err)
	}
	if oldest.Valid {
		s.Oldest = time.UnixMilli(oldest.Int64)
	}
	if err := o.db.QueryRowContext(ctx, `SELECT count(*) FROM dead_letter`).Scan(&s.Dead); err != nil {
		return s, outboxReadError("read dead letters of", o.path, err)
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
	<-o.syncDone
	return o.closeFiles()
}

func (o *Outbox) checkOpen() error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.closed {
		return ErrOutboxClosed
	}
	return nil
}

// write hands apply to the commit loop and waits for its durable commit,
// after which the tail follows change.
func (o *Outbox) write(ctx context.Context, change tailChange, apply func(tx *outboxTx) error) error {
	w := &outboxWrite{ctx: ctx, apply: apply, change: change, result: make(chan error, 1)}
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
			close(o.syncs)
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
// With previous at 1, a lone caller never waits, because batch already has
// one write.
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

// commit runs batch in one transaction and hands the committed writes to
// the sync loop. When the transaction fails, it runs each write in a
// transaction of its own, so that one failing write does not fail the
// others.
func (o *Outbox) commit(batch []*outboxWrite) {
	if len(batch) > 1 {
		if err := o.runTx(batch); err == nil {
			o.syncs <- batch
			return
		}
	}
	committed := batch[:0:0]
	for _, w := range batch {
		if err := o.runTx([]*outboxWrite{w}); err != nil {
			w.result <- outboxWriteError(o.path, err)
			continue
		}
		committed = append(committed, w)
	}
	if len(committed) > 0 {
		o.syncs <- committed
	}
}

func (o *Outbox) runTx(batch []*outboxWrite) error {
	// The transaction does not use the callers' contexts: one caller giving
	// up must not roll back the writes of the others.
	tx := &outboxTx{o: o}
	if _, err := tx.exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	err := func() error {
		for _, w := range batch {
			// A caller that gave up before its write started is left out. A
			// write already in the transaction commits or fails with the
			// others.
			if err := w.ctx.Err(); err != nil {
				return err
			}
			tx.change = &w.change
			if err := w.apply(tx); err != nil {
				return err
			}
		}
		if err := tx.insertPending(); err != nil {
			return err
		}
		_, err := tx.exec("COMMIT")
		return err
	}()
	if err != nil {
		// SQLite may have rolled back already, as after SQLITE_FULL, and
		// then ROLLBACK fails with no transaction active, which is harmless.
		tx.exec("ROLLBACK")
		return err
	}
	return nil
}

// syncLoop fsyncs the WAL file after commits and then releases their
// callers. The writes that the commit loop hands over during an fsync wait
// for the next one, which covers them all.
func (o *Outbox) syncLoop() {
	defer close(o.syncDone)
	var waiting []*outboxWrite
	for batch := range o.syncs {
		waiting = append(waiting[:0], batch...)
	more:
		for {
			select {
			case batch, ok := <-o.syncs:
				if !ok {
					break more
				}
				waiting = append(waiting, batch...)
			default:
				break more
			}
		}
		var err error
		serr := o.wal.Sync()
		if serr != nil {
			err = fmt.Errorf("sqlite: fsync outbox %s-wal: %w; the events may not survive a crash,"+
				" check the disk and send again", o.path, serr)
		}
		o.tail.apply(waiting, serr)
		for _, w := range waiting {
			w.result <- err
		}
		clear(waiting)
	}
}
