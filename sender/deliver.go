package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxReplyBytes bounds how much of a reply body the sender reads.
const maxReplyBytes = 64 << 10

// maxMessageBytes bounds the rejection message kept with a dead letter.
const maxMessageBytes = 4 << 10

// run is the background sender: it posts the oldest queued events until
// Close cancels c.ctx.
func (c *Client) run() {
	defer close(c.done)
	defer c.retryDelete()
	failures := 0 // queue reads that failed in a row
	for c.ctx.Err() == nil {
		known := c.lastSeq.Load()
		c.retryDelete()
		batch, err := c.peek()
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			failures++
			c.log.error("read queue failed; retrying", keyError, err)
			c.sleep(c.backoff(failures, 0))
			continue
		}
		failures = 0
		if len(batch) == 0 {
			c.setCleared(known)
			c.oldest.Store(0)
			var retry <-chan time.Time
			if len(c.undeleted) > 0 {
				retry = c.s.Clock.After(c.backoff(c.deleteFailures, 0))
			}
			select {
			case <-c.wake:
			case <-retry:
			case <-c.ctx.Done():
				return
			}
			continue
		}
		c.setCleared(batch[0].Seq - 1)
		c.oldest.Store(batch[0].EnqueuedAt.UnixNano())
		if c.linger(batch) {
			continue
		}
		c.inFlight.Store(int64(len(batch)))
		c.deliver(batch)
		c.inFlight.Store(0)
	}
}

// peek returns the oldest queued events for the next envelope, leaving out
// those delivered already whose Delete failed.
func (c *Client) peek() ([]Entry, error) {
	if len(c.undeleted) == 0 {
		return c.queue.Peek(c.ctx, c.s.MaxBatchEvents, c.s.maxDataBytes())
	}
	entries, err := c.queue.Peek(c.ctx, c.s.MaxBatchEvents+len(c.undeleted),
		c.s.maxDataBytes()+c.undeletedBytes)
	if err != nil {
		return nil, err
	}
	batch := entries[:0]
	size := 0
	for _, e := range entries {
		if _, found := slices.BinarySearch(c.undeleted, e.Seq); found {
			continue
		}
		if len(batch) == c.s.MaxBatchEvents || (len(batch) > 0 && size+len(e.JSON) > c.s.maxDataBytes()) {
			break
		}
		size += len(e.JSON)
		batch = append(batch, e)
	}
	return batch, nil
}

// retryDelete deletes the delivered events whose earlier Delete failed.
func (c *Client) retryDelete() {
	if len(c.undeleted) == 0 {
		return
	}
	if err := c.queue.Delete(context.Background(), c.undeleted); err != nil {
		c.deleteFailures++
		c.log.error("remove delivered events from the queue failed again; they are not posted again"+
			" unless the process ends first", keyError, err, keyEvents, len(c.undeleted))
		return
	}
	c.undeleted, c.undeletedBytes, c.deleteFailures = c.undeleted[:0], 0, 0
}

// linger waits while batch is a partial envelope younger than Config.Linger,
// so that more events can join it. It reports whether it waited, in which
// case the caller reads the queue again.
func (c *Client) linger(batch []Entry) bool {
	deadline := batch[0].EnqueuedAt.Add(c.s.Linger)
	waited := false
	for c.lingering(deadline) {
		waited = true
		select {
		case <-c.s.Clock.After(deadline.Sub(c.s.Clock.Now())):
		case <-c.wake:
		case <-c.flushReq:
		case <-c.ctx.Done():
			return true
		}
	}
	return waited
}

// lingering reports whether the next envelope should wait for more events:
// no Flush is waiting, the deadline has not passed, and the queue does not
// yet hold a full envelope.
func (c *Client) lingering(deadline time.Time) bool {
	if c.flushing.Load() > 0 || !c.s.Clock.Now().Before(deadline) {
		return false
	}
	queued, bytes := c.queueCounts()
	return queued < c.s.MaxBatchEvents && bytes < int64(c.s.maxDataBytes())
}

// deliver posts batch until the endpoint accepts or rejects it, splitting it
// when the endpoint replies 413 (envelope too large) and to isolate a
// rejected event. It returns early when c.ctx ends, leaving the events queued.
func (c *Client) deliver(batch []Entry) {
	refreshed := false
	for attempt := 1; c.ctx.Err() == nil; attempt++ {
		r := c.post(batch)
		if c.ctx.Err() != nil {
			return
		}
		switch {
		case r.err == nil && r.status >= 200 && r.status < 300:
			c.markDelivered(batch, r)
			return
		case r.status == http.StatusUnauthorized && c.tokens != nil && !refreshed:
			// The token may have been revoked before its expiry: fetch a
			// new one once, then treat a second 401 as a rejection.
			c.tokens.invalidate()
			refreshed = true
			attempt--
			continue
		case len(batch) > 1 && splits(r.status):
			half := len(batch) / 2
			c.log.info("splitting rejected envelope", keyStatus, r.status, keyEvents, len(batch),
				keyMessage, r.message)
			c.deliver(batch[:half])
			c.deliver(batch[half:])
			return
		case r.err == nil && rejects(r.status):
			c.markDead(batch, r)
			return
		}

		wait := c.backoff(attempt, r.retryAfter)
		c.retried.Add(int64(len(batch)))
		args := []any{keyAttempt, attempt, keyWait, wait, keyEvents, len(batch),
			keyEventIDs, eventIDs(batch, maxLoggedIDs)}
		failure := r.err
		if r.err != nil {
			args = append(args, keyError, r.err)
		} else {
			args = append(args, keyStatus, r.status, keyMessage, r.message)
			failure = fmt.Errorf("sender: endpoint %s replied %s", c.s.eventURL, r.message)
		}
		c.lastErr.Store(&failure)
		if r.err == nil && !retries(r.status) {
			c.log.error("unexpected reply status; retrying", args...)
		} else {
			c.log.warn("post failed; retrying", args...)
		}
		if !c.sleep(wait) {
			return
		}
	}
}

// splits reports whether a rejection with status is split into halves
// instead of dead-lettering the whole envelope: 413 requests a smaller
// envelope, and 400 and 409 may come from one event among many, which the
// split isolates.
func splits(status int) bool {
	return status == http.StatusRequestEntityTooLarge || status == http.StatusBadRequest ||
		status == http.StatusConflict
}

// rejects reports whether status is a final rejection of the envelope.
func rejects(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
		http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// retries reports whether status is one that the endpoint uses for a
// temporary failure.
func retries(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// postResult is the outcome of one POST.
type postResult struct {
	status     int
	err        error         // a transport, timeout or token error; status is 0
	retryAfter time.Duration // from a Retry-After header, 0 when absent
	message    string        // the endpoint's explanation of an error status
	jobID      string
	duplicates int
}

// post sends batch as one envelope.
func (c *Client) post(batch []Entry) postResult {
	ctx, cancel := context.WithTimeout(c.ctx, c.s.RequestTimeout)
	defer cancel()
	body := c.s.envelope(batch, c.s.Clock.Now())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.s.eventURL, bytes.NewReader(body))
	if err != nil {
		return postResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if err := c.authorize(ctx, req); err != nil {
		return postResult{err: err}
	}

	resp, err := c.s.HTTPClient.Do(req)
	if err != nil {
		return postResult{err: fmt.Errorf("post %s: %w", c.s.eventURL, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	r := postResult{status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// The events are stored once the status arrives, so a body that
		// fails to read or decode does not make the post a failure.
		var reply struct {
			JobID      string `json:"jobId"`
			Duplicates int    `json:"duplicates"`
		}
		if err == nil && json.Unmarshal(data, &reply) == nil {
			r.jobID, r.duplicates = reply.JobID, reply.Duplicates
		}
		return r
	}
	r.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.s.Clock.Now())
	r.message = replyMessage(resp.StatusCode, data)
	return r
}

// authorize sets the Authorization header of req.
func (c *Client) authorize(ctx context.Context, req *http.Request) error {
	switch {
	case c.s.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.s.Token)
	case c.tokens != nil:
		token, err := c.tokens.token(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return nil
}

// replyMessage extracts the explanation from an error reply: the message
// and field errors of the Timeback shape {status, message, errors}, or the
// start of the body.
func replyMessage(status int, body []byte) string {
	var reply struct {
		Message string `json:"message"`
		Errors  []struct {
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	msg := ""
	if json.Unmarshal(body, &reply) == nil && reply.Message != "" {
		var b strings.Builder
		b.WriteString(reply.Message)
		for _, e := range reply.Errors {
			fmt.Fprintf(&b, "; %s: %s", e.Path, e.Message)
		}
		msg = b.String()
	} else {
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if len(msg) > maxMessageBytes {
		msg = msg[:maxMessageBytes] + "..."
	}
	return strconv.Itoa(status) + " " + msg
}

// parseRetryAfter returns the wait of a Retry-After header, given in seconds
// or as an HTTP date, and 0 when the header is absent or invalid.
func parseRetryAfter(header string, now time.Time) time.Duration {
	header = strings.TrimSpace(header)
	if header == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(header, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(header); err == nil {
		return max(at.Sub(now), 0)
	}
	return 0
}

// backoff returns the wait before retry attempt (1 for the first retry): a
// Retry-After wait capped at Config.MaxRetryAfter when the endpoint gave one,
// otherwise a random wait up to MinBackoff*2^(attempt-1), capped at
// MaxBackoff (full jitter).
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.s.MaxRetryAfter)
	}
	ceiling := c.s.MaxBackoff
	if shift := attempt - 1; shift < 32 {
		if d := c.s.MinBackoff << shift; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return rand.N(ceiling + 1)
}

// sleep waits for d on the clock and reports false when c.ctx ended first.
func (c *Client) sleep(d time.Duration) bool {
	if d <= 0 {
		return c.ctx.Err() == nil
	}
	select {
	case <-c.s.Clock.After(d):
		return true
	case <-c.ctx.Done():
		return false
	}
}

// markDelivered removes batch from the queue after the endpoint accepted it.
func (c *Client) markDelivered(batch []Entry, r postResult) {
	seqs := make([]int64, len(batch))
	for i, e := range batch {
		seqs[i] = e.Seq
	}
	// After a failed delete the events stay in the queue, but this process
	// does not post them again: it retries the delete. A later process
	// posts them again, and the endpoint counts them as duplicates.
	if err := c.queue.Delete(context.Background(), seqs); err != nil {
		c.log.error("remove delivered events from the queue failed; retrying the removal",
			keyError, err, keyEvents, len(batch), keyEventIDs, eventIDs(batch, maxLoggedIDs))
		c.undeleted = append(c.undeleted, seqs...)
		slices.Sort(c.undeleted)
		c.undeletedBytes += int(batchBytes(batch))
		c.deleteFailures++
	}
	c.lastErr.Store(nil)
	c.release(len(batch), batchBytes(batch))
	c.delivered.Add(int64(len(batch)))
	if c.s.OnDelivered != nil {
		c.s.OnDelivered(Delivery{EventIDs: eventIDs(batch, len(batch)), JobID: r.jobID,
			Status: r.status, Duplicates: r.duplicates})
	}
}

// markDead moves batch to the dead letters after the endpoint rejected it.
func (c *Client) markDead(batch []Entry, r postResult) {
	now := c.s.Clock.Now()
	if err := c.queue.DeadLetter(context.Background(), batch, r.status, r.message, now); err != nil {
		c.log.error("move rejected events to the dead letters failed; they stay queued",
			keyError, err, keyStatus, r.status, keyEventIDs, eventIDs(batch, maxLoggedIDs))
		c.sleep(c.s.MinBackoff)
		return
	}
	c.release(len(batch), batchBytes(batch))
	c.deadLettered.Add(int64(len(batch)))
	c.log.warn("endpoint rejected events; moved to the dead letters", keyStatus, r.status,
		keyMessage, r.message, keyEvents, len(batch), keyEventIDs, eventIDs(batch, len(batch)))
	if c.s.OnDeadLetter != nil {
		for _, e := range batch {
			c.s.OnDeadLetter(DeadLetter{OutboxEntry: e, Status: r.status, Message: r.message,
				FailedAt: now})
		}
	}
}

func batchBytes(batch []Entry) int64 {
	var n int64
	for _, e := range batch {
		n += int64(len(e.JSON))
	}
	return n
}

// eventIDs returns the ids of the first n entries of batch.
func eventIDs(batch []Entry, n int) []string {
	ids := make([]string, 0, min(n, len(batch)))
	for _, e := range batch[:min(n, len(batch))] {
		ids = append(ids, e.ID)
	}
	return ids
}
