package sender

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The base URLs of the Timeback Caliper API.
const (
	ProductionURL = "https://caliper.alpha-1edtech.ai"
	StagingURL    = "https://caliper.staging.alpha-1edtech.ai"
)

// The defaults of Config, applied where a field is zero.
const (
	DefaultSensor          = "urn:timeback-go:sender"
	DefaultMaxQueueEvents  = 1_000_000
	DefaultMaxQueueBytes   = 1 << 30 // 1 GiB
	DefaultMaxBatchEvents  = 500
	DefaultMaxPayloadBytes = 1 << 20 // 1 MiB, the default limit of timeback serve
	DefaultLinger          = 20 * time.Millisecond
	DefaultRequestTimeout  = 30 * time.Second
	DefaultMinBackoff      = 250 * time.Millisecond
	DefaultMaxBackoff      = 30 * time.Second
	DefaultMaxRetryAfter   = 5 * time.Minute
	DefaultTokenEarly      = 60 * time.Second
	DefaultJobPollInterval = time.Second
)

// Config configures a Client. The zero value of each field means the default
// written on it. A zero Config sends to production and fails in New for lack
// of credentials.
type Config struct {
	// Environment is "production", "staging", or the base URL of another
	// Caliper endpoint such as "http://127.0.0.1:8080" for timeback serve.
	// Events go to {base}/caliper/event. Empty means "production".
	Environment string

	// Sensor is the IRI sent as the envelope's sensor. Empty means
	// DefaultSensor.
	Sensor string

	// Token is a static Bearer token. It excludes ClientID.
	Token string

	// ClientID and ClientSecret are OAuth2 client credentials, exchanged at
	// TokenURL for an access token that is cached, refreshed TokenEarly
	// before it expires, and fetched once more when the endpoint replies
	// 401. Production and staging need either Token or ClientID.
	ClientID     string
	ClientSecret string
	// TokenURL is the OAuth2 token endpoint of the environment. It has no
	// default and is required with ClientID.
	TokenURL string
	// Scopes are the OAuth2 scopes to request. Empty requests none.
	Scopes []string
	// TokenEarly is how long before its expiry a token is replaced. Zero
	// means DefaultTokenEarly.
	TokenEarly time.Duration

	// HTTPClient sends the requests, token requests included. Nil means a
	// client of its own with http.DefaultTransport and no overall timeout
	// (RequestTimeout bounds each request).
	HTTPClient *http.Client
	// Logger receives retries, dead letters and errors of the background
	// sender, rate-limited. Nil discards them.
	Logger *slog.Logger
	// Clock provides the time and the timers of lingering, backoff and
	// job polling. Nil means the system clock.
	Clock Clock

	// OutboxPath is the SQLite file of the durable outbox. Empty means
	// DefaultOutboxPath(). It is ignored when Queue is set.
	OutboxPath string
	// Queue replaces the SQLite outbox, as with NewMemoryQueue in tests.
	// The Client closes it on Close. Nil means the outbox at OutboxPath.
	Queue Queue

	// MaxQueueEvents and MaxQueueBytes limit what the queue may hold.
	// Past either limit Send returns ErrQueueFull. Zero means
	// DefaultMaxQueueEvents and DefaultMaxQueueBytes.
	MaxQueueEvents int
	MaxQueueBytes  int64

	// MaxBatchEvents limits the events of one envelope. Zero means
	// DefaultMaxBatchEvents.
	MaxBatchEvents int
	// MaxPayloadBytes limits the size of one envelope. Send rejects an
	// event that cannot fit in an envelope of its own. Zero means
	// DefaultMaxPayloadBytes.
	MaxPayloadBytes int
	// Linger is how long the sender waits for more events before it posts
	// an envelope that is not full. Flush and Close skip the wait. Zero
	// means DefaultLinger; a negative value means no wait.
	Linger time.Duration

	// RequestTimeout bounds each POST; a POST that times out is retried.
	// Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// retries, from which each wait is drawn at random (full jitter). Zero
	// means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter caps the wait that a Retry-After header may ask for.
	// Zero means DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration

	// OnDelivered, when set, is called from the background sender after
	// each envelope that the endpoint accepted. It must not block for long
	// and must not call Flush or Close, which wait for the background
	// sender.
	OnDelivered func(Delivery)
	// OnDeadLetter, when set, is called from the background sender for
	// each event that the endpoint rejected, under the same rules as
	// OnDelivered.
	OnDeadLetter func(DeadLetter)

	// JobPollInterval is the wait between polls of WaitForJob. Zero means
	// DefaultJobPollInterval.
	JobPollInterval time.Duration
}

// DefaultOutboxPath returns the outbox file used when Config.OutboxPath is
// empty: timeback/outbox.db in the user's cache folder (os.UserCacheDir).
func DefaultOutboxPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("sender: find the cache folder for the outbox: %w; set the outbox path", err)
	}
	return filepath.Join(dir, "timeback", "outbox.db"), nil
}

// settings is a Config with the defaults applied and the endpoint resolved.
type settings struct {
	Config
	baseURL  string
	eventURL string
	needAuth bool // production and staging require credentials
	// sensorJSON is Sensor encoded as a JSON string.
	sensorJSON []byte
}

func (c Config) resolve() (*settings, error) {
	s := &settings{Config: c}
	base, needAuth, err := resolveEnvironment(c.Environment)
	if err != nil {
		return nil, err
	}
	s.baseURL, s.needAuth = base, needAuth
	s.eventURL = base + "/caliper/event"

	if err := s.checkAuth(); err != nil {
		return nil, err
	}
	if s.Sensor == "" {
		s.Sensor = DefaultSensor
	}
	if u, err := url.Parse(s.Sensor); err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("sender: Config.Sensor %q is not an IRI: use a URL or a urn", s.Sensor)
	}
	s.sensorJSON, _ = json.Marshal(s.Sensor)
	if s.HTTPClient == nil {
		s.HTTPClient = &http.Client{}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Clock == nil {
		s.Clock = systemClock{}
	}
	if err := s.applyLimits(); err != nil {
		return nil, err
	}
	return s, nil
}

// resolveEnvironment returns the base URL of env without a trailing slash.
func resolveEnvironment(env string) (base string, needAuth bool, err error) {
	switch env {
	case "", "production":
		return ProductionURL, true, nil
	case "staging":
		return StagingURL, true, nil
	}
	u, err := url.Parse(env)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false, fmt.Errorf(`sender: Config.Environment %q is not "production", "staging"`+
			` or an http(s) endpoint URL such as "http://127.0.0.1:8080"`, env)
	}
	if u.User != nil {
		return "", false, fmt.Errorf("sender: Config.Environment %s has credentials in the URL:"+
			" remove them and set Config.Token or Config.ClientID", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", false, fmt.Errorf("sender: Config.Environment %q: the endpoint URL must not have"+
			" a query or fragment", env)
	}
	base = strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/")
	base = strings.TrimSuffix(base, "/caliper/event")
	return base, false, nil
}

func (s *settings) checkAuth() error {
	switch {
	case s.Token != "" && s.ClientID != "":
		return errors.New("sender: Config.Token and Config.ClientID are both set: use one of them")
	case s.ClientID != "" && s.TokenURL == "":
		return errors.New("sender: Config.TokenURL is required with Config.ClientID:" +
			" set it to the OAuth2 token endpoint of the environment")
	case s.ClientID != "" && s.ClientSecret == "":
		return fmt.Errorf("sender: Config.ClientSecret is missing for client id %q", s.ClientID)
	case s.ClientID == "" && (s.ClientSecret != "" || s.TokenURL != ""):
		return errors.New("sender: Config.ClientSecret or Config.TokenURL is set without Config.ClientID")
	case s.needAuth && s.Token == "" && s.ClientID == "":
		return fmt.Errorf("sender: %s needs credentials: set Config.Token or Config.ClientID,"+
			" Config.ClientSecret and Config.TokenURL", s.baseURL)
	}
	if s.TokenURL != "" {
		u, err := url.Parse(s.TokenURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("sender: Config.TokenURL %q is not an http(s) URL", s.TokenURL)
		}
	}
	return nil
}

func (s *settings) applyLimits() error {
	type limit struct {
		name  string
		value int64
	}
	for _, l := range []limit{
		{"MaxQueueEvents", int64(s.MaxQueueEvents)},
		{"MaxQueueBytes", s.MaxQueueBytes},
		{"MaxBatchEvents", int64(s.MaxBatchEvents)},
		{"MaxPayloadBytes", int64(s.MaxPayloadBytes)},
		{"RequestTimeout", int64(s.RequestTimeout)},
		{"MinBackoff", int64(s.MinBackoff)},
		{"MaxBackoff", int64(s.MaxBackoff)},
		{"MaxRetryAfter", int64(s.MaxRetryAfter)},
		{"TokenEarly", int64(s.TokenEarly)},
		{"JobPollInterval", int64(s.JobPollInterval)},
	} {
		if l.value < 0 {
			return fmt.Errorf("sender: Config.%s is negative (%d): use 0 for the default", l.name, l.value)
		}
	}
	setDefault(&s.MaxQueueEvents, DefaultMaxQueueEvents)
	setDefault(&s.MaxQueueBytes, DefaultMaxQueueBytes)
	setDefault(&s.MaxBatchEvents, DefaultMaxBatchEvents)
	setDefault(&s.MaxPayloadBytes, DefaultMaxPayloadBytes)
	setDefault(&s.Linger, DefaultLinger)
	setDefault(&s.RequestTimeout, DefaultRequestTimeout)
	setDefault(&s.MinBackoff, DefaultMinBackoff)
	setDefault(&s.MaxBackoff, DefaultMaxBackoff)
	setDefault(&s.MaxRetryAfter, DefaultMaxRetryAfter)
	setDefault(&s.TokenEarly, DefaultTokenEarly)
	setDefault(&s.JobPollInterval, DefaultJobPollInterval)
	if s.Linger < 0 {
		s.Linger = 0
	}
	if s.MaxBackoff < s.MinBackoff {
		return fmt.Errorf("sender: Config.MaxBackoff (%v) is below Config.MinBackoff (%v)",
			s.MaxBackoff, s.MinBackoff)
	}
	if s.MaxPayloadBytes <= s.envelopeOverhead() {
		return fmt.Errorf("sender: Config.MaxPayloadBytes (%d) leaves no room for an event"+
			" beside the %d bytes of the envelope", s.MaxPayloadBytes, s.envelopeOverhead())
	}
	return nil
}

func setDefault[T int | int64 | time.Duration](field *T, value T) {
	if *field == 0 {
		*field = value
	}
}

// Clock is the time source of a Client.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
