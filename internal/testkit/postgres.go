package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PostgresEnvVar names the environment variable with the URL of the
// PostgreSQL test database.
const PostgresEnvVar = "TIMEBACK_TEST_POSTGRES"

// PostgresURL returns the URL of the PostgreSQL test database, skipping the
// test when TIMEBACK_TEST_POSTGRES is not set.
func PostgresURL(t testing.TB) string {
	t.Helper()
	dbURL := os.Getenv(PostgresEnvVar)
	if dbURL == "" {
		t.Skip(PostgresEnvVar + " is not set: set it to a postgres:// URL to run the PostgreSQL tests")
	}
	return dbURL
}

// PostgresSchema returns a schema name unique to the test and drops the
// schema, if it exists, when the test ends, so that parallel test packages
// never share tables. It does not create the schema.
func PostgresSchema(t testing.TB, dbURL string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "timeback_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dbURL)
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

// CreatePostgresSchema creates an empty schema unique to the test, dropped
// when the test ends, and returns its name.
func CreatePostgresSchema(t testing.TB, dbURL string) string {
	t.Helper()
	schema := PostgresSchema(t, dbURL)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnvVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	return schema
}

// SearchPathURL returns dbURL with search_path set to schema, so that a
// program given the URL keeps its tables there.
func SearchPathURL(t testing.TB, dbURL, schema string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnvVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
