package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/postgres"
)

// testURL returns the URL of the test database, skipping the test when
// TIMEBACK_TEST_POSTGRES is not set.
func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("TIMEBACK_TEST_POSTGRES")
	if url == "" {
		t.Skip("TIMEBACK_TEST_POSTGRES is not set: set it to a postgres:// URL to run the PostgreSQL tests")
	}
	return url
}

// newSchema returns a schema name unique to this test and drops the schema
// when the test ends, so that parallel test packages never share tables.
func newSchema(t testing.TB, url string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "timeback_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

func openStore(t testing.TB, url, schema string, cfg postgres.Config) *postgres.Store {
	t.Helper()
	cfg.Schema = schema
	s, err := postgres.Open(context.Background(), url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t *testing.T) *postgres.Store {
	url := testURL(t)
	return openStore(t, url, newSchema(t, url), postgres.Config{})
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) timeback.EventStore { return newStore(t) })
}

func TestConformanceFacts(t *testing.T) {
	storetest.RunFacts(t, func(t *testing.T) (timeback.EventStore, facts.Source) {
		s := newStore(t)
		return s, s
	})
}
