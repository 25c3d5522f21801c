package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
)

// ledger is a facts.Ledger over one PostgreSQL transaction. Append holds
// the store's advisory lock for the whole transaction, so no other
// transaction adds facts meanwhile and LockRuns needs no row locks. It
// reads in one round trip which runs have a counted completion and which
// counted windows overlap the new ones.
type ledger struct{ tx pgx.Tx }

func (l ledger) LockRuns(ctx context.Context, runs []facts.RunSpan) (map[facts.RunKey]*facts.RunState, error) {
	var students, runIDs []string
	var wStudents, wRuns []string
	var wStarts, wEnds []time.Time
	states := make(map[facts.RunKey]*facts.RunState, len(runs))
	for _, r := range runs {
		states[r.RunKey] = &facts.RunState{}
		students = append(students, r.StudentID)
		runIDs = append(runIDs, r.RunID)
		if r.HasWindows() {
			wStudents = append(wStudents, r.StudentID)
			wRuns = append(wRuns, r.RunID)
			wStarts = append(wStarts, r.Start)
			wEnds = append(wEnds, r.End)
		}
	}

	batch := &pgx.Batch{}
	// OFFSET 0 keeps the planner from flattening the LATERAL subquery
	// into a hash join over the whole table, so each run costs one scan
	// of fact_spans_run from the new windows' start on.
	batch.Queue(`SELECT r.student_id, r.run_id FROM unnest($1::text[], $2::text[]) AS r(student_id, run_id)
		WHERE EXISTS (SELECT 1 FROM fact_completions c
			WHERE c.student_id = r.student_id AND c.run_id = r.run_id AND c.counted)`, students, runIDs)
	batch.Queue(`SELECT `+spanColumns("w.")+`
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS r(student_id, run_id, s, e)
		CROSS JOIN LATERAL (SELECT * FROM fact_spans
			WHERE run_id = r.run_id AND end_at >= r.s AND student_id = r.student_id AND start_at <= r.e
			OFFSET 0) w`,
		wStudents, wRuns, wStarts, wEnds)
	results := l.tx.SendBatch(ctx, batch)
	defer results.Close()

	rows, err := results.Query()
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var k facts.RunKey
		if err := rows.Scan(&k.StudentID, &k.RunID); err != nil {
			rows.Close()
			return nil, err
		}
		if s := states[k]; s != nil {
			s.Completed = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = results.Query()
	if err != nil {
		return nil, err
	}
	windows, err := scanSpans(rows)
	if err != nil {
		return nil, err
	}
	for _, w := range windows {
		if s := states[w.Key()]; s != nil {
			s.Windows = append(s.Windows, w)
		}
	}
	return states, results.Close()
}

func (l ledger) Insert(ctx context.Context, windows []facts.Window, completions []facts.Completion) error {
	if len(windows) > 0 {
		spans := toSpans(windows)
		_, err := l.tx.CopyFrom(ctx, pgx.Identifier{"fact_spans"}, spanFields,
			pgx.CopyFromSlice(len(spans), func(i int) ([]any, error) {
				sp := &spans[i]
				w := sp.Window
				return []any{w.EventSeq, w.EventID, w.Sensor, w.StudentID, w.RunID, w.SubType, w.Start, w.End,
					sp.seconds[0], sp.seconds[1], sp.seconds[2], sp.seconds[3], sp.seconds[4]}, nil
			}))
		if err != nil {
			return err
		}
	}
	if len(completions) == 0 {
		return nil
	}
	_, err := l.tx.CopyFrom(ctx, pgx.Identifier{"fact_completions"}, completionFields,
		pgx.CopyFromSlice(len(completions), func(i int) ([]any, error) {
			c := completions[i]
			return []any{c.EventSeq, c.EventID, c.Sensor, c.StudentID, c.RunID, c.Time, c.XP,
				c.TotalQuestions, c.CorrectQuestions, c.MasteredUnits, c.PctComplete, c.Counted}, nil
		}))
	return err
}

// span is one row of fact_spans: the windows of one event that share a
// subtype and dates, with their seconds by category in the order of
// facts.Categories.
type span struct {
	facts.Window // the first of the windows; Category and Seconds unused
	seconds      [5]float64
}

type spanKey struct {
	seq        int64
	subType    string
	start, end time.Time
}

// toSpans merges windows into spans, in the order of their first window.
func toSpans(windows []facts.Window) []span {
	var spans []span
	index := make(map[spanKey]int, len(windows))
	for _, w := range windows {
		k := spanKey{w.EventSeq, w.SubType, w.Start, w.End}
		i, ok := index[k]
		if !ok {
			i = len(spans)
			index[k] = i
			spans = append(spans, span{Window: w})
		}
		spans[i].seconds[categoryIndex(w.Category)] += w.Seconds
	}
	return spans
}

func categoryIndex(c timeback.TimeCategory) int {
	for i, fc := range facts.Categories {
		if fc == c {
			return i
		}
	}
	panic("postgres: unknown time category " + string(c))
}

var spanFields = []string{"event_seq", "event_id", "sensor", "student_id", "run_id", "sub_type",
	"start_at", "end_at", "active", "inactive", "waste", "unknown", "anti_pattern"}

var completionFields = []string{"event_seq", "event_id", "sensor", "student_id", "run_id", "at", "xp",
	"total_questions", "correct_questions", "mastered_units", "pct_complete", "counted"}

func spanColumns(prefix string) string {
	return prefix + strings.Join(spanFields, ", "+prefix)
}

// scanSpans reads fact_spans rows as windows, one per category with
// seconds, in the order of facts.Categories.
func scanSpans(rows pgx.Rows) ([]facts.Window, error) {
	defer rows.Close()
	var out []facts.Window
	for rows.Next() {
		var w facts.Window
		var seconds [5]float64
		if err := rows.Scan(&w.EventSeq, &w.EventID, &w.Sensor, &w.StudentID, &w.RunID, &w.SubType,
			&w.Start, &w.End, &seconds[0], &seconds[1], &seconds[2], &seconds[3], &seconds[4]); err != nil {
			return nil, err
		}
		w.Start, w.End = w.Start.UTC(), w.End.UTC()
		for i, v := range seconds {
			if v != 0 {
				w.Category, w.Seconds = facts.Categories[i], v
				out = append(out, w)
			}
		}
	}
	return out, rows.Err()
}

// Facts returns the windows and completions that match q.
func (s *Store) Facts(ctx context.Context, q facts.Query) ([]facts.Window, []facts.Completion, error) {
	if err := s.checkOpen(); err != nil {
		return nil, nil, err
	}
	where, args := factFilter(q, "end_at", "start_at")
	rows, err := s.pool.Query(ctx, `SELECT `+spanColumns("")+` FROM fact_spans`+where+
		` ORDER BY event_seq, start_at`, args...)
	if err != nil {
		return nil, nil, unavailable("read windows", err)
	}
	windows, err := scanSpans(rows)
	if err != nil {
		return nil, nil, unavailable("read windows", err)
	}

	where, args = factFilter(q, "at", "at")
	rows, err = s.pool.Query(ctx, `SELECT `+strings.Join(completionFields, ", ")+` FROM fact_completions`+
		where+` ORDER BY event_seq`, args...)
	if err != nil {
		return nil, nil, unavailable("read completions", err)
	}
	defer rows.Close()
	var completions []facts.Completion
	for rows.Next() {
		var c facts.Completion
		if err := rows.Scan(&c.EventSeq, &c.EventID, &c.Sensor, &c.StudentID, &c.RunID, &c.Time, &c.XP,
			&c.TotalQuestions, &c.CorrectQuestions, &c.MasteredUnits, &c.PctComplete, &c.Counted); err != nil {
			return nil, nil, unavailable("read completions", err)
		}
		c.Time = c.Time.UTC()
		completions = append(completions, c)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, unavailable("read completions", err)
	}
	return windows, completions, nil
}

// factFilter returns the WHERE clause for q. endColumn is compared with
// q.Start and startColumn with q.End, so that windows overlapping the
// bounds are selected.
func factFilter(q facts.Query, endColumn, startColumn string) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.StudentID != "" {
		where = append(where, "student_id = "+arg(q.StudentID))
	}
	if q.Sensor != "" {
		where = append(where, "sensor = "+arg(q.Sensor))
	}
	if q.RunID != "" {
		where = append(where, "run_id = "+arg(q.RunID))
	}
	if len(q.Runs) > 0 {
		var students, runs []string
		for _, k := range q.Runs {
			students = append(students, k.StudentID)
			runs = append(runs, k.RunID)
		}
		where = append(where, "(student_id, run_id) IN (SELECT * FROM unnest("+arg(students)+"::text[], "+
			arg(runs)+"::text[]))")
	}
	if !q.Start.IsZero() {
		where = append(where, endColumn+" >= "+arg(q.Start))
	}
	if !q.End.IsZero() {
		where = append(where, startColumn+" < "+arg(q.End))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// Students returns the students with facts from sensor, or all of them
// when sensor is empty.
func (s *Store) Students(ctx context.Context, sensor string) ([]string, error) {
	return s.strings(ctx, "read students", `SELECT student_id FROM fact_spans WHERE $1 = '' OR sensor = $1
		UNION SELECT student_id FROM fact_completions WHERE $1 = '' OR sensor = $1
`, sensor)
}

// Sensors returns the sensors that sent facts.
func (s *Store) Sensors(ctx context.Context) ([]string, error) {
	return s.strings(ctx, "read sensors", `SELECT sensor FROM fact_spans
		UNION SELECT sensor FROM fact_completions`)
}

func (s *Store) strings(ctx context.Context, step, query string, args ...any) ([]string, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, unavailable(step, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, unavailable(step, err)
	}
	if out == nil {
		out = []string{}
	}
	// Sorted here rather than in SQL, in byte order whatever the
	// database's collation.
	slices.Sort(out)
	return out, nil
}
