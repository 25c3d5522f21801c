package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go/sqlite"
)

// deadLetterOutbox writes an outbox with one dead letter and returns its
// path.
func deadLetterOutbox(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	outbox, err := sqlite.OpenOutbox(ctx, path)
	if err != nil {
		t.Fatalf("open outbox: %v", err)
	}
	defer outbox.Close()
	entry := sqlite.OutboxEntry{ID: "urn:uuid:00000000-0000-4000-8000-0000000000d1", JSON: []byte(`{}`),
		EnqueuedAt: time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)}
	if err := outbox.Append(ctx, []sqlite.OutboxEntry{entry}); err != nil {
		t.Fatalf("append: %v", err)
	}
	queued, err := outbox.Peek(ctx, 1, 1<<20)
	if err != nil || len(queued) != 1 {
		t.Fatalf("peek: %v, %d entries", err, len(queued))
	}
	if err := outbox.DeadLetter(ctx, queued, 409, "conflict", entry.EnqueuedAt); err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	return path
}

func runOutboxArgs(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), env{strings.NewReader(""), &stdout, &stderr}, args)
	return code, stdout.String(), stderr.String()
}

func TestOutboxRetryNamesDestination(t *testing.T) {
	path := deadLetterOutbox(t)
	code, out, errOut := runOutboxArgs("outbox", "retry", "--outbox", path)
	if code != exitOK {
		t.Fatalf("exit = %d, stderr %q; want %d", code, errOut, exitOK)
	}
	if want := "requeued 1 dead letters\n"; !strings.HasPrefix(out, want) {
		t.Errorf("stdout = %q, want it to start with %q", out, want)
	}
	if want := "timeback send --endpoint URL --outbox " + path; !strings.Contains(out, want) {
		t.Errorf("stdout = %q, want the send command %q", out, want)
	}
}

func TestOutboxRetryNothingRequeued(t *testing.T) {
	path := deadLetterOutbox(t)
	code, out, _ := runOutboxArgs("outbox", "retry", "--outbox", path, "--id", "urn:uuid:unknown")
	if code != exitFailure {
		t.Errorf("exit = %d, want %d", code, exitFailure)
	}
	if want := "requeued 0 dead letters\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
}
