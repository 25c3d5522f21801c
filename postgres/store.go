// Package postgres implements the event store and the learning facts on
// PostgreSQL through jackc/pgx/v5, for deployments where several timeback
// serve processes share one database.
//
//	s, err := postgres.Open(ctx, "postgres://user@db.example.com/timeback", postgres.Config{})
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//
// Store is both a timeback.EventStore and a facts.Source: it keeps the facts
// of every batch in the transaction that stores the batch's events.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
)

// Config tunes a Store. The zero value is ready to use.
type Config struct {
	// Schema is the PostgreSQL schema that holds the tables, created when
	// missing. Empty means the first schema of the connection's
	// search_path, usually public.
	Schema string
	// MaxConns caps the connection pool. Zero means pgxpool's default, the
	// larger of 4 and the number of CPUs.
	MaxConns int32
	// Now returns the current time for stored and processed times. Nil
	// means time.Now.
	Now func() time.Time
	// ReadOnly opens the store for reading only, for reports: Open checks
	// that the schema is at this program's version instead of migrating
	// it, and every transaction of the pool is read-only.
	ReadOnly bool
}

// Store is a timeback.EventStore and a facts.Source in PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	now    func() time.Time
	closed atomic.Bool
}

var (
	_ timeback.EventStore = (*Store)(nil)
	_ facts.Source        = (*Store)(nil)
)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects to the database at url, a postgres:// URL or a key=value
// connection string, and applies the migrations it has not seen yet. With
// cfg.ReadOnly it changes nothing and fails when the schema is behind.
func Open(ctx context.Context, url string, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid database URL: %w", err)
	}
	if cfg.Schema != "" {
		if !schemaName.MatchString(cfg.Schema) {
			return nil, fmt.Errorf("postgres: invalid schema name %q: use lower-case letters, digits and _",
				cfg.Schema)
		}
		pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	prepare := migrate
	if cfg.ReadOnly {
		pc.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
		prepare = checkVersion
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := prepare(ctx, pool, cfg.Schema); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Close closes the connection pool after the queries in progress finish.
func (s *Store) Close() error {
	if !s.closed.Swap(true) {
		s.pool.Close()
	}
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return &timeback.Error{Code: timeback.CodeUnavailable, Message: "postgres: store is closed",
			Err: timeback.ErrStoreClosed}
	}
	return nil
}

// unavailable wraps a database failure as the CodeUnavailable error that
// the endpoint turns into 503.
func unavailable(step string, err error) error {
	var e *timeback.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &timeback.Error{Code: timeback.CodeUnavailable, Message: "postgres: " + step + " canceled", Err: err}
	}
	return &timeback.Error{Code: timeback.CodeUnavailable, Message: "postgres: " + step + " failed", Err: err}
}

// retryable reports whether a transaction failed only because of another
// one, so that running it again can succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
	}
	return false
}

// migrations create the schema. Append new statements at the end and never
// edit one that has shipped, because schema_migrations counts the applied
// ones.
//
// Seq is an identity column; Append holds an advisory lock while it
// reserves seqs and inserts, so seq order is commit order and a cursor
// never skips an event that commits later with a smaller seq. Digest is the SHA-256 of the
// canonical JSON, which tells a duplicate from a conflict.
//
// The facts tables carry few indexes because every heartbeat adds rows to
// them: windows by student and time for reports and for the overlap check
// of ingest, by run for run reports, and a BRIN index on time, cheap to
// keep, for the pages of a whole sensor.
var migrations = []string{
	`CREATE TABLE events (
		seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		id          text        NOT NULL UNIQUE,
		type        text        NOT NULL,
		action      text        NOT NULL,
		profile     text        NOT NULL,
		sensor      text        NOT NULL,
		event_time  timestamptz NOT NULL,
		actor_id    text        NOT NULL,
		actor_email text        NOT NULL,
		object_id   text        NOT NULL,
		job_id      text        NOT NULL,
		stored      timestamptz NOT NULL,
		digest      bytea       NOT NULL,
		json        bytea       NOT NULL
	);
	CREATE INDEX events_sensor ON events (sensor, seq);
	CREATE INDEX events_actor_id ON events (actor_id, seq);
	CREATE INDEX events_actor_email ON events (actor_email, seq);
	CREATE INDEX events_event_time ON events (event_time, seq);
	CREATE TABLE jobs (
		id        text        PRIMARY KEY,
		processed timestamptz NOT NULL,
		results   jsonb       NOT NULL
	);
	CREATE TABLE fact_windows (
		event_seq  bigint           NOT NULL,
		event_id   text             NOT NULL,
		sensor     text             NOT NULL,
		student_id text             NOT NULL,
		run_id     text             NOT NULL,
		category   text             NOT NULL,
		sub_type   text             NOT NULL,
		start_at   timestamptz      NOT NULL,
		end_at     timestamptz      NOT NULL,
		seconds    double precision NOT NULL
	);
	CREATE INDEX fact_windows_student ON fact_windows (student_id, end_at);
	CREATE INDEX fact_windows_run ON fact_windows (run_id, end_at);
	CREATE INDEX fact_windows_end ON fact_windows USING brin (end_at);
	CREATE TABLE fact_completions (
		event_seq         bigint           NOT NULL,
		event_id          text             NOT NULL PRIMARY KEY,
		sensor            text             NOT NULL,
		student_id        text             NOT NULL,
		run_id            text             NOT NULL,
		at                timestamptz      NOT NULL,
		xp                double precision NOT NULL,
		total_questions   double precision NOT NULL,
		correct_questions double precision NOT NULL,
		mastered_units    double precision NOT NULL,
		pct_complete      double precision,
		counted           boolean          NOT NULL
	);
	CREATE INDEX fact_completions_student ON fact_completions (student_id, at);
	CREATE INDEX fact_completions_run ON fact_completions (student_id, run_id);
	CREATE INDEX fact_completions_sensor ON fact_completions (sensor, at);`,
	// Append reserves the seqs of its events under its advisory lock and
	// writes them with COPY, which cannot override a GENERATED ALWAYS
	// column.
	`ALTER TABLE events ALTER COLUMN seq SET GENERATED BY DEFAULT;`,
	// One row per window of a heartbeat with a column per time category,
	// in place of one row per category: the items of a heartbeat share
	// their dates, so this halves the rows that ingest writes and indexes.
	`CREATE TABLE fact_spans (
		event_seq    bigint           NOT NULL,
		event_id     text             NOT NULL,
		sensor       text             NOT NULL,
		student_id   text             NOT NULL,
		run_id       text             NOT NULL,
		sub_type     text             NOT NULL,
		start_at     timestamptz      NOT NULL,
		end_at       timestamptz      NOT NULL,
		active       double precision NOT NULL,
		inactive     double precision NOT NULL,
		waste        double precision NOT NULL,
		unknown      double precision NOT NULL,
		anti_pattern double precision NOT NULL
	);
	INSERT INTO fact_spans
	SELECT event_seq, event_id, sensor, student_id, run_id, sub_type, start_at, end_at,
		coalesce(sum(seconds) FILTER (WHERE category = 'active'), 0),
		coalesce(sum(seconds) FILTER (WHERE category = 'inactive'), 0),
		coalesce(sum(seconds) FILTER (WHERE category = 'waste'), 0),
		coalesce(sum(seconds) FILTER (WHERE category = 'unknown'), 0),
		coalesce(sum(seconds) FILTER (WHERE category = 'anti-pattern'), 0)
	FROM fact_windows
	GROUP BY event_seq, event_id, sensor, student_id, run_id, sub_type, start_at, end_at;
	DROP TABLE fact_windows;
	CREATE INDEX fact_spans_student ON fact_spans (student_id, end_at);
	CREATE INDEX fact_spans_run ON fact_spans (run_id, end_at);
	CREATE INDEX fact_spans_end ON fact_spans USING brin (end_at);`,
}

// Advisory lock keys of the store. Other programs on the same database
// would only collide with them by choosing the same numbers.
const (
	lockMigrate int64 = 0x7469_6d65_6261_0001 // "timeba" + 1
	lockAppend  int64 = 0x7469_6d65_6261_0002
)

// migrate applies the migrations that the schema has not seen yet, in one
// transaction under an advisory lock, so that servers starting together
// migrate once.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockMigrate); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if schema != "" {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: create schema %s: %w", schema, err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT version FROM schema_migrations`).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES (0)`)
	}
	if err != nil {
		return fmt.Errorf("postgres: read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("postgres: schema version %d is newer than this program's %d: upgrade the program",
			version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.Exec(ctx, migrations[i]); err != nil {
			return fmt.Errorf("postgres: migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE schema_migrations SET version = $1`, len(migrations)); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// ErrSchemaBehind is the error of a read-only Open on a database whose
// schema lacks tables or migrations of this program.
var ErrSchemaBehind = errors.New("postgres: schema is behind this program")

// checkVersion fails unless the schema is at this program's version,
// without changing anything.
func checkVersion(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	var version int
	err := pool.QueryRow(ctx, `SELECT version FROM schema_migrations`).Scan(&version)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "42P01": // undefined_table
		return fmt.Errorf("%w: the database has no timeback tables: run timeback serve with this database "+
			"first, which creates them", ErrSchemaBehind)
	case errors.Is(err, pgx.ErrNoRows):
		version = 0
	case err != nil:
		return fmt.Errorf("postgres: read schema version: %w", err)
	}
	switch {
	case version < len(migrations):
		return fmt.Errorf("%w: schema version %d is older than this program's %d: run timeback serve "+
			"with this database first, which migrates it", ErrSchemaBehind, version, len(migrations))
	case version > len(migrations):
		return fmt.Errorf("postgres: schema version %d is newer than this program's %d: upgrade the program",
			version, len(migrations))
	}
	return nil
}
