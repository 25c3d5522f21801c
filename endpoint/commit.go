package endpoint

import (
	"context"
	"errors"
	"sync"
	"time"

	timeback "github.com/timeback/timeback-go"
)

// errCommitterClosed is the error of a submit after the committer stopped.
var errCommitterClosed = &timeback.Error{Code: timeback.CodeUnavailable,
	Message: "the server is shutting down: retry later", Err: timeback.ErrStoreClosed}

// committer merges the batches of concurrent requests into shared Append
// calls, so that one transaction and one fsync serve many requests. It does
// not wait to fill a group: a group is whatever queued while the previous
// commit ran, so a lone request commits at once.
type committer struct {
	store     timeback.EventStore
	maxEvents int
	observe   func(envelopes, events int, took time.Duration, err error)

	queue chan *pending
	mu    sync.RWMutex // held for reading while submitting, for writing by close
	done  bool
	exit  chan struct{}
}

// pending is one request's batch waiting for its commit.
type pending struct {
	ctx    context.Context
	batch  *timeback.Batch
	result chan commitResult // capacity 1 for the one result, so the committer's send never blocks
}

type commitResult struct {
	res timeback.AppendResult
	err error
}

func newCommitter(store timeback.EventStore, maxEvents int,
	observe func(envelopes, events int, took time.Duration, err error)) *committer {
	c := &committer{
		store:     store,
		maxEvents: maxEvents,
		observe:   observe,
		queue:     make(chan *pending, 1024),
		exit:      make(chan struct{}),
	}
	go c.run()
	return c
}

// submit queues b for the next commit and waits for its outcome. When ctx
// ends first, submit returns ctx's error, and the batch may still commit.
func (c *committer) submit(ctx context.Context, b *timeback.Batch) (timeback.AppendResult, error) {
	p := &pending{ctx: ctx, batch: b, result: make(chan commitResult, 1)}
	c.mu.RLock()
	if c.done {
		c.mu.RUnlock()
		return timeback.AppendResult{}, errCommitterClosed
	}
	select {
	case c.queue <- p:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return timeback.AppendResult{}, ctx.Err()
	}

	select {
	case r := <-p.result:
		return r.res, r.err
	case <-ctx.Done():
		return timeback.AppendResult{}, ctx.Err()
	}
}

// close stops taking batches, commits the ones queued and waits for the
// committer to finish.
func (c *committer) close() {
	c.mu.Lock()
	if !c.done {
		c.done = true
		close(c.queue)
	}
	c.mu.Unlock()
	<-c.exit
}

func (c *committer) run() {
	defer close(c.exit)
	for first := range c.queue {
		group := c.gather(first)
		if len(group) > 0 {
			c.commit(group)
		}
	}
}

// gather returns first and every batch queued behind it, up to maxEvents
// events, leaving out requests that have given up already.
func (c *committer) gather(first *pending) []*pending {
	group := make([]*pending, 0, 16)
	events := 0
	add := func(p *pending) {
		if p.ctx.Err() != nil {
			p.result <- commitResult{err: p.ctx.Err()}
			return
		}
		group = append(group, p)
		events += len(p.batch.Events)
	}
	add(first)
	for events < c.maxEvents {
		select {
		case p, ok := <-c.queue:
			if !ok {
				return group
			}
			add(p)
		default:
			return group
		}
	}
	return group
}

// commit appends the group in one transaction. When that transaction
// fails, each batch is retried alone, so that a batch which breaks the
// transaction does not fail the others with it.
func (c *committer) commit(group []*pending) {
	batches := make([]*timeback.Batch, len(group))
	for i, p := range group {
		batches[i] = p.batch
	}
	results, err := c.appendObserved(batches)
	if err == nil {
		for i, p := range group {
			p.result <- commitResult{res: results[i]}
		}
		return
	}
	if len(group) == 1 || errors.Is(err, timeback.ErrStoreClosed) {
		for _, p := range group {
			p.result <- commitResult{err: err}
		}
		return
	}
	for _, p := range group {
		results, err := c.appendObserved([]*timeback.Batch{p.batch})
		if err != nil {
			p.result <- commitResult{err: err}
			continue
		}
		p.result <- commitResult{res: results[0]}
	}
}

// appendObserved runs one Append with a context of its own, because the
// transaction serves several requests and must not end with one of them.
func (c *committer) appendObserved(batches []*timeback.Batch) ([]timeback.AppendResult, error) {
	start := time.Now()
	results, err := c.store.Append(context.Background(), batches)
	if c.observe != nil {
		events := 0
		for _, b := range batches {
			events += len(b.Events)
		}
		c.observe(len(batches), events, time.Since(start), err)
	}
	if err == nil && len(results) != len(batches) {
		err = &timeback.Error{Code: timeback.CodeInternal,
			Message: "event store returned a result count that does not match the batches"}
	}
	return results, err
}
