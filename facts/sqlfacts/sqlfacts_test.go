package sqlfacts_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/timeback/timeback-go/facts/sqlfacts"
	_ "modernc.org/sqlite"
)

func openFile(t *testing.T) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "facts.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestMigrateTwice(t *testing.T) {
	db, path := openFile(t)
	ctx := context.Background()
	for i := range 2 {
		if err := sqlfacts.Migrate(ctx, db); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	r, err := sqlfacts.OpenReader(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := sqlfacts.Reader{DB: r}.Sensors(ctx)
	if err != nil || len(got) != 0 {
		t.Errorf("Sensors of an empty file = %v, %v; want none", got, err)
	}
}

func TestMigrateRejectsNewerSchema(t *testing.T) {
	db, _ := openFile(t)
	ctx := context.Background()
	if err := sqlfacts.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE facts_schema SET version = 99`); err != nil {
		t.Fatal(err)
	}
	err := sqlfacts.Migrate(ctx, db)
	if err == nil || !strings.Contains(err.Error(), "version 99 is newer") {
		t.Errorf("Migrate of a newer schema: %v, want an error naming version 99", err)
	}
}

func TestOpenReaderWithoutFacts(t *testing.T) {
	db, path := openFile(t)
	if _, err := db.Exec(`CREATE TABLE events (id TEXT)`); err != nil {
		t.Fatal(err)
	}
	_, err := sqlfacts.OpenReader(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "has no facts tables") {
		t.Errorf("OpenReader of a file without facts: %v, want an error saying so", err)
	}
}
