// Package oneroster resolves the student of an HTTP request to a Timeback
// user by looking the student's e-mail address up in a OneRoster 1.2
// rostering service.
//
// The app supplies the e-mail address, usually from its own session:
//
//	r, err := oneroster.New(oneroster.Config{
//		BaseURL:      "https://roster.example.com",
//		TokenURL:     "https://auth.example.com/oauth2/token",
//		ClientID:     id,
//		ClientSecret: secret,
//		Email:        func(r *http.Request) (string, error) { return session.Email(r) },
//	})
//
// The actor id of the resolved user is the OneRoster user URL,
// {BaseURL}/ims/oneroster/rostering/v1p2/users/{sourcedId}. Lookups are
// cached for Config.TTL.
package oneroster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/caliper"
)

// UsersPath is the OneRoster 1.2 rostering collection of users, relative to
// the base URL.
const UsersPath = "/ims/oneroster/rostering/v1p2/users"

// Errors that callers branch on. Each is a *timeback.Error, so the HTTP
// status follows from its code; the returned errors wrap them with the
// e-mail address or the upstream status.
var (
	// ErrUserNotFound means no OneRoster user has the e-mail address (404).
	ErrUserNotFound = &timeback.Error{Code: timeback.CodeNotFound, Message: "user not found"}
	// ErrAmbiguous means more than one OneRoster user has the e-mail
	// address (409).
	ErrAmbiguous = &timeback.Error{Code: timeback.CodeConflict, Message: "ambiguous"}
	// ErrInvalidEmail means the request's e-mail address cannot be looked
	// up (400).
	ErrInvalidEmail = &timeback.Error{Code: timeback.CodeInvalid, Message: "invalid e-mail"}
	// ErrCredentials means the rostering service rejected the client
	// credentials even after a fresh token (500: the app is misconfigured,
	// not the student).
	ErrCredentials = &timeback.Error{Code: timeback.CodeInternal,
		Message: "oneroster rejected the client credentials"}
	// ErrUnavailable means the rostering service failed or returned a reply
	// that cannot be read (503).
	ErrUnavailable = &timeback.Error{Code: timeback.CodeUnavailable, Message: "oneroster unavailable"}
)

// Config configures a Resolver. BaseURL, Email and either the client
// credentials (TokenURL, ClientID, ClientSecret) or Token are required.
type Config struct {
	// BaseURL is the OneRoster service root, such as
	// "https://roster.example.com", without UsersPath.
	BaseURL string

	// TokenURL, ClientID and ClientSecret are the OAuth2 client credentials.
	// The client id and secret are sent with HTTP Basic authentication.
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scopes are requested with the token; nil requests none.
	Scopes []string
	// Token is a static Bearer token, used instead of client credentials
	// when set.
	Token string

	// Email returns the e-mail address of a request's student.
	Email timeback.EmailFunc

	// HTTPClient sends the token and user requests. Nil means a client with
	// a 10 s timeout.
	HTTPClient *http.Client
	// TTL is how long a found user is cached. Zero means 5 minutes.
	TTL time.Duration
	// MissTTL is how long "user not found" and "ambiguous" are cached, so
	// that a page polling for an unknown student does not reach OneRoster on
	// every request. Zero means 30 seconds; a negative value caches neither.
	MissTTL time.Duration
	// MaxEntries bounds the cache. Zero means 10,000.
	MaxEntries int
	// Now is the clock of the cache. Nil means time.Now.
	Now func() time.Time
	// Logger receives a record for each failed lookup. Nil discards them.
	Logger *slog.Logger
}

// Resolver looks students up in OneRoster by e-mail address. It implements
// timeback.Resolver and is safe for concurrent use.
type Resolver struct {
	cfg     Config
	base    string
	client  *http.Client
	oauth   *clientcredentials.Config
	tokenMu sync.Mutex
	tokens  oauth2.TokenSource

	mu       sync.Mutex
	cache    map[string]entry
	inflight map[string]*call
}

type entry struct {
	user    timeback.User
	err     error
	expires time.Time
}

// fetchTimeout bounds one shared lookup, token request included, even with
// a Config.HTTPClient that has no timeout of its own.
const fetchTimeout = 30 * time.Second

type call struct {
	done    chan struct{}
	user    timeback.User
	err     error
	waiters int // callers that joined the request; r.mu guards it
}

// New returns a Resolver for cfg, or an error naming the missing or invalid
// field.
func New(cfg Config) (*Resolver, error) {
	base := strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(base)
	if base == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oneroster: BaseURL %q is not an http or https URL", cfg.BaseURL)
	}
	if cfg.Email == nil {
		return nil, errors.New("oneroster: Email is nil; it must return the e-mail of a request's student")
	}
	if cfg.Token == "" && (cfg.TokenURL == "" || cfg.ClientID == "" || cfg.ClientSecret == "") {
		return nil, errors.New("oneroster: set Token, or TokenURL, ClientID and ClientSecret")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.TTL == 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.MissTTL == 0 {
		cfg.MissTTL = 30 * time.Second
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Resolver{
		cfg:      cfg,
		base:     base,
		client:   cfg.HTTPClient,
		cache:    make(map[string]entry),
		inflight: make(map[string]*call),
	}
	if cfg.Token == "" {
		r.oauth = &clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     cfg.TokenURL,
			Scopes:       cfg.Scopes,
			AuthStyle:    oauth2.AuthStyleInHeader,
		}
		r.tokens = r.newTokenSource()
	}
	return r, nil
}

// Resolve returns the OneRoster user whose e-mail address Config.Email
// returns for req.
func (r *Resolver) Resolve(req *http.Request) (timeback.User, error) {
	email, err := r.cfg.Email(req)
	if err != nil {
		return timeback.User{}, err
	}
	return r.Lookup(req.Context(), email)
}

// Lookup returns the one OneRoster user with the e-mail address email. It
// serves from the cache while an entry is fresh, and concurrent lookups of
// one address share one request.
func (r *Resolver) Lookup(ctx context.Context, email string) (timeback.User, error) {
	email = strings.TrimSpace(email)
	if !caliper.IsEmail(email) {
		return timeback.User{}, fmt.Errorf("%w: %q is not an e-mail address", ErrInvalidEmail, email)
	}
	// The OneRoster filter grammar quotes values with ' and defines no
	// escape, so an address containing one cannot be filtered on.
	if strings.ContainsAny(email, "'") {
		return timeback.User{}, fmt.Errorf("%w: %q contains a single quote, which a OneRoster filter cannot carry",
			ErrInvalidEmail, email)
	}

	r.mu.Lock()
	if e, ok := r.cache[email]; ok && r.cfg.Now().Before(e.expires) {
		r.mu.Unlock()
		return e.user, e.err
	}
	c, ok := r.inflight[email]
	if ok {
		c.waiters++
	} else {
		c = &call{done: make(chan struct{})}
		r.inflight[email] = c
		// The request serves every caller that joins it, so one caller's
		// cancellation must not end it. fetchTimeout bounds it instead.
		go r.complete(context.WithoutCancel(ctx), email, c)
	}
	r.mu.Unlock()

	select {
	case <-c.done:
		return c.user, c.err
	case <-ctx.Done():
		return timeback.User{}, ctx.Err()
	}
}

// complete fetches the user of email for the callers of c, caches the
// outcome and wakes the callers.
func (r *Resolver) complete(ctx context.Context, email string, c *call) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	c.user, c.err = r.fetch(ctx, email)
	if c.err != nil && !errors.Is(c.err, ErrUserNotFound) && !errors.Is(c.err, ErrAmbiguous) {
		r.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "oneroster lookup failed",
			slog.String("email", email), slog.String("error", c.err.Error()))
	}

	r.mu.Lock()
	delete(r.inflight, email)
	r.store(email, c.user, c.err)
	r.mu.Unlock()
	close(c.done)
}

// store caches the outcome of a lookup; r.mu is held.
func (r *Resolver) store(email string, user timeback.User, err error) {
	ttl := r.cfg.TTL
	switch {
	case err == nil:
	case errors.Is(err, ErrUserNotFound), errors.Is(err, ErrAmbiguous):
		ttl = r.cfg.MissTTL
	default:
		return // upstream failures are retried on the next request
	}
	if ttl < 0 {
		return
	}
	now := r.cfg.Now()
	if len(r.cache) >= r.cfg.MaxEntries {
		for k, e := range r.cache {
			if !now.Before(e.expires) {
				delete(r.cache, k)
			}
		}
	}
	// Still full: drop one entry at random (map order) rather than grow.
	for k := range r.cache {
		if len(r.cache) < r.cfg.MaxEntries {
			break
		}
		delete(r.cache, k)
	}
	r.cache[email] = entry{user: user, err: err, expires: now.Add(ttl)}
}

// wireUsers is the body of a OneRoster users collection reply.
type wireUsers struct {
	Users []struct {
		SourcedID string `json:"sourcedId"`
		Email     string `json:"email"`
	} `json:"users"`
}

// fetch requests the OneRoster users with email, limited to two, which is
// enough to tell one match from several.
func (r *Resolver) fetch(ctx context.Context, email string) (timeback.User, error) {
	q := url.Values{}
	q.Set("filter", "email='"+email+"'")
	q.Set("limit", "2")
	target := r.base + UsersPath + "?" + q.Encode()

	resp, err := r.get(ctx, target)
	if err != nil {
		return timeback.User{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return timeback.User{}, fmt.Errorf("%w: read reply of GET %s: %v", ErrUnavailable, UsersPath, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return timeback.User{}, fmt.Errorf("%w: GET %s returned %d %s; check the client id, secret and scopes",
			ErrCredentials, UsersPath, resp.StatusCode, snippet(body))
	case resp.StatusCode == http.StatusNotFound:
		// Some OneRoster services reply to an empty filter result with 404.
		return timeback.User{}, fmt.Errorf("%w: no OneRoster user has e-mail %q", ErrUserNotFound, email)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return timeback.User{}, fmt.Errorf("%w: GET %s returned %d %s",
			ErrUnavailable, UsersPath, resp.StatusCode, snippet(body))
	}

	var w wireUsers
	if err := json.Unmarshal(body, &w); err != nil {
		return timeback.User{}, fmt.Errorf("%w: GET %s returned a body that is not a users collection: %v",
			ErrUnavailable, UsersPath, err)
	}
	// A service that ignores the filter would return unrelated users, so
	// only users with the requested address count.
	var matches []timeback.User
	for _, u := range w.Users {
		if !strings.EqualFold(u.Email, email) || u.SourcedID == "" {
			continue
		}
		matches = append(matches, timeback.User{
			ID:    r.base + UsersPath + "/" + url.PathEscape(u.SourcedID),
			Email: u.Email,
		})
	}
	switch len(matches) {
	case 0:
		return timeback.User{}, fmt.Errorf("%w: no OneRoster user has e-mail %q", ErrUserNotFound, email)
	case 1:
		return matches[0], nil
	default:
		return timeback.User{}, fmt.Errorf("%w: more than one OneRoster user has e-mail %q", ErrAmbiguous, email)
	}
}

// get sends an authenticated GET. On a 401 it drops the cached token and
// tries once more with a fresh one.
func (r *Resolver) get(ctx context.Context, target string) (*http.Response, error) {
	resp, err := r.getOnce(ctx, target, false)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || r.oauth == nil {
		return resp, err
	}
	resp.Body.Close()
	return r.getOnce(ctx, target, true)
}

func (r *Resolver) getOnce(ctx context.Context, target string, freshToken bool) (*http.Response, error) {
	token, err := r.token(freshToken)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("oneroster: build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: GET %s: %v", ErrUnavailable, UsersPath, err)
	}
	return resp, nil
}

// token returns the Bearer token, fetching a new one when fresh is set or
// the cached one is about to expire.
func (r *Resolver) token(fresh bool) (string, error) {
	if r.oauth == nil {
		return r.cfg.Token, nil
	}
	r.tokenMu.Lock()
	if fresh {
		r.tokens = r.newTokenSource()
	}
	ts := r.tokens
	r.tokenMu.Unlock()
	tok, err := ts.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil &&
			(re.Response.StatusCode == http.StatusUnauthorized || re.Response.StatusCode == http.StatusBadRequest) {
			return "", fmt.Errorf("%w: token request returned %d; check ClientID and ClientSecret",
				ErrCredentials, re.Response.StatusCode)
		}
		return "", fmt.Errorf("%w: token request failed: %v", ErrUnavailable, err)
	}
	return tok.AccessToken, nil
}

// tokenRefreshMargin is how long before its expiry a cached token is
// replaced, so that a request never carries a token that expires in flight.
const tokenRefreshMargin = time.Minute

// newTokenSource returns a caching token source with an empty cache. The
// background context carries only the HTTP client, because the source
// outlives any request.
func (r *Resolver) newTokenSource() oauth2.TokenSource {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, r.client)
	fetch := tokenFunc(func() (*oauth2.Token, error) { return r.oauth.Token(ctx) })
	return oauth2.ReuseTokenSourceWithExpiry(nil, fetch, tokenRefreshMargin)
}

// tokenFunc adapts a function that fetches a new token to a TokenSource.
type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

// snippet returns the start of an error body for a message.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		return "with an empty body"
	}
	return fmt.Sprintf("with body %q", s)
}
