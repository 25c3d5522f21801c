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

func TestOutboxOpenErrorMessages(t *testing.T) {
	tests := []struct {
		cause string
		want  string
	}{
		{"file is not a database (26)", "is corrupt"},
		{"database disk image is malformed (11)", "is corrupt"},
		{"attempt to write a readonly database (8)", "check the permissions"},
		{"unable to open database file: permission denied", "check the permissions"},
		{"database is locked (5)", "in use by another program"},
	}
	for _, tt := range tests {
		err := outboxOpenError("/x/outbox.db", fmt.Errorf("%s", tt.cause))
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "/x/outbox.db") {
			t.Errorf("outboxOpenError(%q) = %q, want the path and %q", tt.cause, err, tt.want)
		}
	}
}

func TestOutboxWriteErrorMessages(t *testing.T) {
	tests := []struct {
		cause string
		want  string
	}{
		{"database or disk is full (13)", "free disk space"},
		{"attempt to write a readonly database (8)", "read-only"},
		{"disk I/O error (778)", "check the disk"},
		{"database disk image is malformed (11)", "is corrupt"},
	}
	for _, tt := range tests {
		err := outboxWriteError("/x/outbox.db", fmt.Errorf("%s", tt.cause))
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "/x/outbox.db") {
			t.Errorf("outboxWriteError(%q) = %q, want the path and %q", tt.cause, err, tt.want)
		}
	}
}

func TestOutboxReadErrorMessages(t *testing.T) {
	err := outboxReadError("read outbox", "/x/outbox.db", fmt.Errorf("database disk image is malformed (11)"))
	if !strings.Contains(err.Error(), "is corrupt") || !strings.Contains(err.Error(), "/x/outbox.db") {
		t.Errorf("outboxReadError(malformed) = %q, want the path and that the outbox is corrupt", err)
	}
	err = outboxReadError("read outbox", "/x/outbox.db", fmt.Errorf("interrupted (9)"))
	if got, want := err.Error(), "sqlite: read outbox /x/outbox.db: interrupted (9)"; got != want {
		t.Errorf("outboxReadError(interrupted) = %q, want %q", got, want)
	}
}
