package eventstore_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/eventstore"
)

var numbered = eventstore.Dialect{
	Placeholder: func(n int) string { return fmt.Sprintf("$%d", n) },
	Time:        func(t time.Time) any { return t.UnixMilli() },
}

func TestListQueryFilters(t *testing.T) {
	start := time.Date(2026, 1, 27, 0, 0, 0, 0, time.UTC)
	q := timeback.EventQuery{Sensor: "s", ActorEmail: "a@example.com", Start: start, Limit: 5, Offset: 2,
		Cursor: timeback.EncodeCursor(7)}
	query, args, limit, err := eventstore.ListQuery(q, numbered)
	if err != nil {
		t.Fatal(err)
	}
	wantWhere := "WHERE seq > $1 AND sensor = $2 AND actor_email = $3 AND event_time >= $4 ORDER BY seq LIMIT $5 OFFSET $6"
	if !strings.HasSuffix(query, wantWhere) {
		t.Errorf("query = %q, want it to end with %q", query, wantWhere)
	}
	wantArgs := []any{int64(7), "s", "a@example.com", start.UnixMilli(), 6, 2}
	if !slices.Equal(args, wantArgs) {
		t.Errorf("args = %v, want %v", args, wantArgs)
	}
	if limit != 5 {
		t.Errorf("limit = %d, want 5", limit)
	}
}

func TestListQueryRejectsBadCursor(t *testing.T) {
	_, _, _, err := eventstore.ListQuery(timeback.EventQuery{Cursor: "not a cursor"}, numbered)
	if err == nil {
		t.Error("ListQuery with a bad cursor returned no error")
	}
}

func TestPageNextCursor(t *testing.T) {
	events := []*timeback.StoredEvent{{Seq: 1}, {Seq: 2}, {Seq: 3}}
	page := eventstore.Page(events, 2)
	if len(page.Events) != 2 {
		t.Errorf("page has %d events, want 2", len(page.Events))
	}
	if want := timeback.EncodeCursor(2); page.Next != want {
		t.Errorf("next = %q, want %q", page.Next, want)
	}
	if empty := eventstore.Page(nil, 2); empty.Events == nil || empty.Next != "" {
		t.Errorf("empty page = %+v, want an empty list and no cursor", empty)
	}
}
