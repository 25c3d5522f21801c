// Package sqlfacts keeps learning facts in SQLite through database/sql, in
// the same file and the same transactions as the SQLite event store.
//
// The store applies the facts schema once after opening the database and
// passes a Writer as its fact writer; a Reader then serves the facts:
//
//	if err := sqlfacts.Migrate(ctx, db); err != nil {
//		return err
//	}
//	store := sqlite.Open(ctx, path, sqlite.Config{Facts: sqlfacts.Writer{}})
//	var src facts.Source = sqlfacts.Reader{DB: db}
package sqlfacts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
)

// migrations create the facts tables. Append new statements at the end and
// never edit one that has shipped, because facts_schema counts the applied
// ones. Times are Unix microseconds in UTC.
var migrations = []string{
	`CREATE TABLE fact_runs (
		student_id TEXT    NOT NULL,
		run_id     TEXT    NOT NULL,
		completed  INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (student_id, run_id)
	);
	CREATE TABLE fact_windows (
		event_seq  INTEGER NOT NULL,
		event_id   TEXT    NOT NULL,
		sensor     TEXT    NOT NULL,
		student_id TEXT    NOT NULL,
		run_id     TEXT    NOT NULL,
		category   TEXT    NOT NULL,
		sub_type   TEXT    NOT NULL,
		start_us   INTEGER NOT NULL,
		end_us     INTEGER NOT NULL,
		seconds    REAL    NOT NULL
	);
	CREATE INDEX fact_windows_student ON fact_windows (student_id, end_us);
	CREATE INDEX fact_windows_run ON fact_windows (student_id, run_id, end_us);
	CREATE INDEX fact_windows_sensor ON fact_windows (sensor, end_us);
	CREATE TABLE fact_completions (
		event_seq         INTEGER NOT NULL,
		event_id          TEXT    NOT NULL PRIMARY KEY,
		sensor            TEXT    NOT NULL,
		student_id        TEXT    NOT NULL,
		run_id            TEXT    NOT NULL,
		at_us             INTEGER NOT NULL,
		xp                REAL    NOT NULL,
		total_questions   REAL    NOT NULL,
		correct_questions REAL    NOT NULL,
		mastered_units    REAL    NOT NULL,
		pct_complete      REAL,
		counted           INTEGER NOT NULL
	);
	CREATE INDEX fact_completions_student ON fact_completions (student_id, at_us);
	CREATE INDEX fact_completions_run ON fact_completions (student_id, run_id);
	CREATE INDEX fact_completions_sensor ON fact_completions (sensor, at_us);`,
}

// Migrate creates or upgrades the facts tables in db. It keeps its own
// version in the table facts_schema, apart from the event store's, so the
// two schemas evolve independently in one file.
func Migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlfacts: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS facts_schema (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlfacts: migrate: %w", err)
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM facts_schema`).Scan(&version)
	switch {
	case err == sql.ErrNoRows:
		if _, err := tx.ExecContext(ctx, `INSERT INTO facts_schema (version) VALUES (0)`); err != nil {
			return fmt.Errorf("sqlfacts: migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("sqlfacts: read facts schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("sqlfacts: facts schema version %d is newer than this program's %d: upgrade the program",
			version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("sqlfacts: facts migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE facts_schema SET version = ?`, len(migrations)); err != nil {
		return fmt.Errorf("sqlfacts: migrate: %w", err)
	}
	return tx.Commit()
}

// Writer keeps facts inside the SQLite event store's transaction. It is a
// timeback.FactWriter[*sql.Tx]; its zero value is ready to use once Migrate
// has run on the database.
type Writer struct{}

var _ timeback.FactWriter[*sql.Tx] = Writer{}

// WriteFacts derives and inserts the facts of the events a batch added.
func (Writer) WriteFacts(ctx context.Context, tx *sql.Tx, _ *timeback.Batch, added []*timeback.StoredEvent) error {
	return facts.Keep(ctx, ledger{tx}, added)
}

// ledger is a facts.Ledger over one SQLite transaction. SQLite runs one
// writer at a time and the store begins its transactions IMMEDIATE, so the
// write lock is already held and LockRuns needs no row locks. The fact_runs
// row of each run records whether it is completed.
type ledger struct{ tx *sql.Tx }

func (l ledger) LockRuns(ctx context.Context, runs []facts.RunSpan) (map[facts.RunKey]*facts.RunState, error) {
	states := make(map[facts.RunKey]*facts.RunState, len(runs))
	for _, r := range runs {
		state := &facts.RunState{}
		err := l.tx.QueryRowContext(ctx, `INSERT INTO fact_runs (student_id, run_id) VALUES (?, ?)
			ON CONFLICT (student_id, run_id) DO UPDATE SET completed = completed
			RETURNING completed`, r.StudentID, r.RunID).Scan(&state.Completed)
		if err != nil {
			return nil, err
		}
		if r.HasWindows() {
			rows, err := l.tx.QueryContext(ctx, `SELECT `+windowColumns+` FROM fact_windows
				WHERE student_id = ? AND run_id = ? AND end_us >= ? AND start_us <= ?`,
				r.StudentID, r.RunID, r.Start.UnixMicro(), r.End.UnixMicro())
			if err != nil {
				return nil, err
			}
			state.Windows, err = scanWindows(rows)
			if err != nil {
				return nil, err
			}
		}
		states[r.RunKey] = state
	}
	return states, nil
}

func (l ledger) Insert(ctx context.Context, windows []facts.Window, completions []facts.Completion) error {
	if len(windows) > 0 {
		st, err := l.tx.PrepareContext(ctx, `INSERT INTO fact_windows (`+windowColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, w := range windows {
			if _, err := st.ExecContext(ctx, w.EventSeq, w.EventID, w.Sensor, w.StudentID, w.RunID,
				string(w.Category), w.SubType, w.Start.UnixMicro(), w.End.UnixMicro(), w.Seconds); err != nil {
				return err
			}
		}
	}
	for _, c := range completions {
		if _, err := l.tx.ExecContext(ctx, `INSERT INTO fact_completions (`+completionColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.EventSeq, c.EventID, c.Sensor, c.StudentID, c.RunID, c.Time.UnixMicro(), c.XP,
			c.TotalQuestions, c.CorrectQuestions, c.MasteredUnits, c.PctComplete, c.Counted); err != nil {
			return err
		}
		if c.Counted {
			if _, err := l.tx.ExecContext(ctx, `UPDATE fact_runs SET completed = 1
				WHERE student_id = ? AND run_id = ?`, c.StudentID, c.RunID); err != nil {
				return err
			}
		}
	}
	return nil
}

const windowColumns = `event_seq, event_id, sensor, student_id, run_id, category, sub_type,
	start_us, end_us, seconds`

const completionColumns = `event_seq, event_id, sensor, student_id, run_id, at_us, xp,
	total_questions, correct_questions, mastered_units, pct_complete, counted`

func scanWindows(rows *sql.Rows) ([]facts.Window, error) {
	defer rows.Close()
	var out []facts.Window
	for rows.Next() {
		var w facts.Window
		var category string
		var start, end int64
		if err := rows.Scan(&w.EventSeq, &w.EventID, &w.Sensor, &w.StudentID, &w.RunID, &category,
			&w.SubType, &start, &end, &w.Seconds); err != nil {
			return nil, err
		}
		w.Category = timeback.TimeCategory(category)
		w.Start, w.End = time.UnixMicro(start).UTC(), time.UnixMicro(end).UTC()
		out = append(out, w)
	}
	return out, rows.Err()
}

func scanCompletions(rows *sql.Rows) ([]facts.Completion, error) {
	defer rows.Close()
	var out []facts.Completion
	for rows.Next() {
		var c facts.Completion
		var at int64
		var pct sql.NullFloat64
		if err := rows.Scan(&c.EventSeq, &c.EventID, &c.Sensor, &c.StudentID, &c.RunID, &at, &c.XP,
			&c.TotalQuestions, &c.CorrectQuestions, &c.MasteredUnits, &pct, &c.Counted); err != nil {
			return nil, err
		}
		c.Time = time.UnixMicro(at).UTC()
		if pct.Valid {
			c.PctComplete = &pct.Float64
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Reader reads the facts that Writer kept. It is a facts.Source.
type Reader struct {
	DB *sql.DB
}

var _ facts.Source = Reader{}

// Facts returns the windows and completions that match q.
func (r Reader) Facts(ctx context.Context, q facts.Query) ([]facts.Window, []facts.Completion, error) {
	where, args := filter(q, "end_us", "start_us")
	rows, err := r.DB.QueryContext(ctx, `SELECT `+windowColumns+` FROM fact_windows`+where+
		` ORDER BY event_seq, start_us`, args...)
	if err != nil {
		return nil, nil, unavailable("read windows", err)
	}
	windows, err := scanWindows(rows)
	if err != nil {
		return nil, nil, unavailable("read windows", err)
	}

	where, args = filter(q, "at_us", "at_us")
	rows, err = r.DB.QueryContext(ctx, `SELECT `+completionColumns+` FROM fact_completions`+where+
		` ORDER BY event_seq`, args...)
	if err != nil {
		return nil, nil, unavailable("read completions", err)
	}
	completions, err := scanCompletions(rows)
	if err != nil {
		return nil, nil, unavailable("read completions", err)
	}
	return windows, completions, nil
}

// filter returns the WHERE clause for q. endColumn is compared with
// q.Start and startColumn with q.End, so that windows overlapping the
// bounds are selected.
func filter(q facts.Query, endColumn, startColumn string) (string, []any) {
	var where []string
	var args []any
	if q.StudentID != "" {
		where = append(where, "student_id = ?")
		args = append(args, q.StudentID)
	}
	if q.Sensor != "" {
		where = append(where, "sensor = ?")
		args = append(args, q.Sensor)
	}
	if q.RunID != "" {
		where = append(where, "run_id = ?")
		args = append(args, q.RunID)
	}
	if len(q.Runs) > 0 {
		var ors []string
		for _, k := range q.Runs {
			ors = append(ors, "(student_id = ? AND run_id = ?)")
			args = append(args, k.StudentID, k.RunID)
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if !q.Start.IsZero() {
		where = append(where, endColumn+" >= ?")
		args = append(args, q.Start.UnixMicro())
	}
	if !q.End.IsZero() {
		where = append(where, startColumn+" < ?")
		args = append(args, q.End.UnixMicro())
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// Students returns the students with facts from sensor, or all of them.
func (r Reader) Students(ctx context.Context, sensor string) ([]string, error) {
	query := `SELECT student_id FROM fact_windows WHERE sensor = ?1 OR ?1 = ''
		UNION SELECT student_id FROM fact_completions WHERE sensor = ?1 OR ?1 = ''
		ORDER BY student_id`
	return r.strings(ctx, "read students", query, sensor)
}

// Sensors returns the sensors that sent facts.
func (r Reader) Sensors(ctx context.Context) ([]string, error) {
	query := `SELECT sensor FROM fact_windows UNION SELECT sensor FROM fact_completions ORDER BY sensor`
	return r.strings(ctx, "read sensors", query)
}

func (r Reader) strings(ctx context.Context, step, query string, args ...any) ([]string, error) {
	rows, err := r.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable(step, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, unavailable(step, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(step, err)
	}
	return out, nil
}

func unavailable(step string, err error) error {
	return &timeback.Error{Code: timeback.CodeUnavailable, Message: "sqlfacts: " + step + " failed", Err: err}
}

// OpenReader opens the SQLite file at path read-only, for programs such as
// timeback report that read facts while a server writes them. It fails when
// the file is missing or has no facts tables.
func OpenReader(ctx context.Context, path string) (*sql.DB, error) {
	// SQLite reports a missing file and a folder as an unusable database,
	// so the path is checked first.
	switch info, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("sqlfacts: database file %s does not exist: give the database of a timeback serve "+
			"that keeps facts", path)
	case err != nil:
		return nil, fmt.Errorf("sqlfacts: open %s: %w", path, err)
	case info.IsDir():
		return nil, fmt.Errorf("sqlfacts: %s is a folder, not a database file: give the database of a "+
			"timeback serve that keeps facts", path)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("sqlfacts: open %s: %w", path, err)
	}
	var version int
	err = db.QueryRowContext(ctx, `SELECT version FROM facts_schema`).Scan(&version)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlfacts: %s has no facts tables (%v): give the database of a timeback serve "+
			"that keeps facts", path, err)
	}
	return db, nil
}
