package endpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	timeback "github.com/timeback/timeback-go"
)

// gateStore is an event store whose first Append waits for release, so
// that later batches queue behind it. It records the size of every Append.
type gateStore struct {
	timeback.EventStore
	entered chan struct{}
	release chan struct{}
	// fail rejects every Append that includes the batch with this job id.
	fail string

	mu    sync.Mutex
	sizes []int
}

func newGateStore() *gateStore {
	return &gateStore{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (s *gateStore) Append(ctx context.Context, batches []*timeback.Batch) ([]timeback.AppendResult, error) {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(batches))
	first := len(s.sizes) == 1
	s.mu.Unlock()
	if first {
		s.entered <- struct{}{}
		<-s.release
	}
	results := make([]timeback.AppendResult, len(batches))
	for i, b := range batches {
		if b.JobID == s.fail {
			return nil, &timeback.Error{Code: timeback.CodeUnavailable, Message: "broken batch"}
		}
		results[i] = timeback.AppendResult{Job: &timeback.Job{ID: b.JobID}, Stored: len(b.Events)}
	}
	return results, nil
}

func (s *gateStore) appendSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

func testBatch(job string, events int) *timeback.Batch {
	return &timeback.Batch{JobID: job, Events: make([]timeback.NewEvent, events)}
}

// queueBehindGate submits a first batch that holds the store, then n more
// that queue behind it, and returns their outcomes once the store is
// released.
func queueBehindGate(t *testing.T, c *committer, s *gateStore, jobs []string) []error {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() { c.submit(context.Background(), testBatch("first", 1)) })
	<-s.entered

	errs := make([]error, len(jobs))
	for i, job := range jobs {
		wg.Go(func() {
			res, err := c.submit(context.Background(), testBatch(job, 1))
			if err == nil && (res.Job == nil || res.Job.ID != job) {
				err = fmt.Errorf("result of %s is %+v", job, res)
			}
			errs[i] = err
		})
	}
	for len(c.queue) < len(jobs) {
		time.Sleep(time.Millisecond)
	}
	close(s.release)
	wg.Wait()
	return errs
}

func TestCommitterMergesQueuedBatches(t *testing.T) {
	s := newGateStore()
	c := newCommitter(s, 1000, nil)
	defer c.close()

	errs := queueBehindGate(t, c, s, []string{"a", "b", "c", "d"})
	for i, err := range errs {
		if err != nil {
			t.Errorf("batch %d: %v", i, err)
		}
	}
	if got := s.appendSizes(); fmt.Sprint(got) != "[1 4]" {
		t.Errorf("Append sizes = %v, want [1 4]: the four queued batches share one commit", got)
	}
}

func TestCommitterCapsEventsPerCommit(t *testing.T) {
	s := newGateStore()
	c := newCommitter(s, 2, nil)
	defer c.close()

	queueBehindGate(t, c, s, []string{"a", "b", "c", "d"})
	if got := s.appendSizes(); fmt.Sprint(got) != "[1 2 2]" {
		t.Errorf("Append sizes = %v, want [1 2 2] with at most 2 events a commit", got)
	}
}

func TestCommitterIsolatesFailingBatch(t *testing.T) {
	s := newGateStore()
	s.fail = "b"
	c := newCommitter(s, 1000, nil)
	defer c.close()

	errs := queueBehindGate(t, c, s, []string{"a", "b", "c"})
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("batches beside the failing one: errors %v, %v; want nil", errs[0], errs[2])
	}
	if timeback.ErrorCode(errs[1]) != timeback.CodeUnavailable {
		t.Errorf("failing batch: err = %v, want code unavailable", errs[1])
	}
	if got := s.appendSizes(); fmt.Sprint(got) != "[1 3 1 1 1]" {
		t.Errorf("Append sizes = %v, want [1 3 1 1 1]: the group, then each batch alone", got)
	}
}

func TestCommitterSkipsAbandonedRequests(t *testing.T) {
	s := newGateStore()
	c := newCommitter(s, 1000, nil)
	defer c.close()

	var wg sync.WaitGroup
	wg.Go(func() { c.submit(context.Background(), testBatch("first", 1)) })
	<-s.entered
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.submit(ctx, testBatch("gone", 1))
		done <- err
	}()
	for len(c.queue) < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned submit: err = %v, want context.Canceled", err)
	}
	close(s.release)
	wg.Wait()
	c.close()
	if got := s.appendSizes(); fmt.Sprint(got) != "[1]" {
		t.Errorf("Append sizes = %v, want [1]: the abandoned batch is not committed", got)
	}
}

func TestCommitterCloseCommitsQueued(t *testing.T) {
	s := newGateStore()
	close(s.release)
	c := newCommitter(s, 1000, nil)
	res, err := c.submit(context.Background(), testBatch("a", 2))
	if err != nil || res.Stored != 2 {
		t.Errorf("submit: %+v, %v", res, err)
	}
	c.close()
	c.close()
	if _, err := c.submit(context.Background(), testBatch("late", 1)); !errors.Is(err, timeback.ErrStoreClosed) {
		t.Errorf("submit after close: err = %v, want ErrStoreClosed", err)
	}
}
