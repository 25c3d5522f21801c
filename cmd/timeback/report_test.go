package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/sqlitetest"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
)

// seedReportDB writes a SQLite file with one student's heartbeats across
// Kolkata midnight (18:30 UTC) and a completion, and returns its path.
func seedReportDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	s, _, path := sqlitetest.OpenWithFacts(t)
	defer s.Close()
	start := time.Date(2026, 1, 27, 18, 29, 0, 0, time.UTC)
	events := [][]byte{
		storetest.Heartbeat(storetest.EventID(1), storetest.Student(1), "r", start, start.Add(2*time.Minute), 120, 0),
		storetest.Completed(storetest.EventID(2), storetest.Student(1), "r", start.Add(2*time.Minute), 2, 4, 3),
	}
	res, err := s.Append(ctx, []*timeback.Batch{storetest.NewBatch(t, "job-1", storetest.Sensor, events...)})
	if err != nil || res[0].Err != nil {
		t.Fatalf("seed: %v, %+v", err, res)
	}
	return path
}

func runReportArgs(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), env{strings.NewReader(""), &stdout, &stderr}, args)
	return code, stdout.String(), stderr.String()
}

func TestReportFormats(t *testing.T) {
	path := seedReportDB(t)
	base := []string{"report", "--db", "sqlite:" + path, "--student", storetest.Student(1),
		"--tz", "Asia/Kolkata", "--from", "2026-01-27", "--to", "2026-01-28"}

	code, out, errOut := runReportArgs(append(base, "--format", "csv")...)
	if code != exitOK {
		t.Fatalf("csv: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"date,xp,active_min,inactive_min,waste_min,unknown_min,anti_pattern_min,questions,correct,accuracy,mastered_units,completions",
		"2026-01-27,0,1.00,0.00,0.00,0.00,0.00,0,0,,0,0",
		"2026-01-28,2,1.00,0.00,0.00,0.00,0.00,4,3,75.0%,1,1",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("csv =\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}

	code, out, errOut = runReportArgs(append(base, "--format", "json")...)
	if code != exitOK {
		t.Fatalf("json: exit %d: %s", code, errOut)
	}
	var d struct {
		TZ   string
		Days []struct{ ActiveSeconds, XP float64 }
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("json: %v in %s", err, out)
	}
	if d.TZ != "Asia/Kolkata" || len(d.Days) != 2 || d.Days[0].ActiveSeconds != 60 || d.Days[1].XP != 2 {
		t.Errorf("json = %+v, want two Kolkata days of 60 active seconds, 2 XP on the second", d)
	}

	code, out, errOut = runReportArgs(base...)
	if code != exitOK {
		t.Fatalf("table: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "2026-01-28") || !strings.Contains(out, "75.0%") {
		t.Errorf("table lacks the second day's row:\n%s", out)
	}
	if strings.Contains(out, "Flagged runs") {
		t.Errorf("table flags a run of 2 XP over 2 focused minutes:\n%s", out)
	}
}

func TestReportBadInput(t *testing.T) {
	path := seedReportDB(t)
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"--tz", "Mars/Base"}, exitUsage, `invalid --tz: unknown time zone "Mars/Base"`},
		{[]string{"--from", "2026-02-01", "--to", "2026-01-01"}, exitUsage, "from 2026-02-01 is after to 2026-01-01"},
		{[]string{"--from", "2016-01-01", "--to", "2026-01-01"}, exitUsage, "more than the maximum of 371"},
		{[]string{"--format", "xml"}, exitUsage, `invalid --format "xml"`},
		{[]string{"--db", filepath.Join(t.TempDir(), "none.db")}, exitFailure, "none.db does not exist"},
		{[]string{"--db", t.TempDir()}, exitFailure, "is a folder"},
		{[]string{"--db", emptyFile(t)}, exitFailure, "has no facts tables"},
	}
	for _, tt := range tests {
		args := append([]string{"report", "--db", path, "--student", storetest.Student(1)}, tt.args...)
		code, _, errOut := runReportArgs(args...)
		if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.wantCode, tt.wantErr)
		}
	}
	if code, _, errOut := runReportArgs("report", "--db", path); code != exitUsage || !strings.Contains(errOut, "missing --student") {
		t.Errorf("without --student: exit %d, stderr %q", code, errOut)
	}
}

func TestReportUnknownStudent(t *testing.T) {
	path := seedReportDB(t)
	code, out, errOut := runReportArgs("report", "--db", path, "--student", storetest.Student(2),
		"--from", "2026-01-27", "--to", "2026-01-28")
	if code != exitFailure {
		t.Errorf("exit = %d, want %d", code, exitFailure)
	}
	if want := `student "` + storetest.Student(2) + `" not found`; !strings.Contains(errOut, want) {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
}

func TestReportKnownStudentOtherDays(t *testing.T) {
	path := seedReportDB(t)
	code, out, errOut := runReportArgs("report", "--db", path, "--student", storetest.Student(1),
		"--from", "2026-03-01", "--to", "2026-03-02", "--format", "csv")
	if code != exitOK {
		t.Fatalf("exit = %d, stderr %q; want %d", code, errOut, exitOK)
	}
	if want := "2026-03-02,0,0.00,0.00,0.00,0.00,0.00,0,0,,0,0"; !strings.Contains(out, want) {
		t.Errorf("csv =\n%s\nwant an empty row %q", out, want)
	}
}

func emptyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReportLeavesPostgresUnchanged checks that a report reads a PostgreSQL
// schema without creating or migrating tables, and that its error names the
// command that creates them.
func TestReportLeavesPostgresUnchanged(t *testing.T) {
	url := testkit.PostgresURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := testkit.CreatePostgresSchema(t, url)
	dbURL := testkit.SearchPathURL(t, url, schema)
	args := []string{"report", "--db", dbURL, "--student", storetest.Student(1), "--from", "2026-01-27", "--to", "2026-01-28"}

	code, _, errOut := runReportArgs(args...)
	if code != exitFailure || !strings.Contains(errOut, "timeback serve") {
		t.Errorf("empty schema: exit %d, stderr %q; want exit %d telling to run timeback serve", code, errOut, exitFailure)
	}
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
		schema).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("report created %d tables in an empty schema, want none", tables)
	}

	// A schema one migration behind stays behind.
	for _, stmt := range []string{
		"CREATE TABLE " + schema + ".schema_migrations (version integer NOT NULL)",
		"INSERT INTO " + schema + ".schema_migrations VALUES (1)",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut = runReportArgs(args...)
	if code != exitFailure || !strings.Contains(errOut, "schema version 1") || !strings.Contains(errOut, "timeback serve") {
		t.Errorf("old schema: exit %d, stderr %q; want the version and to run timeback serve", code, errOut)
	}
	var version int
	if err := conn.QueryRow(ctx, "SELECT version FROM "+schema+".schema_migrations").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != 1 {
		t.Errorf("report moved the schema version to %d, want it left at 1", version)
	}
}
