package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/timeback/timeback-go"
)

// ErrJobFailed is wrapped by the error of WaitForJob for a job whose state is
// failed.
var ErrJobFailed = errors.New("sender: job failed")

// The job states of the Timeback job-status endpoint.
const (
	JobWaiting   = "waiting"
	JobActive    = "active"
	JobCompleted = "completed"
	JobFailed    = "failed"
)

// Job is the status of one accepted envelope, as GET /jobs/{id}/status
// returns it.
type Job struct {
	ID    string
	State string // one of JobWaiting, JobActive, JobCompleted, JobFailed
	// Status is returnValue.status, such as "success".
	Status string
	// Results map the events' ids to the ids that the platform allocated.
	Results []JobResult
	// ProcessedOn is when the job finished, zero when unknown.
	ProcessedOn time.Time
}

// JobResult is one event of a Job.
type JobResult struct {
	AllocatedID string `json:"allocatedId"`
	ExternalID  string `json:"externalId"`
}

// WaitForJob polls the job-status endpoint every Config.JobPollInterval
// until the job is completed or failed, or ctx ends. Job ids come from
// Delivery.JobID. Replies 408, 429 and 5xx and transport errors are polled
// again; other error statuses end the wait with an *timeback.Error. A failed
// job returns the job and an error wrapping ErrJobFailed.
func (c *Client) WaitForJob(ctx context.Context, jobID string) (*Job, error) {
	if jobID == "" {
		return nil, errors.New("sender: WaitForJob: the job id is empty")
	}
	statusURL := c.s.baseURL + "/jobs/" + url.PathEscape(jobID) + "/status"
	refreshed := false
	for {
		job, status, err := c.fetchJob(ctx, statusURL)
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("sender: wait for job %s: %w", jobID, ctx.Err())
		case err == nil && job.State == JobCompleted:
			return job, nil
		case err == nil && job.State == JobFailed:
			return job, fmt.Errorf("%w: job %s: status %q", ErrJobFailed, jobID, job.Status)
		case status == http.StatusUnauthorized && c.tokens != nil && !refreshed:
			c.tokens.invalidate()
			refreshed = true
			continue
		case err != nil && status != 0 && !retries(status):
			return nil, err
		case err != nil:
			c.log.warn("job status request failed; polling again", keyError, err)
		}
		select {
		case <-c.s.Clock.After(c.s.JobPollInterval):
		case <-ctx.Done():
			return nil, fmt.Errorf("sender: wait for job %s: %w", jobID, ctx.Err())
		}
	}
}

// fetchJob reads one job status. The returned status is the HTTP status, 0
// when no reply arrived.
func (c *Client) fetchJob(ctx context.Context, statusURL string) (*Job, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, statusURL, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if err := c.authorize(ctx, req); err != nil {
		return nil, 0, err
	}
	resp, err := c.s.HTTPClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("sender: get %s: %w", statusURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("sender: read %s: %w", statusURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		code := timeback.CodeForStatus(resp.StatusCode)
		return nil, resp.StatusCode, timeback.Errorf(code, "sender: get %s: %s", statusURL,
			replyMessage(resp.StatusCode, data))
	}
	job, err := decodeJob(data)
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("sender: get %s: %w", statusURL, err)
	}
	return job, resp.StatusCode, nil
}

// decodeJob decodes the Timeback job-status shape
// {job: {id, state, returnValue: {status, results}, processedOn}}, where
// processedOn is Unix milliseconds or an RFC 3339 time.
func decodeJob(data []byte) (*Job, error) {
	var reply struct {
		Job *struct {
			ID          string          `json:"id"`
			State       string          `json:"state"`
			ProcessedOn json.RawMessage `json:"processedOn"`
			ReturnValue *struct {
				Status  string      `json:"status"`
				Results []JobResult `json:"results"`
			} `json:"returnValue"`
		} `json:"job"`
	}
	if err := json.Unmarshal(data, &reply); err != nil {
		return nil, fmt.Errorf("job status is not valid JSON: %w", err)
	}
	if reply.Job == nil || reply.Job.State == "" {
		return nil, errors.New(`job status has no "job.state"`)
	}
	j := reply.Job
	job := &Job{ID: j.ID, State: j.State}
	if j.ReturnValue != nil {
		job.Status, job.Results = j.ReturnValue.Status, j.ReturnValue.Results
	}
	job.ProcessedOn = decodeProcessedOn(j.ProcessedOn)
	return job, nil
}

func decodeProcessedOn(raw json.RawMessage) time.Time {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}
	}
	if ms, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return time.UnixMilli(ms)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
