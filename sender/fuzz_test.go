package sender

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func FuzzIsCompact(f *testing.F) {
	for _, seed := range []string{`{"a":"b c"}`, `{"a": 1}`, `["x\" y",2]`, `{"a":"\\"}`, "{\n}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			t.Fatal(err)
		}
		if got, want := isCompact(data), bytes.Equal(compact.Bytes(), data); got != want {
			t.Errorf("isCompact(%q) = %v, want %v", data, got, want)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	for _, seed := range []string{"7", "0", "-3", "99999999999999999999", "Tue, 27 Jan 2026 10:01:30 GMT", "soon"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if d := parseRetryAfter(header, now); d < 0 {
			t.Errorf("parseRetryAfter(%q) = %v, want no negative wait", header, d)
		}
	})
}

func FuzzDecodeJob(f *testing.F) {
	for _, seed := range []string{
		`{"job":{"id":"j","state":"completed","processedOn":1769508180000,"returnValue":{"status":"success","results":[{"allocatedId":"a","externalId":"e"}]}}}`,
		`{"job":{"state":"waiting","processedOn":"2026-01-27T10:00:00Z"}}`,
		`{"job":null}`, `[]`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		job, err := decodeJob(data)
		if err == nil && (job == nil || job.State == "") {
			t.Errorf("decodeJob(%q) = %+v without error, want a job with a state", data, job)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 7 ", 7 * time.Second},
		{"-1", 0},
		{"Tue, 27 Jan 2026 10:01:30 GMT", 90 * time.Second},
		{"Tue, 27 Jan 2026 09:00:00 GMT", 0},
		{"99999999999", 24 * time.Hour},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.header, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}
