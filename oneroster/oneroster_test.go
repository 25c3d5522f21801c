package oneroster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
)

// fakeRoster is a OneRoster service with an OAuth2 token endpoint.
type fakeRoster struct {
	t      *testing.T
	server *httptest.Server

	mu       sync.Mutex
	users    []map[string]string
	status   int    // when not 0, the users endpoint replies with it
	body     string // the body of a scripted status
	valid    map[string]bool
	tokens   int // tokens issued
	lookups  int // users requests that passed authentication
	requests []string
	// reject401 makes the users endpoint reject this many requests with a
	// valid token before accepting again, as after a key rotation.
	reject401 int
	release   chan struct{} // when set, lookups wait for it to close
	expiresIn int           // token lifetime in seconds; 0 means 3600
	// tokenBody, when set, replaces the token reply with a 500 carrying it.
	tokenBody string
}

func newFakeRoster(t *testing.T, users ...map[string]string) *fakeRoster {
	f := &fakeRoster{t: t, users: users, valid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", f.token)
	mux.HandleFunc("GET "+UsersPath, f.list)
	f.server = httptest.NewServer(mux)
	t.Cleanup(f.server.Close)
	return f
}

func (f *fakeRoster) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	broken := f.tokenBody
	f.mu.Unlock()
	if broken != "" {
		http.Error(w, broken, http.StatusInternalServerError)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != "app" || secret != "s3cret" {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.tokens++
	tok := fmt.Sprintf("tok-%d", f.tokens)
	f.valid[tok] = true
	expiresIn := f.expiresIn
	f.mu.Unlock()
	if expiresIn == 0 {
		expiresIn = 3600
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d}`, tok, expiresIn)
}

func (f *fakeRoster) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.requests = append(f.requests, r.URL.RawQuery)
	if !f.valid[tok] || f.reject401 > 0 {
		if f.valid[tok] {
			f.reject401--
			delete(f.valid, tok)
		}
		f.mu.Unlock()
		http.Error(w, `{"imsx_codeMajor":"failure"}`, http.StatusUnauthorized)
		return
	}
	f.lookups++
	status, body, release := f.status, f.body, f.release
	users := f.users
	f.mu.Unlock()
	if release != nil {
		<-release
	}
	if status != 0 {
		http.Error(w, body, status)
		return
	}

	filter := r.URL.Query().Get("filter")
	email, ok := strings.CutPrefix(filter, "email='")
	email, ok2 := strings.CutSuffix(email, "'")
	if !ok || !ok2 {
		http.Error(w, "bad filter "+filter, http.StatusBadRequest)
		return
	}
	if got, want := r.URL.Query().Get("limit"), "2"; got != want {
		f.t.Errorf("limit = %q, want %q", got, want)
	}
	var found []map[string]string
	for _, u := range users {
		if u["email"] == email {
			found = append(found, u)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"users": found})
}

func (f *fakeRoster) config(email string) Config {
	return Config{
		BaseURL:      f.server.URL,
		TokenURL:     f.server.URL + "/oauth2/token",
		ClientID:     "app",
		ClientSecret: "s3cret",
		Email:        func(*http.Request) (string, error) { return email, nil },
		HTTPClient:   f.server.Client(),
	}
}

func (f *fakeRoster) counts() (tokens, lookups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens, f.lookups
}

func user(id, email string) map[string]string {
	return map[string]string{"sourcedId": id, "email": email, "status": "active", "givenName": "A"}
}

func newResolver(t *testing.T, cfg Config) *Resolver {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func resolve(r *Resolver) (timeback.User, error) {
	return r.Resolve(httptest.NewRequest("GET", "/user/me", nil))
}

func TestResolveMatches(t *testing.T) {
	f := newFakeRoster(t,
		user("s-1", "one@example.com"),
		user("s-2", "twice@example.com"),
		user("s-3", "twice@example.com"),
		user("s 4/x", "odd@example.com"),
	)
	tests := []struct {
		email      string
		wantID     string
		wantErr    error
		wantStatus int
	}{
		{"one@example.com", f.server.URL + UsersPath + "/s-1", nil, 0},
		{"nobody@example.com", "", ErrUserNotFound, http.StatusNotFound},
		{"twice@example.com", "", ErrAmbiguous, http.StatusConflict},
		{"odd@example.com", f.server.URL + UsersPath + "/s%204%2Fx", nil, 0},
	}
	for _, tt := range tests {
		r := newResolver(t, f.config(tt.email))
		got, err := resolve(r)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Resolve(%s) error = %v, want %v", tt.email, err, tt.wantErr)
			continue
		}
		if err != nil {
			if status := timeback.HTTPStatus(timeback.ErrorCode(err)); status != tt.wantStatus {
				t.Errorf("Resolve(%s) status = %d, want %d", tt.email, status, tt.wantStatus)
			}
			if !strings.Contains(err.Error(), tt.email) {
				t.Errorf("Resolve(%s) error %q does not name the e-mail", tt.email, err)
			}
			continue
		}
		if got.ID != tt.wantID {
			t.Errorf("Resolve(%s).ID = %q, want %q", tt.email, got.ID, tt.wantID)
		}
		if got.Email != tt.email {
			t.Errorf("Resolve(%s).Email = %q, want %q", tt.email, got.Email, tt.email)
		}
	}
}

func TestResolveUpstreamErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantErr    error
		wantStatus int
		wantText   string
	}{
		{"unauthorized", http.StatusUnauthorized, "", ErrCredentials, 500, "401"},
		{"forbidden", http.StatusForbidden, "no scope", ErrCredentials, 500, "403"},
		{"server error", http.StatusInternalServerError, "db down", ErrUnavailable, 503, "db down"},
		{"bad gateway", http.StatusBadGateway, "", ErrUnavailable, 503, "502"},
		{"not json", http.StatusOK, "<html>", ErrUnavailable, 503, "not a users collection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRoster(t, user("s-1", "one@example.com"))
			f.status, f.body = tt.status, tt.body
			if tt.status == http.StatusUnauthorized {
				f.status = 0
				f.reject401 = 1000 // every token is rejected
			}
			r := newResolver(t, f.config("one@example.com"))
			_, err := resolve(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got := timeback.HTTPStatus(timeback.ErrorCode(err)); got != tt.wantStatus {
				t.Errorf("status = %d, want %d", got, tt.wantStatus)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}

			// Failures are not cached, so the next request reaches the service.
			_, before := f.counts()
			resolve(r)
			if _, after := f.counts(); after == before && tt.status != http.StatusUnauthorized {
				t.Errorf("second lookup after %d was served from the cache", tt.status)
			}
		})
	}
}

func TestResolveRefreshesTokenOn401(t *testing.T) {
	f := newFakeRoster(t, user("s-1", "one@example.com"))
	r := newResolver(t, f.config("one@example.com"))
	if _, err := r.Lookup(context.Background(), "one@example.com"); err != nil {
		t.Fatalf("first lookup: %v", err)
	}

	// The service revokes the cached token once; the resolver fetches a new
	// one and the lookup succeeds.
	f.mu.Lock()
	f.reject401 = 1
	f.mu.Unlock()
	_, err := r.Lookup(context.Background(), "other@example.com")
	if !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("lookup after revocation: error = %v, want ErrUserNotFound", err)
	}
	if tokens, _ := f.counts(); tokens != 2 {
		t.Errorf("tokens issued = %d, want 2", tokens)
	}
}

func TestResolveTokenRefreshedBeforeExpiry(t *testing.T) {
	tests := []struct {
		expiresIn  int
		wantTokens int
	}{
		{3600, 1}, // reused
		{30, 3},   // within the 60 s margin: replaced before every request
	}
	for _, tt := range tests {
		f := newFakeRoster(t)
		f.expiresIn = tt.expiresIn
		r := newResolver(t, f.config(""))
		for i := range 3 {
			r.Lookup(context.Background(), fmt.Sprintf("u%d@example.com", i))
		}
		if got, _ := f.counts(); got != tt.wantTokens {
			t.Errorf("expires_in %d: tokens fetched = %d, want %d", tt.expiresIn, got, tt.wantTokens)
		}
	}
}

func TestResolveTokenEndpointFails(t *testing.T) {
	f := newFakeRoster(t, user("s-1", "one@example.com"))
	f.tokenBody = "<html>gateway down</html>"
	r := newResolver(t, f.config("one@example.com"))
	_, err := resolve(r)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "token request failed") {
		t.Errorf("error %q does not name the token request", err)
	}

	// The next request tries again and succeeds once the endpoint is back.
	f.mu.Lock()
	f.tokenBody = ""
	f.mu.Unlock()
	if _, err := resolve(r); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestResolveBadClientSecret(t *testing.T) {
	f := newFakeRoster(t, user("s-1", "one@example.com"))
	cfg := f.config("one@example.com")
	cfg.ClientSecret = "wrong"
	r := newResolver(t, cfg)
	_, err := resolve(r)
	if !errors.Is(err, ErrCredentials) {
		t.Fatalf("error = %v, want ErrCredentials", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q contains the client secret", err)
	}
}

func TestResolveCachesWithTTL(t *testing.T) {
	f := newFakeRoster(t, user("s-1", "one@example.com"))
	now := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	cfg := f.config("one@example.com")
	cfg.TTL = time.Minute
	cfg.MissTTL = 10 * time.Second
	cfg.Now = func() time.Time { return now }
	r := newResolver(t, cfg)
	ctx := context.Background()

	steps := []struct {
		advance     time.Duration
		email       string
		wantLookups int
	}{
		{0, "one@example.com", 1},
		{30 * time.Second, "one@example.com", 1}, // cached
		{31 * time.Second, "one@example.com", 2}, // expired after 61 s
		{0, "none@example.com", 3},
		{9 * time.Second, "none@example.com", 3}, // miss cached
		{2 * time.Second, "none@example.com", 4}, // miss expired
		{0, " one@example.com ", 4},              // trimmed, same entry
		{0, "ONE@example.com", 5},                // another key
		{48 * time.Second, "one@example.com", 5}, // still fresh at 120 s
		{time.Second, "one@example.com", 6},      // expired exactly at TTL
		{0, "not-an-email", 6},                   // rejected locally
		{0, "o'brien@example.com", 6},            // rejected locally
		{0, "one@example.com", 6},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		_, _ = r.Lookup(ctx, s.email)
		if _, got := f.counts(); got != s.wantLookups {
			t.Errorf("step %d (%q): upstream lookups = %d, want %d", i, s.email, got, s.wantLookups)
		}
	}
}

func TestResolveNegativeMissTTL(t *testing.T) {
	f := newFakeRoster(t)
	cfg := f.config("none@example.com")
	cfg.MissTTL = -1
	r := newResolver(t, cfg)
	resolve(r)
	resolve(r)
	if _, got := f.counts(); got != 2 {
		t.Errorf("upstream lookups = %d, want 2 (misses not cached)", got)
	}
}

func TestResolveCacheBounded(t *testing.T) {
	f := newFakeRoster(t)
	cfg := f.config("")
	cfg.MaxEntries = 3
	r := newResolver(t, cfg)
	for i := range 10 {
		r.Lookup(context.Background(), fmt.Sprintf("u%d@example.com", i))
	}
	r.mu.Lock()
	n := len(r.cache)
	r.mu.Unlock()
	if n > 3 {
		t.Errorf("cache entries = %d, want at most 3", n)
	}
}

func TestResolveConcurrentShareRequest(t *testing.T) {
	f := newFakeRoster(t, user("s-1", "one@example.com"))
	r := newResolver(t, f.config("one@example.com"))
	f.mu.Lock()
	f.release = make(chan struct{})
	f.mu.Unlock()

	var wg sync.WaitGroup
	var failures atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Lookup(context.Background(), "one@example.com"); err != nil {
				failures.Add(1)
			}
		}()
	}
	// Wait until the first lookup reached the service, then let it reply.
	for {
		if _, n := f.counts(); n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(f.release)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d lookups failed", n)
	}
	if _, got := f.counts(); got != 1 {
		t.Errorf("upstream lookups = %d, want 1", got)
	}
}

func TestResolveCancelSparesOtherCallers(t *testing.T) {
	f := newFakeRoster(t, user("s-1", "one@example.com"))
	r := newResolver(t, f.config("one@example.com"))
	f.mu.Lock()
	f.release = make(chan struct{})
	f.mu.Unlock()

	// The first caller's request reaches the service, a second caller
	// joins it, and then the first caller's request is cancelled.
	firstCtx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := r.Lookup(firstCtx, "one@example.com")
		firstErr <- err
	}()
	for {
		if _, n := f.counts(); n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	second := make(chan error, 1)
	go func() {
		_, err := r.Lookup(context.Background(), "one@example.com")
		second <- err
	}()
	for waiters := 0; waiters == 0; {
		time.Sleep(time.Millisecond)
		r.mu.Lock()
		if c := r.inflight["one@example.com"]; c != nil {
			waiters = c.waiters
		}
		r.mu.Unlock()
	}
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled lookup = %v, want context.Canceled", err)
	}
	close(f.release)
	if err := <-second; err != nil {
		t.Errorf("second lookup = %v, want the user; another caller's cancellation must not fail it", err)
	}
}

func TestResolveEmailFuncError(t *testing.T) {
	f := newFakeRoster(t)
	cfg := f.config("")
	want := timeback.Errorf(timeback.CodeUnauthorized, "no session")
	cfg.Email = func(*http.Request) (string, error) { return "", want }
	r := newResolver(t, cfg)
	if _, err := resolve(r); !errors.Is(err, want) {
		t.Errorf("error = %v, want %v", err, want)
	}
}

func TestResolveStaticToken(t *testing.T) {
	f := newFakeRoster(t, user("s-1", "one@example.com"))
	f.valid["fixed"] = true
	cfg := f.config("one@example.com")
	cfg.TokenURL, cfg.ClientID, cfg.ClientSecret = "", "", ""
	cfg.Token = "fixed"
	r := newResolver(t, cfg)
	if _, err := resolve(r); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if tokens, _ := f.counts(); tokens != 0 {
		t.Errorf("tokens fetched = %d, want 0", tokens)
	}
}

func TestNewRejectsConfig(t *testing.T) {
	email := func(*http.Request) (string, error) { return "", nil }
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no base", Config{Token: "t", Email: email}, "BaseURL"},
		{"relative base", Config{BaseURL: "/roster", Token: "t", Email: email}, "BaseURL"},
		{"ftp base", Config{BaseURL: "ftp://h", Token: "t", Email: email}, "BaseURL"},
		{"no email", Config{BaseURL: "https://h", Token: "t"}, "Email"},
		{"no credentials", Config{BaseURL: "https://h", Email: email, ClientID: "a"}, "TokenURL"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%s) error = %v, want one naming %s", tt.name, err, tt.want)
		}
	}
}

func TestStaticResolve(t *testing.T) {
	ann := timeback.User{ID: "https://roster.example.com/users/ann", Email: "ann@example.com"}
	bob := timeback.User{ID: "https://roster.example.com/users/bob", Email: "bob@example.com"}
	bob2 := timeback.User{ID: "https://roster.example.com/users/bob2", Email: "Bob@example.com"}
	header := func(r *http.Request) (string, error) { return r.Header.Get("X-Student"), nil }
	tests := []struct {
		name    string
		static  Static
		header  string
		want    timeback.User
		wantErr error
	}{
		{"single user", Static{Users: []timeback.User{ann}}, "", ann, nil},
		{"no users", Static{}, "", timeback.User{}, ErrUserNotFound},
		{"several without email", Static{Users: []timeback.User{ann, bob}}, "", timeback.User{}, ErrAmbiguous},
		{"by email", Static{Users: []timeback.User{ann, bob}, Email: header}, "bob@example.com", bob, nil},
		{"case-insensitive", Static{Users: []timeback.User{ann, bob}, Email: header}, "ANN@example.com", ann, nil},
		{"unknown email", Static{Users: []timeback.User{ann}, Email: header}, "eve@example.com",
			timeback.User{}, ErrUserNotFound},
		{"duplicate email", Static{Users: []timeback.User{bob, bob2}, Email: header}, "bob@example.com",
			timeback.User{}, ErrAmbiguous},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("X-Student", tt.header)
		got, err := tt.static.Resolve(req)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: error = %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: user = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
