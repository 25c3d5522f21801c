package postgres_test

import (
	"context"
	"testing"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/facts"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/postgres"
)

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
	url := testkit.PostgresURL(t)
	return openStore(t, url, testkit.PostgresSchema(t, url), postgres.Config{})
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
