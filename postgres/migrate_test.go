package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/postgres"
)

// TestMigrateWindowsToSpans upgrades a schema of the first version, with
// one fact row per category, and checks that the facts read the same from
// the merged rows.
func TestMigrateWindowsToSpans(t *testing.T) {
	url := testkit.PostgresURL(t)
	schema := testkit.PostgresSchema(t, url)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		"CREATE SCHEMA " + schema,
		"SET search_path TO " + schema,
		postgres.Migrations[0],
		"CREATE TABLE schema_migrations (version integer NOT NULL)",
		"INSERT INTO schema_migrations VALUES (1)",
		// One heartbeat with active and inactive items over the same 15 s,
		// and a waste item of another subtype in another event.
		`INSERT INTO fact_windows VALUES
			(1, 'urn:uuid:1', 's', 'u', 'r', 'active', '', '2026-01-27T10:00:00Z', '2026-01-27T10:00:15Z', 11),
			(1, 'urn:uuid:1', 's', 'u', 'r', 'inactive', '', '2026-01-27T10:00:00Z', '2026-01-27T10:00:15Z', 4),
			(2, 'urn:uuid:2', 's', 'u', 'r', 'waste', 'video', '2026-01-27T10:00:15Z', '2026-01-27T10:00:30Z', 15)`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	s := openStore(t, url, schema, postgres.Config{})
	ws, _, err := s.Facts(ctx, facts.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.EventID+" "+string(w.Category)+" "+w.SubType+" "+
			w.Start.Format("15:04:05")+"-"+w.End.Format("15:04:05")+" "+formatSeconds(w.Seconds))
	}
	want := []string{
		"urn:uuid:1 active  10:00:00-10:00:15 11",
		"urn:uuid:1 inactive  10:00:00-10:00:15 4",
		"urn:uuid:2 waste video 10:00:15-10:00:30 15",
	}
	if !slices.Equal(got, want) {
		t.Errorf("windows after the upgrade:\n got %q\nwant %q", got, want)
	}
	var rows int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM fact_spans").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Errorf("fact_spans has %d rows, want 2", rows)
	}
	if ws[0].Category != timeback.TimeActive {
		t.Errorf("first window category = %q, want active", ws[0].Category)
	}
}

func formatSeconds(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// TestReadOnlyOpen checks that a read-only store reads a migrated schema,
// refuses an empty one and writes nothing.
func TestReadOnlyOpen(t *testing.T) {
	url := testkit.PostgresURL(t)
	schema := testkit.PostgresSchema(t, url)
	ctx := context.Background()
	if _, err := postgres.Open(ctx, url, postgres.Config{Schema: schema, ReadOnly: true}); !errors.Is(err, postgres.ErrSchemaBehind) {
		t.Fatalf("read-only open of a missing schema: %v, want ErrSchemaBehind", err)
	}
	openStore(t, url, schema, postgres.Config{}) // migrates
	ro := openStore(t, url, schema, postgres.Config{ReadOnly: true})
	if _, _, err := ro.Facts(ctx, facts.Query{}); err != nil {
		t.Errorf("read facts: %v", err)
	}
	b := &timeback.Batch{JobID: "job-1", Sensor: "https://example.com/s"}
	if _, err := ro.Append(ctx, []*timeback.Batch{b}); err == nil {
		t.Error("append on a read-only store succeeded")
	}
}
