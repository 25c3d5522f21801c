// Package endpoint is the HTTP side of the Caliper endpoint: the routes and
// reply shapes of the Timeback Caliper API over a timeback.EventStore, with
// Caliper 1.2 status codes, Bearer authentication, payload limits,
// Prometheus metrics and slog logging.
//
//	store, _ := sqlite.Open(ctx, "events.db", sqlite.Config{})
//	h, _ := endpoint.New(endpoint.Config{Store: store, Tokens: []string{token}})
//	defer h.Close()
//	http.ListenAndServe("127.0.0.1:8080", h)
package endpoint

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	timeback "github.com/timeback/timeback-go"
)

// DefaultMaxBodyBytes is the default payload limit of an envelope, 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// DefaultMaxCommitEvents is the default number of events above which the
// committer stops adding envelopes to one transaction.
const DefaultMaxCommitEvents = 10000

// Version is the endpoint version that GET /caliper/config reports.
const Version = "1.0.0"

// Log keys of the endpoint's records.
const (
	logKeyRoute     = "route"
	logKeyStatus    = "status"
	logKeySensor    = "sensor"
	logKeyReason    = "reason"
	logKeyError     = "error"
	logKeyRemote    = "remote"
	logKeyJob       = "job"
	logKeyEvents    = "events"
	logKeyEnvelopes = "envelopes"
	logKeySkipped   = "suppressed"
	logKeyDuration  = "duration"
)

// Config configures a Handler. Only Store is required.
type Config struct {
	// Store keeps the events.
	Store timeback.EventStore
	// Tokens are the accepted Bearer tokens. Empty means no
	// authentication; the caller then serves on loopback only. With
	// tokens, a browser signs in to the dashboard at /dashboard/login
	// with one of them.
	Tokens []string
	// SessionMaxAge is how long a dashboard login lasts. Zero means
	// DefaultSessionMaxAge.
	SessionMaxAge time.Duration
	// MaxBodyBytes is the largest envelope accepted, in bytes. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Strict makes validator warnings reject an envelope.
	Strict bool
	// MaxCommitEvents caps the events of one shared transaction. Zero means
	// DefaultMaxCommitEvents.
	MaxCommitEvents int
	// Logger receives the endpoint's records. Nil discards them.
	Logger *slog.Logger
	// RejectLogRate is how many rejected envelopes per second are logged
	// one by one; the rest are counted in the next logged record. Zero
	// means 10.
	RejectLogRate float64
	// Registry receives the metrics that GET /metrics serves. Nil means a
	// new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// NewJobID returns a new job id. Nil means timeback.NewEventID, a
	// urn:uuid.
	NewJobID func() string
}

// Handler serves the Caliper endpoint. Close it after the HTTP server has
// shut down, so that queued commits finish.
type Handler struct {
	store     timeback.EventStore
	tokens    [][sha256.Size]byte
	rawTokens [][]byte // keys of the session cookie's HMAC
	maxBody   int64
	strict    bool
	log       *slog.Logger
	metrics   *metrics
	now       func() time.Time
	newJobID  func() string
	committer *committer
	mux       *http.ServeMux

	sessionMaxAge time.Duration
	sameOrigin    *http.CrossOriginProtection

	rejectMu      sync.Mutex
	rejectLimiter *rate.Limiter
	rejectSkipped int
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("endpoint: Config.Store is nil")
	}
	h := &Handler{
		store:    cfg.Store,
		maxBody:  cfg.MaxBodyBytes,
		strict:   cfg.Strict,
		log:      cfg.Logger,
		metrics:  newMetrics(cfg.Registry),
		now:      cfg.Now,
		newJobID: cfg.NewJobID,
		mux:      http.NewServeMux(),

		sessionMaxAge: cfg.SessionMaxAge,
		sameOrigin:    http.NewCrossOriginProtection(),
	}
	if h.sessionMaxAge <= 0 {
		h.sessionMaxAge = DefaultSessionMaxAge
	}
	for i, tok := range cfg.Tokens {
		if tok == "" {
			return nil, errors.New("endpoint: Config.Tokens[" + itoa(i) + "] is empty")
		}
		h.tokens = append(h.tokens, sha256.Sum256([]byte(tok)))
		h.rawTokens = append(h.rawTokens, []byte(tok))
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.newJobID == nil {
		h.newJobID = timeback.NewEventID
	}
	logRate := cfg.RejectLogRate
	if logRate <= 0 {
		logRate = 10
	}
	h.rejectLimiter = rate.NewLimiter(rate.Limit(logRate), int(logRate)+1)
	maxEvents := cfg.MaxCommitEvents
	if maxEvents <= 0 {
		maxEvents = DefaultMaxCommitEvents
	}
	h.committer = newCommitter(h.store, maxEvents, h.observeCommit)
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	h.handle("POST /caliper/event", true, h.postEvent)
	h.handle("POST /caliper/event/validate", true, h.validateEvent)
	h.handle("GET /caliper/events", true, h.listEvents)
	h.handle("GET /caliper/events/{id}", true, h.getEvent)
	h.handle("GET /jobs/{id}/status", true, h.jobStatus)
	h.handle("GET /caliper/config", true, h.config)
	h.handle("GET /healthz", false, h.healthz)
	h.handle("GET "+loginPath, false, h.loginForm)
	h.handle("POST "+loginPath, false, h.login)
	h.handle("POST /dashboard/logout", false, h.logout)
	h.mux.Handle("GET /metrics", h.instrument("GET /metrics", h.authenticate(
		promhttp.HandlerFor(h.metrics.registry, promhttp.HandlerOpts{}))))
	h.handle("/", false, h.notFound)
}

// Handle serves pattern with handler behind the endpoint's authentication
// and request metrics, for further APIs that share the server.
func (h *Handler) Handle(pattern string, handler http.Handler) {
	h.mux.Handle(pattern, h.instrument(pattern, h.authenticate(handler)))
}

func (h *Handler) handle(pattern string, auth bool, fn http.HandlerFunc) {
	var next http.Handler = fn
	if auth {
		next = h.authenticate(next)
	}
	h.mux.Handle(pattern, h.instrument(pattern, next))
}

// ServeHTTP routes the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Close commits the envelopes queued and stops the committer. Requests
// after Close get 503. Close does not close the store.
func (h *Handler) Close() { h.committer.close() }

// authenticate rejects requests without one of the configured Bearer
// tokens. Every token is compared, in constant time on SHA-256 digests, so
// that the reply time reveals nothing about a token's content or length.
// A request without an Authorization header may instead carry the
// dashboard's session cookie, for GET and HEAD of the dashboard and the
// analytics API only. A browser that requests a dashboard page without
// either is redirected to the login form.
func (h *Handler) authenticate(next http.Handler) http.Handler {
	if len(h.tokens) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" && sessionPath(r) && h.validSession(r) {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			if header == "" && wantsLoginForm(r) {
				http.Redirect(w, r, loginPath, http.StatusSeeOther)
				return
			}
			h.unauthorized(w, r, "missing Bearer token: send Authorization: Bearer <token>")
			return
		}
		if !h.matchToken(strings.TrimSpace(token)) {
			h.unauthorized(w, r, "invalid Bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="timeback"`)
	if r.URL.Path == "/caliper/event" {
		h.rejected(r, "", reasonUnauthorized, errors.New(msg))
	}
	h.writeError(w, timeback.Errorf(timeback.CodeUnauthorized, "%s", msg))
}

// statusRecorder keeps the status code a handler wrote, for the metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (h *Handler) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		h.metrics.requests.WithLabelValues(route, itoa(rec.status)).Inc()
		h.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		if rec.status >= 500 {
			h.log.Error("request failed", logKeyRoute, route, logKeyStatus, rec.status,
				logKeyRemote, r.RemoteAddr, logKeyDuration, time.Since(start))
			return
		}
		h.log.Debug("request", logKeyRoute, route, logKeyStatus, rec.status,
			logKeyRemote, r.RemoteAddr, logKeyDuration, time.Since(start))
	})
}

func (h *Handler) observeCommit(envelopes, events int, took time.Duration, err error) {
	h.metrics.commit.Observe(took.Seconds())
	h.metrics.groupSize.Observe(float64(envelopes))
	if err != nil {
		h.metrics.commitErrs.Inc()
		h.log.Error("commit failed", logKeyEnvelopes, envelopes, logKeyEvents, events, logKeyError, err)
	}
}

// rejected counts an envelope that was not stored and logs it. At most
// RejectLogRate records a second are written, and the next record written
// counts the ones left out.
func (h *Handler) rejected(r *http.Request, sensor, reason string, err error) {
	h.metrics.rejected.WithLabelValues(reason).Inc()
	h.rejectMu.Lock()
	if !h.rejectLimiter.AllowN(h.now(), 1) {
		h.rejectSkipped++
		h.rejectMu.Unlock()
		return
	}
	skipped := h.rejectSkipped
	h.rejectSkipped = 0
	h.rejectMu.Unlock()

	attrs := []any{logKeySensor, sensor, logKeyReason, reason, logKeyError, err.Error(),
		logKeyRemote, r.RemoteAddr}
	if skipped > 0 {
		attrs = append(attrs, logKeySkipped, skipped)
	}
	h.log.Warn("envelope rejected", attrs...)
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// notFound replies 405 with an Allow header when the path has routes for
// other methods, and 404 otherwise.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := h.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 && !slices.Contains(allow, r.Method) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		msg := fmt.Sprintf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path,
			strings.Join(allow, " or "))
		writeJSON(w, http.StatusMethodNotAllowed,
			errorBody{Status: "error", Message: msg, Errors: []timeback.FieldError{}})
		return
	}
	h.writeError(w, timeback.Errorf(timeback.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
}
