package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/internal/sqlitetest"
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
		s, reader, _ := sqlitetest.OpenWithFacts(t)
		return s, reader
	})
}
