package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	timeback "github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
)

var testNow = time.Date(2026, 1, 27, 12, 0, 0, 0, time.UTC)

func openTestStore(t *testing.T, cfg Config) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	s, err := Open(context.Background(), path, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// testEvent returns an event of actor n at minute min with raw bytes as a
// client might format them.
func testEvent(id string, actor, minute int, extra string) timeback.NewEvent {
	at := time.Date(2026, 1, 27, 10, minute, 0, 0, time.UTC)
	actorID := fmt.Sprintf("https://api.example.com/ims/oneroster/rostering/v1p2/users/student-%d", actor)
	raw := fmt.Sprintf(`{ "id": %q, "type": "TimeSpentEvent", "action": "SpentTime",
  "eventTime": %q, "actor": {"id": %q, "email": "student-%d@example.com"}%s }`,
		id, at.Format("2006-01-02T15:04:05.000Z"), actorID, actor, extra)
	canonical, err := caliper.Canonical([]byte(raw))
	if err != nil {
		panic(err)
	}
	return timeback.NewEvent{
		Item: caliper.Item{
			Raw: []byte(raw), ID: id, Type: "TimeSpentEvent",
			Event: &caliper.EventInfo{Action: "SpentTime", Profile: "TimebackProfile", EventTime: at,
				ActorID: actorID, ActorEmail: fmt.Sprintf("student-%d@example.com", actor),
				ObjectID: "https://myapp.example.com/activities/1"},
		},
		Canonical: canonical,
	}
}

func batch(job, sensor string, events ...timeback.NewEvent) *timeback.Batch {
	for i := range events {
		events[i].Item.Pointer = fmt.Sprintf("/data/%d", i)
	}
	return &timeback.Batch{JobID: job, Sensor: sensor, Received: testNow, Events: events}
}

func appendOK(t *testing.T, s *Store, batches ...*timeback.Batch) []timeback.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), batches)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if len(res) != len(batches) {
		t.Fatalf("Append returned %d results for %d batches", len(res), len(batches))
	}
	return res
}

func TestAppendStoresBytesAsSent(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	ev := testEvent("urn:uuid:00000000-0000-4000-8000-000000000001", 1, 0, "")
	res := appendOK(t, s, batch("job-1", "https://sensor.example.com", ev))
	if res[0].Err != nil {
		t.Fatalf("batch error: %v", res[0].Err)
	}
	if res[0].Stored != 1 || res[0].Duplicates != 0 {
		t.Errorf("stored, duplicates = %d, %d, want 1, 0", res[0].Stored, res[0].Duplicates)
	}

	got, err := s.Event(context.Background(), ev.Item.ID)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	if string(got.JSON) != string(ev.Item.Raw) {
		t.Errorf("JSON = %s, want the bytes as sent %s", got.JSON, ev.Item.Raw)
	}
	if got.Sensor != "https://sensor.example.com" {
		t.Errorf("Sensor = %q", got.Sensor)
	}
	if !got.EventTime.Equal(ev.Item.Event.EventTime) {
		t.Errorf("EventTime = %v, want %v", got.EventTime, ev.Item.Event.EventTime)
	}
	if got.ActorEmail != "student-1@example.com" {
		t.Errorf("ActorEmail = %q", got.ActorEmail)
	}
	if got.JobID != "job-1" || got.Seq != 1 || !got.Stored.Equal(testNow) {
		t.Errorf("JobID, Seq, Stored = %q, %d, %v", got.JobID, got.Seq, got.Stored)
	}
}

func TestAppendSameContentIsDuplicate(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	id := "urn:uuid:00000000-0000-4000-8000-000000000002"
	appendOK(t, s, batch("job-1", "s", testEvent(id, 1, 0, "")))

	// The same content with other white space and member order.
	again := testEvent(id, 1, 0, "")
	again.Item.Raw = []byte(`{"actor":{"email":"student-1@example.com","id":"https://api.example.com/ims/oneroster/rostering/v1p2/users/student-1"},"action":"SpentTime","eventTime":"2026-01-27T10:00:00.000Z","id":"` + id + `","type":"TimeSpentEvent"}`)
	canonical, err := caliper.Canonical(again.Item.Raw)
	if err != nil {
		t.Fatal(err)
	}
	again.Canonical = canonical
	fresh := testEvent("urn:uuid:00000000-0000-4000-8000-000000000003", 1, 1, "")

	res := appendOK(t, s, batch("job-2", "s", again, fresh))
	if res[0].Err != nil {
		t.Fatalf("batch error: %v", res[0].Err)
	}
	if res[0].Stored != 1 || res[0].Duplicates != 1 {
		t.Errorf("stored, duplicates = %d, %d, want 1, 1", res[0].Stored, res[0].Duplicates)
	}
	want := []timeback.JobResult{
		{AllocatedID: "1", ExternalID: id, Duplicate: true},
		{AllocatedID: "2", ExternalID: fresh.Item.ID},
	}
	if fmt.Sprint(res[0].Job.Results) != fmt.Sprint(want) {
		t.Errorf("job results = %v, want %v", res[0].Job.Results, want)
	}
	page, err := s.Events(context.Background(), timeback.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 {
		t.Errorf("stored %d events, want 2", len(page.Events))
	}
}

func TestAppendConflictRejectsOnlyItsBatch(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	id := "urn:uuid:00000000-0000-4000-8000-000000000004"
	appendOK(t, s, batch("job-1", "s", testEvent(id, 1, 0, "")))

	other := testEvent("urn:uuid:00000000-0000-4000-8000-000000000005", 2, 0, "")
	changed := testEvent(id, 1, 0, `, "extensions": {"runId": "other"}`)
	ok := testEvent("urn:uuid:00000000-0000-4000-8000-000000000006", 3, 0, "")
	res := appendOK(t, s,
		batch("job-2", "s", other, changed),
		batch("job-3", "s", ok))

	err := res[0].Err
	if !errors.Is(err, timeback.ErrEventConflict) {
		t.Fatalf("first batch error = %v, want ErrEventConflict", err)
	}
	if code := timeback.ErrorCode(err); code != timeback.CodeConflict {
		t.Errorf("code = %q, want %q", code, timeback.CodeConflict)
	}
	var e *timeback.Error
	if errors.As(err, &e) && (len(e.Fields) != 1 || e.Fields[0].Path != "/data/1/id") {
		t.Errorf("fields = %v, want one at /data/1/id", e.Fields)
	}
	if res[1].Err != nil || res[1].Stored != 1 {
		t.Errorf("second batch = %+v, want stored", res[1])
	}

	if _, err := s.Event(context.Background(), other.Item.ID); !errors.Is(err, timeback.ErrEventNotFound) {
		t.Errorf("event of the conflicting batch: err = %v, want ErrEventNotFound", err)
	}
	if _, err := s.Job(context.Background(), "job-2"); !errors.Is(err, timeback.ErrJobNotFound) {
		t.Errorf("job of the conflicting batch: err = %v, want ErrJobNotFound", err)
	}
	got, err := s.Event(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.JSON) != string(testEvent(id, 1, 0, "").Item.Raw) {
		t.Errorf("stored copy changed to %s", got.JSON)
	}
}

func TestAppendDuplicateAcrossBatchesOfOneCommit(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	id := "urn:uuid:00000000-0000-4000-8000-000000000007"
	res := appendOK(t, s,
		batch("job-1", "s", testEvent(id, 1, 0, "")),
		batch("job-2", "s", testEvent(id, 1, 0, "")),
		batch("job-3", "s", testEvent(id, 1, 0, `, "extensions": {}`)))
	if res[0].Stored != 1 || res[1].Duplicates != 1 {
		t.Errorf("results = %+v, %+v, want stored then duplicate", res[0], res[1])
	}
	if !errors.Is(res[2].Err, timeback.ErrEventConflict) {
		t.Errorf("third batch error = %v, want ErrEventConflict", res[2].Err)
	}
}

func TestAppendRepeatedIDInBatch(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	id := "urn:uuid:00000000-0000-4000-8000-000000000008"
	res := appendOK(t, s, batch("job-1", "s", testEvent(id, 1, 0, ""), testEvent(id, 1, 0, "")))
	if code := timeback.ErrorCode(res[0].Err); code != timeback.CodeInvalid {
		t.Errorf("code = %q, want %q (err %v)", code, timeback.CodeInvalid, res[0].Err)
	}
}

func TestAppendRepeatedJobID(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	appendOK(t, s, batch("job-1", "s", testEvent("urn:uuid:00000000-0000-4000-8000-000000000009", 1, 0, "")))
	ev := testEvent("urn:uuid:00000000-0000-4000-8000-000000000010", 1, 0, "")
	res := appendOK(t, s, batch("job-1", "s", ev))
	if code := timeback.ErrorCode(res[0].Err); code != timeback.CodeInvalid {
		t.Errorf("code = %q, want %q (err %v)", code, timeback.CodeInvalid, res[0].Err)
	}
	if _, err := s.Event(context.Background(), ev.Item.ID); !errors.Is(err, timeback.ErrEventNotFound) {
		t.Errorf("event of the rejected batch: err = %v, want ErrEventNotFound", err)
	}
}

func TestJobResults(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	a := testEvent("urn:uuid:00000000-0000-4000-8000-000000000011", 1, 0, "")
	b := testEvent("urn:uuid:00000000-0000-4000-8000-000000000012", 1, 1, "")
	appendOK(t, s, batch("job-1", "s", a, b))

	job, err := s.Job(context.Background(), "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if job.State != timeback.JobCompleted || !job.Processed.Equal(testNow) {
		t.Errorf("state, processed = %q, %v", job.State, job.Processed)
	}
	want := []timeback.JobResult{
		{AllocatedID: "1", ExternalID: a.Item.ID},
		{AllocatedID: "2", ExternalID: b.Item.ID},
	}
	if fmt.Sprint(job.Results) != fmt.Sprint(want) {
		t.Errorf("results = %v, want %v", job.Results, want)
	}
	if _, err := s.Job(context.Background(), "job-x"); timeback.ErrorCode(err) != timeback.CodeNotFound {
		t.Errorf("missing job: err = %v, want code not_found", err)
	}
}

func TestEventsFilters(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	var events []timeback.NewEvent
	for i := range 6 {
		events = append(events, testEvent(fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-0000000001%02d", i), i%2, i, ""))
	}
	appendOK(t, s, batch("job-a", "sensor-a", events[:3]...), batch("job-b", "sensor-b", events[3:]...))

	tests := []struct {
		name string
		q    timeback.EventQuery
		want []int64
	}{
		{"all", timeback.EventQuery{}, []int64{1, 2, 3, 4, 5, 6}},
		{"sensor", timeback.EventQuery{Sensor: "sensor-b"}, []int64{4, 5, 6}},
		{"actor id", timeback.EventQuery{ActorID: events[1].Item.Event.ActorID}, []int64{2, 4, 6}},
		{"actor email", timeback.EventQuery{ActorEmail: "student-0@example.com"}, []int64{1, 3, 5}},
		{"start", timeback.EventQuery{Start: time.Date(2026, 1, 27, 10, 4, 0, 0, time.UTC)}, []int64{5, 6}},
		{"end", timeback.EventQuery{End: time.Date(2026, 1, 27, 10, 1, 0, 0, time.UTC)}, []int64{1, 2}},
		{"offset", timeback.EventQuery{Offset: 4}, []int64{5, 6}},
		{"limit", timeback.EventQuery{Limit: 2}, []int64{1, 2}},
		{"sql in value", timeback.EventQuery{ActorID: "x' OR '1'='1"}, nil},
	}
	for _, tt := range tests {
		page, err := s.Events(context.Background(), tt.q)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got []int64
		for _, ev := range page.Events {
			got = append(got, ev.Seq)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: seqs = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEventsCursorIsStable(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	for i := range 5 {
		ev := testEvent(fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-0000000002%02d", i), 1, i, "")
		appendOK(t, s, batch(fmt.Sprintf("job-%d", i), "s", ev))
	}

	first, err := s.Events(context.Background(), timeback.EventQuery{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if first.Next == "" {
		t.Fatal("first page has no next cursor")
	}
	// An event stored between two page reads lands after the pages read.
	appendOK(t, s, batch("job-late", "s", testEvent("urn:uuid:00000000-0000-4000-8000-000000000299", 1, 59, "")))

	var got []int64
	for _, ev := range first.Events {
		got = append(got, ev.Seq)
	}
	cursor := first.Next
	for cursor != "" {
		page, err := s.Events(context.Background(), timeback.EventQuery{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			got = append(got, ev.Seq)
		}
		cursor = page.Next
	}
	if want := []int64{1, 2, 3, 4, 5, 6}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged seqs = %v, want %v", got, want)
	}
}

func TestEventsRejectsBadQuery(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	tests := []struct {
		name string
		q    timeback.EventQuery
	}{
		{"negative limit", timeback.EventQuery{Limit: -1}},
		{"huge limit", timeback.EventQuery{Limit: 1_000_000_000}},
		{"negative offset", timeback.EventQuery{Offset: -1}},
		{"end before start", timeback.EventQuery{Start: testNow, End: testNow.Add(-time.Hour)}},
		{"bad cursor", timeback.EventQuery{Cursor: "1; DROP TABLE events"}},
	}
	for _, tt := range tests {
		_, err := s.Events(context.Background(), tt.q)
		if code := timeback.ErrorCode(err); code != timeback.CodeInvalid {
			t.Errorf("%s: code = %q, want %q (err %v)", tt.name, code, timeback.CodeInvalid, err)
		}
	}
}

func TestStoreSurvivesReopen(t *testing.T) {
	s, path := openTestStore(t, Config{})
	ev := testEvent("urn:uuid:00000000-0000-4000-8000-000000000301", 1, 0, "")
	appendOK(t, s, batch("job-1", "s", ev))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Event(context.Background(), ev.Item.ID); !errors.Is(err, timeback.ErrStoreClosed) {
		t.Errorf("Event after Close: err = %v, want ErrStoreClosed", err)
	}

	s2, err := Open(context.Background(), path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Event(context.Background(), ev.Item.ID); err != nil {
		t.Errorf("Event after reopen: %v", err)
	}
}

type recordingFacts struct {
	mu    sync.Mutex
	added []string
	fail  error
}

func (f *recordingFacts) WriteFacts(ctx context.Context, tx *sql.Tx, b *timeback.Batch, added []*timeback.StoredEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	// Writing through tx proves the call runs inside the transaction.
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS facts (id TEXT)"); err != nil {
		return err
	}
	for _, ev := range added {
		f.added = append(f.added, ev.ID)
		if _, err := tx.ExecContext(ctx, "INSERT INTO facts (id) VALUES (?)", ev.ID); err != nil {
			return err
		}
	}
	return nil
}

func TestFactWriterGetsAddedEvents(t *testing.T) {
	facts := &recordingFacts{}
	s, _ := openTestStore(t, Config{Facts: facts})
	a := testEvent("urn:uuid:00000000-0000-4000-8000-000000000401", 1, 0, "")
	b := testEvent("urn:uuid:00000000-0000-4000-8000-000000000402", 1, 1, "")
	appendOK(t, s, batch("job-1", "s", a))
	appendOK(t, s, batch("job-2", "s", a, b))

	if want := []string{a.Item.ID, b.Item.ID}; fmt.Sprint(facts.added) != fmt.Sprint(want) {
		t.Errorf("facts got %v, want %v", facts.added, want)
	}
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM facts").Scan(&n); err != nil || n != 2 {
		t.Errorf("fact rows = %d (err %v), want 2", n, err)
	}
}

func TestFactWriterErrorRejectsBatch(t *testing.T) {
	facts := &recordingFacts{fail: errors.New("no facts today")}
	s, _ := openTestStore(t, Config{Facts: facts})
	ev := testEvent("urn:uuid:00000000-0000-4000-8000-000000000501", 1, 0, "")
	res := appendOK(t, s, batch("job-1", "s", ev))
	if res[0].Err == nil {
		t.Fatal("batch stored although the fact writer failed")
	}
	if _, err := s.Event(context.Background(), ev.Item.ID); !errors.Is(err, timeback.ErrEventNotFound) {
		t.Errorf("event of the rejected batch: err = %v, want ErrEventNotFound", err)
	}
}

func TestAppendConcurrentSameEvent(t *testing.T) {
	s, _ := openTestStore(t, Config{})
	id := "urn:uuid:00000000-0000-4000-8000-000000000601"
	const n = 20
	var wg sync.WaitGroup
	results := make([]timeback.AppendResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			res, err := s.Append(context.Background(), []*timeback.Batch{batch(fmt.Sprintf("job-%d", i), "s", testEvent(id, 1, 0, ""))})
			errs[i] = err
			if err == nil {
				results[i] = res[0]
			}
		})
	}
	wg.Wait()
	stored := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Append %d: %v", i, errs[i])
		}
		stored += results[i].Stored
	}
	if stored != 1 {
		t.Errorf("stored %d copies, want 1", stored)
	}
}

// failingJobFacts fails the batch with one job id and records the others.
type failingJobFacts struct {
	failJob string
	calls   []string
}

func (f *failingJobFacts) WriteFacts(ctx context.Context, tx *sql.Tx, b *timeback.Batch, added []*timeback.StoredEvent) error {
	f.calls = append(f.calls, b.JobID)
	if b.JobID == f.failJob {
		return errors.New("cannot derive facts")
	}
	return nil
}

func TestFactWriterErrorSparesOtherBatches(t *testing.T) {
	facts := &failingJobFacts{failJob: "job-2"}
	s, _ := openTestStore(t, Config{Facts: facts})
	a := testEvent("urn:uuid:00000000-0000-4000-8000-000000000701", 1, 0, "")
	b := testEvent("urn:uuid:00000000-0000-4000-8000-000000000702", 1, 1, "")
	c := testEvent("urn:uuid:00000000-0000-4000-8000-000000000703", 1, 2, "")
	res := appendOK(t, s, batch("job-1", "s", a), batch("job-2", "s", b), batch("job-3", "s", c))

	if res[0].Err != nil || res[0].Stored != 1 {
		t.Errorf("job-1 = %+v, want stored", res[0])
	}
	if res[1].Err == nil {
		t.Error("job-2 stored although its fact writer failed")
	}
	if res[2].Err != nil || res[2].Stored != 1 {
		t.Errorf("job-3 = %+v, want stored", res[2])
	}
	for _, id := range []string{a.Item.ID, c.Item.ID} {
		if _, err := s.Event(context.Background(), id); err != nil {
			t.Errorf("event %s: %v", id, err)
		}
	}
	if _, err := s.Event(context.Background(), b.Item.ID); !errors.Is(err, timeback.ErrEventNotFound) {
		t.Errorf("event of the failed batch: err = %v, want ErrEventNotFound", err)
	}
	// The first transaction stops at job-2; the second runs job-1 and job-3.
	if want := "[job-1 job-2 job-1 job-3]"; fmt.Sprint(facts.calls) != want {
		t.Errorf("fact writer calls = %v, want %s", facts.calls, want)
	}
}
