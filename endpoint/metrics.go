package endpoint

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Reasons an envelope is rejected, the values of the "reason" label of
// timeback_envelopes_rejected_total.
const (
	reasonUnauthorized = "unauthorized"
	reasonMediaType    = "unsupported_media_type"
	reasonTooLarge     = "too_large"
	reasonBadBody      = "bad_body"
	reasonMalformed    = "malformed_json"
	reasonInvalid      = "invalid"
	reasonVersion      = "unsupported_version"
	reasonConflict     = "conflict"
	reasonUnavailable  = "unavailable"
	reasonInternal     = "internal"
	reasonTimeout      = "timeout"
)

type metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	stored     prometheus.Counter
	duplicates prometheus.Counter
	rejected   *prometheus.CounterVec
	commit     prometheus.Histogram
	groupSize  prometheus.Histogram
	commitErrs prometheus.Counter
}

// newMetrics registers the endpoint's metrics on reg, or on a new registry
// with the Go and process collectors when reg is nil.
func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timeback_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "timeback_http_request_duration_seconds",
			Help:    "Time from request to reply, by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"route"}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "timeback_events_stored_total",
			Help: "Events stored.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "timeback_events_duplicate_total",
			Help: "Events accepted whose id was already stored with the same content.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timeback_envelopes_rejected_total",
			Help: "Envelopes posted to /caliper/event and not stored, by reason.",
		}, []string{"reason"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "timeback_commit_duration_seconds",
			Help:    "Time of one event store transaction, from begin to durable commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		groupSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "timeback_commit_envelopes",
			Help:    "Envelopes merged into one event store transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		commitErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "timeback_commit_failures_total",
			Help: "Event store transactions that failed to commit.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.stored, m.duplicates, m.rejected, m.commit,
		m.groupSize, m.commitErrs)
	return m
}
