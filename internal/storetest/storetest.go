package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
)

// Sensor is the sensor IRI of the suite's batches.
const Sensor = "https://app.example.com/sensors/1"

var t0 = time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)

// Run runs the conformance suite against stores that newStore opens. Each
// call of newStore must return an empty store; the suite closes it, and
// newStore may register further cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) timeback.EventStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, timeback.EventStore)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"DuplicateSameContent", testDuplicate},
		{"ConflictStoresNothing", testConflict},
		{"DuplicateWithinOneAppend", testDuplicateWithinAppend},
		{"ReusedJobID", testReusedJobID},
		{"NotFound", testNotFound},
		{"ListFilters", testListFilters},
		{"ListPaging", testListPaging},
		{"ListBadQuery", testListBadQuery},
		{"ConcurrentSameEvents", testConcurrent},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

func heartbeat(n int, student int) []byte {
	start := t0.Add(time.Duration(n) * 15 * time.Second)
	return Heartbeat(EventID(n), Student(student), "run-1", start, start.Add(15*time.Second), 10, 5)
}

func appendOne(t *testing.T, s timeback.EventStore, b *timeback.Batch) timeback.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), []*timeback.Batch{b})
	if err != nil {
		t.Fatalf("Append(%s): %v", b.JobID, err)
	}
	if len(res) != 1 {
		t.Fatalf("Append(%s) returned %d results, want 1", b.JobID, len(res))
	}
	return res[0]
}

func testAppendAndRead(t *testing.T, s timeback.EventStore) {
	ctx := context.Background()
	b := NewBatch(t, "job-1", Sensor, heartbeat(1, 1), heartbeat(2, 1))
	res := appendOne(t, s, b)
	if res.Err != nil {
		t.Fatalf("batch rejected: %v", res.Err)
	}
	if res.Stored != 2 || res.Duplicates != 0 {
		t.Errorf("Stored, Duplicates = %d, %d; want 2, 0", res.Stored, res.Duplicates)
	}
	if res.Job == nil || res.Job.ID != "job-1" || res.Job.State != timeback.JobCompleted {
		t.Fatalf("Job = %+v, want job-1 completed", res.Job)
	}
	if len(res.Job.Results) != 2 || res.Job.Results[0].ExternalID != EventID(1) ||
		res.Job.Results[1].ExternalID != EventID(2) {
		t.Fatalf("Job.Results = %+v, want both events in envelope order", res.Job.Results)
	}
	first, _ := strconv.ParseInt(res.Job.Results[0].AllocatedID, 10, 64)
	second, _ := strconv.ParseInt(res.Job.Results[1].AllocatedID, 10, 64)
	if first <= 0 || second <= first {
		t.Errorf("allocated ids %q, %q: want increasing positive integers",
			res.Job.Results[0].AllocatedID, res.Job.Results[1].AllocatedID)
	}

	got, err := s.Event(ctx, EventID(2))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.JSON, b.Events[1].Item.Raw) {
		t.Errorf("Event JSON = %s, want the bytes as sent", got.JSON)
	}
	if got.Seq != second {
		t.Errorf("Event Seq = %d, want %d", got.Seq, second)
	}
	if got.Sensor != Sensor || got.JobID != "job-1" || got.ActorID != Student(1) || got.Type != "TimeSpentEvent" ||
		got.Action != "SpentTime" || got.Profile != "TimebackProfile" {
		t.Errorf("Event = %+v, want its sensor, job, actor, type, action and profile", got)
	}
	if want := t0.Add(45 * time.Second); !got.EventTime.Equal(want) {
		t.Errorf("EventTime = %v, want %v", got.EventTime, want)
	}

	job, err := s.Job(ctx, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if job.State != timeback.JobCompleted || len(job.Results) != 2 ||
		job.Results[1].AllocatedID != res.Job.Results[1].AllocatedID {
		t.Errorf("Job = %+v, want the results of the append", job)
	}
}

func testDuplicate(t *testing.T, s timeback.EventStore) {
	raw := heartbeat(1, 1)
	first := appendOne(t, s, NewBatch(t, "job-1", Sensor, raw))
	// The same content with other white space is the same event.
	spaced := bytes.ReplaceAll(raw, []byte(`,"`), []byte(`, "`))
	again := appendOne(t, s, NewBatch(t, "job-2", Sensor, spaced, heartbeat(2, 1)))
	if again.Err != nil {
		t.Fatalf("resent event rejected: %v", again.Err)
	}
	if again.Stored != 1 || again.Duplicates != 1 {
		t.Errorf("Stored, Duplicates = %d, %d; want 1, 1", again.Stored, again.Duplicates)
	}
	if r := again.Job.Results[0]; !r.Duplicate || r.AllocatedID != first.Job.Results[0].AllocatedID {
		t.Errorf("duplicate's result = %+v, want Duplicate with the first copy's id %s", r,
			first.Job.Results[0].AllocatedID)
	}
	got, err := s.Event(context.Background(), EventID(1))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.JSON, raw) {
		t.Errorf("stored copy changed to %s", got.JSON)
	}
	if n := countEvents(t, s, timeback.EventQuery{}); n != 2 {
		t.Errorf("store holds %d events, want 2", n)
	}
}

func testConflict(t *testing.T, s timeback.EventStore) {
	ctx := context.Background()
	appendOne(t, s, NewBatch(t, "job-1", Sensor, heartbeat(1, 1)))
	changed := Heartbeat(EventID(1), Student(1), "run-1", t0, t0.Add(15*time.Second), 15, 0)
	bad := NewBatch(t, "job-2", Sensor, heartbeat(2, 1), changed)
	good := NewBatch(t, "job-3", Sensor, heartbeat(3, 1))
	res, err := s.Append(ctx, []*timeback.Batch{bad, good})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0].Err, timeback.ErrEventConflict) {
		t.Errorf("conflicting batch: Err = %v, want ErrEventConflict", res[0].Err)
	}
	if code := timeback.ErrorCode(res[0].Err); code != timeback.CodeConflict {
		t.Errorf("conflicting batch: code = %s, want conflict", code)
	}
	if res[0].Job != nil {
		t.Errorf("conflicting batch has a job: %+v", res[0].Job)
	}
	if res[1].Err != nil || res[1].Stored != 1 {
		t.Errorf("batch after the conflict: Err = %v, Stored = %d; want it stored", res[1].Err, res[1].Stored)
	}
	if _, err := s.Event(ctx, EventID(2)); !errors.Is(err, timeback.ErrEventNotFound) {
		t.Errorf("event of the conflicting batch: err = %v, want ErrEventNotFound", err)
	}
	if _, err := s.Job(ctx, "job-2"); !errors.Is(err, timeback.ErrJobNotFound) {
		t.Errorf("job of the conflicting batch: err = %v, want ErrJobNotFound", err)
	}
	got, err := s.Event(ctx, EventID(1))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.JSON, heartbeat(1, 1)) {
		t.Errorf("stored copy changed by the conflict: %s", got.JSON)
	}
}

func testDuplicateWithinAppend(t *testing.T, s timeback.EventStore) {
	a := NewBatch(t, "job-1", Sensor, heartbeat(1, 1))
	b := NewBatch(t, "job-2", Sensor, heartbeat(1, 1), heartbeat(2, 1))
	res, err := s.Append(context.Background(), []*timeback.Batch{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Stored != 1 || res[1].Stored != 1 || res[1].Duplicates != 1 {
		t.Errorf("results = %+v, %+v; want 1 stored, then 1 stored and 1 duplicate", res[0], res[1])
	}
	if n := countEvents(t, s, timeback.EventQuery{}); n != 2 {
		t.Errorf("store holds %d events, want 2", n)
	}
}

func testReusedJobID(t *testing.T, s timeback.EventStore) {
	appendOne(t, s, NewBatch(t, "job-1", Sensor, heartbeat(1, 1)))
	res := appendOne(t, s, NewBatch(t, "job-1", Sensor, heartbeat(2, 1)))
	if res.Err == nil {
		t.Fatalf("batch with a used job id was stored")
	}
	if _, err := s.Event(context.Background(), EventID(2)); !errors.Is(err, timeback.ErrEventNotFound) {
		t.Errorf("event of the rejected batch: err = %v, want ErrEventNotFound", err)
	}
}

func testNotFound(t *testing.T, s timeback.EventStore) {
	ctx := context.Background()
	_, err := s.Event(ctx, "urn:uuid:' OR 1=1 --")
	if !errors.Is(err, timeback.ErrEventNotFound) || timeback.ErrorCode(err) != timeback.CodeNotFound {
		t.Errorf("Event of an unknown id: err = %v, want ErrEventNotFound with code not_found", err)
	}
	_, err = s.Job(ctx, "no-such-job")
	if !errors.Is(err, timeback.ErrJobNotFound) || timeback.ErrorCode(err) != timeback.CodeNotFound {
		t.Errorf("Job of an unknown id: err = %v, want ErrJobNotFound with code not_found", err)
	}
}

func countEvents(t *testing.T, s timeback.EventStore, q timeback.EventQuery) int {
	t.Helper()
	page, err := s.Events(context.Background(), q)
	if err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	return len(page.Events)
}

func testListFilters(t *testing.T, s timeback.EventStore) {
	appendOne(t, s, NewBatch(t, "job-1", Sensor, heartbeat(1, 1), heartbeat(2, 2), heartbeat(3, 1)))
	appendOne(t, s, NewBatch(t, "job-2", "https://other.example.com/sensor", heartbeat(4, 1)))
	tests := []struct {
		name string
		q    timeback.EventQuery
		want []int
	}{
		{"all", timeback.EventQuery{}, []int{1, 2, 3, 4}},
		{"sensor", timeback.EventQuery{Sensor: Sensor}, []int{1, 2, 3}},
		{"actor id", timeback.EventQuery{ActorID: Student(2)}, []int{2}},
		{"actor email", timeback.EventQuery{ActorEmail: "student-1@example.com"}, []int{1, 3, 4}},
		{"start inclusive", timeback.EventQuery{Start: t0.Add(45 * time.Second)}, []int{2, 3, 4}},
		{"end inclusive", timeback.EventQuery{End: t0.Add(45 * time.Second)}, []int{1, 2}},
		{"no match", timeback.EventQuery{ActorID: "x' OR '1'='1"}, nil},
	}
	for _, tt := range tests {
		page, err := s.Events(context.Background(), tt.q)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got []string
		for _, e := range page.Events {
			got = append(got, e.ID)
		}
		var want []string
		for _, n := range tt.want {
			want = append(want, EventID(n))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, want)
		}
	}
}

func testListPaging(t *testing.T, s timeback.EventStore) {
	ctx := context.Background()
	for i := range 5 {
		appendOne(t, s, NewBatch(t, fmt.Sprintf("job-%d", i), Sensor, heartbeat(i, 1)))
	}
	page, err := s.Events(ctx, timeback.EventQuery{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 || page.Next == "" {
		t.Fatalf("first page: %d events, next %q; want 2 and a cursor", len(page.Events), page.Next)
	}
	// Events stored after the first page do not shift the next pages.
	appendOne(t, s, NewBatch(t, "job-late", Sensor, heartbeat(9, 1)))
	var ids []string
	for _, e := range page.Events {
		ids = append(ids, e.ID)
	}
	for cursor := page.Next; cursor != ""; {
		p, err := s.Events(ctx, timeback.EventQuery{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			ids = append(ids, e.ID)
		}
		cursor = p.Next
	}
	want := []string{EventID(0), EventID(1), EventID(2), EventID(3), EventID(4), EventID(9)}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("paged ids = %v, want %v", ids, want)
	}

	p, err := s.Events(ctx, timeback.EventQuery{Limit: 2, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 2 || p.Events[0].ID != EventID(1) {
		t.Errorf("offset 1: got %d events starting %v, want 2 starting %s", len(p.Events), p.Events, EventID(1))
	}
}

func testListBadQuery(t *testing.T, s timeback.EventStore) {
	tests := []struct {
		name string
		q    timeback.EventQuery
	}{
		{"negative limit", timeback.EventQuery{Limit: -1}},
		{"limit too large", timeback.EventQuery{Limit: 1_000_000_000}},
		{"negative offset", timeback.EventQuery{Offset: -1}},
		{"end before start", timeback.EventQuery{Start: t0, End: t0.Add(-time.Second)}},
		{"bad cursor", timeback.EventQuery{Cursor: "'; DROP TABLE events; --"}},
	}
	for _, tt := range tests {
		_, err := s.Events(context.Background(), tt.q)
		if code := timeback.ErrorCode(err); code != timeback.CodeInvalid {
			t.Errorf("%s: err = %v (code %q), want code invalid", tt.name, err, code)
		}
	}
	_, err := s.Events(context.Background(), timeback.EventQuery{Cursor: "not a cursor"})
	if !errors.Is(err, timeback.ErrInvalidCursor) {
		t.Errorf("bad cursor: err = %v, want ErrInvalidCursor", err)
	}
}

func testConcurrent(t *testing.T, s timeback.EventStore) {
	const writers = 8
	var wg sync.WaitGroup
	results := make([]timeback.AppendResult, writers)
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			b := NewBatch(t, fmt.Sprintf("job-%d", i), Sensor, heartbeat(1, 1), heartbeat(2, 1), heartbeat(3, 1))
			res, err := s.Append(context.Background(), []*timeback.Batch{b})
			errs[i] = err
			if err == nil {
				results[i] = res[0]
			}
		})
	}
	wg.Wait()
	stored := 0
	for i := range writers {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		if results[i].Err != nil {
			t.Fatalf("writer %d: batch rejected: %v", i, results[i].Err)
		}
		if results[i].Stored+results[i].Duplicates != 3 {
			t.Errorf("writer %d: Stored %d + Duplicates %d, want 3", i, results[i].Stored, results[i].Duplicates)
		}
		stored += results[i].Stored
	}
	if stored != 3 {
		t.Errorf("writers stored %d events in all, want 3", stored)
	}
	if n := countEvents(t, s, timeback.EventQuery{}); n != 3 {
		t.Errorf("store holds %d events, want 3", n)
	}
}

func testClosed(t *testing.T, s timeback.EventStore) {
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(context.Background(), []*timeback.Batch{NewBatch(t, "job-1", Sensor, heartbeat(1, 1))})
	if !errors.Is(err, timeback.ErrStoreClosed) {
		t.Errorf("Append after Close: err = %v, want ErrStoreClosed", err)
	}
	if _, err := s.Event(context.Background(), EventID(1)); !errors.Is(err, timeback.ErrStoreClosed) {
		t.Errorf("Event after Close: err = %v, want ErrStoreClosed", err)
	}
}
