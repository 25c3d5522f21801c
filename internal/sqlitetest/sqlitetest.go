// Package sqlitetest opens SQLite event stores that keep facts, for tests
// of the packages that read those facts.
package sqlitetest

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/timeback/timeback-go/facts/sqlfacts"
	"github.com/timeback/timeback-go/sqlite"
)

// OpenWithFacts opens an empty event store in events.db of the test's
// temporary folder that writes facts through sqlfacts. It returns the store,
// a reader of the facts over a second connection pool on the same file, as
// a server reads them, and the file's path. Both pools close when the test
// ends.
func OpenWithFacts(t testing.TB) (*sqlite.Store, sqlfacts.Reader, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlfacts.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, path, sqlite.Config{Facts: sqlfacts.Writer{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, sqlfacts.Reader{DB: db}, path
}
