package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOutboxFullDisk(t *testing.T) {
	ctx := context.Background()
	o, err := OpenOutbox(ctx, filepath.Join(t.TempDir(), "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	// A page limit on the writing connection makes SQLite fail as on a
	// full disk, with SQLITE_FULL.
	if _, err := o.conn.ExecContext(ctx, "PRAGMA max_page_count = 40"); err != nil {
		t.Fatal(err)
	}

	body := []byte(`{"id":"` + strings.Repeat("x", 3000) + `"}`)
	appended := 0
	var appendErr error
	for i := range 200 {
		e := []OutboxEntry{{ID: fmt.Sprintf("urn:uuid:%d", i), JSON: body, EnqueuedAt: time.Now()}}
		if appendErr = o.Append(ctx, e); appendErr != nil {
			break
		}
		appended++
	}
	if appendErr == nil {
		t.Fatal("200 appends of 3 kB fit in 40 pages")
	}
	if !strings.Contains(appendErr.Error(), "full") || !strings.Contains(appendErr.Error(), "free disk space") {
		t.Errorf("Append on a full disk = %q, want it to say full and what to do", appendErr)
	}
	st, err := o.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats on a full disk: %v", err)
	}
	if st.Queued != appended {
		t.Errorf("queued %d after the disk filled, want the %d appended before", st.Queued, appended)
	}
}

// errorMessageCase is a cause that an outbox error wraps and the text that
// the error's message must contain.
type errorMessageCase struct {
	cause string
	want  string
}

// checkErrorMessages checks that wrap, given the path /x/outbox.db and each
// case's cause, returns an error whose message contains the path and the
// case's text.
func checkErrorMessages(t *testing.T, name string, wrap func(path string, err error) error, cases []errorMessageCase) {
	t.Helper()
	for _, tt := range cases {
		err := wrap("/x/outbox.db", fmt.Errorf("%s", tt.cause))
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "/x/outbox.db") {
			t.Errorf("%s(%q) = %q, want the path and %q", name, tt.cause, err, tt.want)
		}
	}
}

func TestOutboxOpenErrorMessages(t *testing.T) {
	checkErrorMessages(t, "outboxOpenError", outboxOpenError, []errorMessageCase{
		{"file is not a database (26)", "is corrupt"},
		{"database disk image is malformed (11)", "is corrupt"},
		{"attempt to write a readonly database (8)", "check the permissions"},
		{"unable to open database file: permission denied", "check the permissions"},
		{"database is locked (5)", "in use by another program"},
	})
}

func TestOutboxWriteErrorMessages(t *testing.T) {
	checkErrorMessages(t, "outboxWriteError", outboxWriteError, []errorMessageCase{
		{"database or disk is full (13)", "free disk space"},
		{"attempt to write a readonly database (8)", "read-only"},
		{"disk I/O error (778)", "check the disk"},
		{"database disk image is malformed (11)", "is corrupt"},
	})
}

func TestOutboxReadErrorMessages(t *testing.T) {
	readError := func(path string, err error) error { return outboxReadError("read outbox", path, err) }
	checkErrorMessages(t, "outboxReadError", readError, []errorMessageCase{
		{"database disk image is malformed (11)", "is corrupt"},
	})
	err := readError("/x/outbox.db", fmt.Errorf("interrupted (9)"))
	if got, want := err.Error(), "sqlite: read outbox /x/outbox.db: interrupted (9)"; got != want {
		t.Errorf("outboxReadError(interrupted) = %q, want %q", got, want)
	}
}
