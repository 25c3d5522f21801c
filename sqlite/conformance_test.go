package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/facts/sqlfacts"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/sqlite"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) timeback.EventStore {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "events.db"), sqlite.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformanceFacts keeps facts through sqlfacts, reading them over a
// second connection pool on the same file as a server would.
func TestConformanceFacts(t *testing.T) {
	storetest.RunFacts(t, func(t *testing.T) (timeback.EventStore, facts.Source) {
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
		return s, sqlfacts.Reader{DB: db}
	})
}
