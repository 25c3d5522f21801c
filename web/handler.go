package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/timeback/timeback-go"
)

// DefaultPrefix is the path the handler serves under when Config.Prefix is
// empty.
const DefaultPrefix = "/api/timeback"

// Sink receives the events the handler builds. *sender.Client satisfies it.
type Sink interface {
	Send(ctx context.Context, events ...timeback.Event) error
}

// ActivityFunc turns the activity and course a browser names at start into
// the TimebackActivityContext of the run's events. It lets the app accept
// only its own activities; an error with CodeInvalid or CodeNotFound is
// returned to the browser.
type ActivityFunc func(r *http.Request, activity ActivityRequest, course CourseRequest) (timeback.ActivityContext, error)

// Config configures a Handler. Resolver, Sink and AppName are required; the
// zero value of every other field is its default.
type Config struct {
	// Prefix is the path the routes are served under. Empty means
	// DefaultPrefix; "/" serves them at the root.
	Prefix string
	// Resolver returns the student of each request.
	Resolver timeback.Resolver
	// Sink receives the TimeSpentEvents and ActivityCompletedEvents.
	Sink Sink
	// Runs keeps the state of runs. Nil means a new MemoryRuns.
	Runs RunStore

	// AppName is object.app.name of every event.
	AppName string
	// AppID is object.app.id, optional.
	AppID string
	// EdApp is the edApp IRI of every event, optional.
	EdApp string
	// ActivityBaseURL prefixes the activity id a browser sends to form
	// object.id when Activity is nil. Empty means
	// "{scheme}://{request host}/activities/", where the host is the
	// request's Host header, which the client chooses. Set this field in
	// production so that object ids name the app's own host.
	ActivityBaseURL string
	// Activity builds the activity context from a start request. Nil
	// accepts any activity id made of letters, digits and "._~-/" under
	// ActivityBaseURL.
	Activity ActivityFunc

	// Leeway is the time a window may claim beyond the wall time since the
	// previous message, for network jitter. Zero means 2 seconds; a
	// negative value allows none.
	Leeway time.Duration
	// MaxBodyBytes bounds request bodies, beacons included. Zero means
	// 16 KiB.
	MaxBodyBytes int64
	// AllowXPAboveFocus accepts a completion whose given xpEarned exceeds
	// the run's focused minutes (1 XP = 1 focused minute, and 1.25 times
	// them for a perfect score); by default it is rejected with 400.
	AllowXPAboveFocus bool
	// TrustedOrigins are origins, such as "https://app.example.com", whose
	// cross-origin requests are accepted. Other cross-origin POSTs get 403.
	TrustedOrigins []string

	// Now is the clock of the time guard. Nil means time.Now.
	Now func() time.Time
	// NewRunID returns the id of a new run. Nil means a random UUID.
	NewRunID func() string
	// Logger receives caps, rejected requests (at most 10 a second) and
	// failures. Nil discards them.
	Logger *slog.Logger
	// Registerer registers the handler's Prometheus metrics. Nil leaves
	// them unregistered.
	Registerer prometheus.Registerer
}

// Handler serves the browser routes of one app. It is safe for concurrent
// use.
type Handler struct {
	cfg      Config
	prefix   string
	runs     RunStore
	routes   []route
	metrics  *metrics
	logLimit *rate.Limiter
	next     http.Handler // routes behind cross-origin protection
}

type route struct {
	method, path string
	serve        func(w http.ResponseWriter, r *http.Request) error
}

// New returns a Handler for cfg, or an error naming the missing or invalid
// field.
func New(cfg Config) (*Handler, error) {
	if cfg.Resolver == nil {
		return nil, errors.New("web: Resolver is nil; it must return the student of a request")
	}
	if cfg.Sink == nil {
		return nil, errors.New("web: Sink is nil; it must accept the events, such as a *sender.Client")
	}
	if cfg.AppName == "" {
		return nil, errors.New("web: AppName is empty; it is object.app.name of every event")
	}
	if cfg.ActivityBaseURL != "" {
		if u, err := url.Parse(cfg.ActivityBaseURL); err != nil || !u.IsAbs() {
			return nil, fmt.Errorf("web: ActivityBaseURL %q is not an absolute URL", cfg.ActivityBaseURL)
		}
	}
	h := &Handler{cfg: cfg, prefix: cleanPrefix(cfg.Prefix), runs: cfg.Runs}
	h.applyDefaults()

	h.metrics = newMetrics()
	if cfg.Registerer != nil {
		if err := h.metrics.register(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("web: register metrics: %w", err)
		}
	}

	cop := http.NewCrossOriginProtection()
	for _, o := range cfg.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("web: TrustedOrigins: %w", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, "cross-origin", timeback.Errorf(timeback.CodeInvalid,
			"cross-origin request from %q rejected; add the origin to TrustedOrigins", r.Header.Get("Origin")),
			http.StatusForbidden)
	}))

	h.routes = []route{
		{http.MethodPost, "/activity/start", h.start},
		{http.MethodPost, "/activity/heartbeat", h.heartbeat},
		{http.MethodPost, "/activity/end", h.end},
		{http.MethodGet, "/user/me", h.me},
		{http.MethodGet, "/client.js", h.clientJS},
	}
	h.next = cop.Handler(http.HandlerFunc(h.route))
	return h, nil
}

func (h *Handler) applyDefaults() {
	c := &h.cfg
	if h.runs == nil {
		h.runs = &MemoryRuns{Now: c.Now}
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = 2 * time.Second
	case c.Leeway < 0:
		c.Leeway = 0
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 16 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewRunID == nil {
		c.NewRunID = func() string { return strings.TrimPrefix(timeback.NewEventID(), "urn:uuid:") }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	h.logLimit = rate.NewLimiter(10, 20)
}

// cleanPrefix returns prefix without a trailing slash, "" for the root.
func cleanPrefix(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	prefix = strings.TrimRight(prefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	return prefix
}

// Prefix returns the path the routes are served under, without a trailing
// slash, for mounting: mux.Handle(h.Prefix()+"/", h).
func (h *Handler) Prefix() string { return h.prefix }

// ServeHTTP serves the routes under the prefix and 404 for other paths.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.next.ServeHTTP(w, r)
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	r = withRequestInfo(r)
	path, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok {
		path = "" // matches no route
	}
	var allowed []string
	for _, rt := range h.routes {
		if rt.path != path {
			continue
		}
		if rt.method == r.Method || (rt.method == http.MethodGet && r.Method == http.MethodHead) {
			if err := rt.serve(w, r); err != nil {
				h.fail(w, r, rt.path, err, 0)
				return
			}
			h.metrics.requests.WithLabelValues(rt.path, "2xx").Inc()
			return
		}
		allowed = append(allowed, rt.method)
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		h.fail(w, r, path, timeback.Errorf(timeback.CodeInvalid, "method %s not allowed on %s; use %s",
			r.Method, r.URL.Path, strings.Join(allowed, ", ")), http.StatusMethodNotAllowed)
		return
	}
	h.fail(w, r, "unknown", timeback.Errorf(timeback.CodeNotFound, "no route %s %s", r.Method, r.URL.Path), 0)
}

// errorBody is the JSON body of every error reply, the shape the Caliper
// endpoint uses.
type errorBody struct {
	Status  string                `json:"status"`
	Message string                `json:"message"`
	Errors  []timeback.FieldError `json:"errors,omitempty"`
}

// fail writes err as a JSON error. The status comes from the error's code
// unless status is not 0. Errors without a code are internal: the browser
// gets a generic message and the log gets the error.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, routePath string, err error, status int) {
	var appErr *timeback.Error
	message := err.Error()
	var fields []timeback.FieldError
	switch {
	case errors.As(err, &appErr):
		fields = appErr.Fields
		if status == 0 {
			status = timeback.HTTPStatus(appErr.Code)
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
		message = "request cancelled: " + err.Error()
	default:
		status = http.StatusInternalServerError
		message = "internal error"
	}

	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if level == slog.LevelError || h.logLimit.Allow() {
		h.cfg.Logger.LogAttrs(r.Context(), level, "request rejected",
			slog.String("route", routePath), slog.Int("status", status),
			slog.String("run_id", runIDOf(r)), slog.String("error", err.Error()))
	}
	h.metrics.requests.WithLabelValues(routePath, strconv.Itoa(status/100)+"xx").Inc()
	writeJSON(w, status, errorBody{Status: "error", Message: message, Errors: fields})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// metrics are the handler's Prometheus collectors.
type metrics struct {
	requests     *prometheus.CounterVec
	capped       *prometheus.CounterVec
	cappedTime   *prometheus.CounterVec
	duplicates   prometheus.Counter
	eventsSent   *prometheus.CounterVec
	countedTime  *prometheus.CounterVec
	collectorSet []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timeback_web_requests_total",
			Help: "Browser requests by route and status class.",
		}, []string{"route", "status"}),
		capped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timeback_web_time_capped_total",
			Help: "Windows whose claimed time the time guard cut, by time category.",
		}, []string{"type"}),
		cappedTime: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timeback_web_time_capped_seconds_total",
			Help: "Claimed seconds the time guard removed, by time category.",
		}, []string{"type"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "timeback_web_duplicate_messages_total",
			Help: "Heartbeats and ends ignored because their sequence number was already accepted.",
		}),
		eventsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timeback_web_events_total",
			Help: "Events handed to the sink, by Caliper event type.",
		}, []string{"type"}),
		countedTime: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timeback_web_counted_seconds_total",
			Help: "Seconds counted after the time guard, by time category.",
		}, []string{"type"}),
	}
	m.collectorSet = []prometheus.Collector{m.requests, m.capped, m.cappedTime, m.duplicates,
		m.eventsSent, m.countedTime}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range m.collectorSet {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
