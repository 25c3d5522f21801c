package sender_test

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

	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/sender"
)

// tokenServer is an OAuth2 token endpoint that issues "token-1",
// "token-2", ... and fails the requests that fail selects.
type tokenServer struct {
	server *httptest.Server

	mu      sync.Mutex
	issued  int
	fail    func(n int) (status int, body string) // nil or status 0 means success
	expires int                                   // expires_in of the tokens
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{expires: 3600}
	ts.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "client" || secret != "secret" {
			t.Errorf("token request without the client credentials as HTTP Basic authentication")
		}
		r.ParseForm()
		if got := r.Form.Get("grant_type"); got != "client_credentials" {
			t.Errorf("grant_type = %q, want client_credentials", got)
		}
		ts.mu.Lock()
		ts.issued++
		n, fail, expires := ts.issued, ts.fail, ts.expires
		ts.mu.Unlock()
		if fail != nil {
			if status, body := fail(n); status != 0 {
				w.WriteHeader(status)
				fmt.Fprint(w, body)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":%d}`, n, expires)
	}))
	t.Cleanup(ts.server.Close)
	return ts
}

func (ts *tokenServer) Issued() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.issued
}

func oauthConfig(t *testing.T, ep *endpoint, ts *tokenServer, clock *fakeClock) sender.Config {
	cfg := testConfig(t, ep, clock)
	cfg.ClientID, cfg.ClientSecret, cfg.TokenURL = "client", "secret", ts.server.URL+"/oauth2/token"
	return cfg
}

func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func TestOAuthTokenCached(t *testing.T) {
	ts := newTokenServer(t)
	var tokens []string
	var mu sync.Mutex
	ep := newEndpoint(t, func(_ int, r *http.Request, _ []json.RawMessage) reply {
		mu.Lock()
		tokens = append(tokens, bearer(r))
		mu.Unlock()
		return reply{status: http.StatusOK, store: true}
	})
	clock := newFakeClock()
	c := newClient(t, oauthConfig(t, ep, ts, clock))
	for i := range 3 {
		if err := c.Send(context.Background(), newEvent(t, i)); err != nil {
			t.Fatal(err)
		}
		flush(t, c)
	}
	if got := ts.Issued(); got != 1 {
		t.Errorf("token endpoint called %d times for 3 posts, want 1", got)
	}

	// 3600 s tokens are replaced 60 s before they expire.
	clock.Advance(3541 * time.Second)
	if err := c.Send(context.Background(), newEvent(t, 9)); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if got := ts.Issued(); got != 2 {
		t.Errorf("token endpoint called %d times after 3541 s, want 2", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"token-1", "token-1", "token-1", "token-2"}; fmt.Sprint(tokens) != fmt.Sprint(want) {
		t.Errorf("bearer tokens = %v, want %v", tokens, want)
	}
}

func TestOAuthRefreshOn401(t *testing.T) {
	ts := newTokenServer(t)
	ep := newEndpoint(t, func(_ int, r *http.Request, _ []json.RawMessage) reply {
		if bearer(r) == "token-1" {
			return reply{status: http.StatusUnauthorized, body: `{"message":"token revoked"}`}
		}
		return reply{status: http.StatusOK, store: true}
	})
	c := newClient(t, oauthConfig(t, ep, ts, newFakeClock()))
	if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
		t.Fatal(err)
	}
	flush(t, c)

	if got := len(ep.Stored()); got != 1 {
		t.Errorf("stored %d events, want 1 after the token refresh", got)
	}
	if got := ts.Issued(); got != 2 {
		t.Errorf("token endpoint called %d times, want 2", got)
	}
}

func TestOAuthSecond401DeadLetters(t *testing.T) {
	ts := newTokenServer(t)
	ep := newEndpoint(t, func(int, *http.Request, []json.RawMessage) reply {
		return reply{status: http.StatusUnauthorized, body: `{"message":"client not allowed"}`}
	})
	c := newClient(t, oauthConfig(t, ep, ts, newFakeClock()))
	if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
		t.Fatal(err)
	}
	flush(t, c)

	if got := ep.Requests(); got != 2 {
		t.Errorf("%d posts, want 2 (one after the refresh)", got)
	}
	if got := c.Stats().DeadLettered; got != 1 {
		t.Errorf("Stats().DeadLettered = %d, want 1", got)
	}
}

func TestOAuthTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"500", http.StatusInternalServerError, "internal error"},
		{"garbage", http.StatusOK, "<html>not json</html>"},
		{"invalid client", http.StatusBadRequest, `{"error":"invalid_client"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.fail = func(n int) (int, string) {
				if n <= 3 {
					return tt.status, tt.body
				}
				return 0, ""
			}
			ep := newEndpoint(t, nil)
			logs := &testkit.LogBuffer{}
			cfg := oauthConfig(t, ep, ts, newFakeClock())
			cfg.Logger = debugLogger(logs)
			c := newClient(t, cfg)
			if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
				t.Fatal(err)
			}
			flush(t, c)

			if got := len(ep.Stored()); got != 1 {
				t.Errorf("stored %d events once the token endpoint recovered, want 1", got)
			}
			st := c.Stats()
			if st.DeadLettered != 0 || st.Retried != 3 {
				t.Errorf("Stats() = %+v, want 3 retries and no dead letter", st)
			}
			if got := findLog(logs, "post failed; retrying"); !strings.Contains(got, "token endpoint") {
				t.Errorf("retry log %q does not name the token endpoint", got)
			}
			if got := logs.String(); strings.Contains(got, "secret") {
				t.Errorf("logs contain the client secret: %s", got)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  sender.Config
		want string
	}{
		{"production without credentials", sender.Config{}, "needs credentials"},
		{"staging without credentials", sender.Config{Environment: "staging"}, "caliper.staging"},
		{"bad environment", sender.Config{Environment: "prod"}, `"prod" is not`},
		{"ftp endpoint", sender.Config{Environment: "ftp://127.0.0.1"}, "ftp://"},
		{"credentials in URL", sender.Config{Environment: "http://u:secret@127.0.0.1:1"},
			"http://u:xxxxx@127.0.0.1:1 has credentials"},
		{"token and client", sender.Config{Environment: "http://127.0.0.1:1", Token: "t", ClientID: "c"},
			"both set"},
		{"client without token URL", sender.Config{Environment: "http://127.0.0.1:1", ClientID: "c",
			ClientSecret: "s"}, "TokenURL is required"},
		{"client without secret", sender.Config{Environment: "http://127.0.0.1:1", ClientID: "c",
			TokenURL: "http://127.0.0.1:2/token"}, `ClientSecret is missing for client id "c"`},
		{"bad token URL", sender.Config{Environment: "http://127.0.0.1:1", ClientID: "c", ClientSecret: "s",
			TokenURL: "token"}, `TokenURL "token"`},
		{"negative limit", sender.Config{Environment: "http://127.0.0.1:1", MaxBatchEvents: -1},
			"MaxBatchEvents is negative (-1)"},
		{"sensor not an IRI", sender.Config{Environment: "http://127.0.0.1:1", Sensor: "my app"},
			`Sensor "my app"`},
		{"payload too small", sender.Config{Environment: "http://127.0.0.1:1", MaxPayloadBytes: 50},
			"MaxPayloadBytes (50)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Queue = sender.NewMemoryQueue()
			c, err := sender.New(tt.cfg)
			if err == nil {
				c.Close(context.Background())
				t.Fatalf("New(%s) succeeded", tt.name)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%s) = %q, want it to contain %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestEnvironmentURL(t *testing.T) {
	for _, path := range []string{"", "/", "/caliper/event"} {
		ep := newEndpoint(t, nil)
		cfg := testConfig(t, ep, newFakeClock())
		cfg.Environment = ep.URL() + path
		c := newClient(t, cfg)
		if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
			t.Fatal(err)
		}
		flush(t, c)
		if got := len(ep.Stored()); got != 1 {
			t.Errorf("Environment %q: stored %d events, want 1 at /caliper/event", cfg.Environment, got)
		}
	}
}

func TestStaticToken(t *testing.T) {
	ep := newEndpoint(t, func(_ int, r *http.Request, _ []json.RawMessage) reply {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			return reply{status: http.StatusUnauthorized}
		}
		return reply{status: http.StatusOK, store: true}
	})
	cfg := testConfig(t, ep, newFakeClock())
	cfg.Token = "s3cret"
	c := newClient(t, cfg)
	if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if got := len(ep.Stored()); got != 1 {
		t.Errorf("stored %d events with the static token, want 1", got)
	}
}

func TestOAuthRejectedInLastError(t *testing.T) {
	ts := newTokenServer(t)
	var rejecting atomic.Bool
	rejecting.Store(true)
	ts.fail = func(n int) (int, string) {
		if rejecting.Load() {
			return http.StatusUnauthorized, `{"error":"invalid_client"}`
		}
		return 0, ""
	}
	ep := newEndpoint(t, nil)
	c := newClient(t, oauthConfig(t, ep, ts, newFakeClock()))
	if err := c.Send(context.Background(), newEvent(t, 0)); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err = c.Stats().LastError; !errors.Is(err, sender.ErrTokenRejected); err = c.Stats().LastError {
		if time.Now().After(deadline) {
			t.Fatalf("Stats().LastError = %v, want it to wrap ErrTokenRejected", err)
		}
		time.Sleep(time.Millisecond)
	}
	if !strings.Contains(err.Error(), "401") {
		t.Errorf("LastError = %q, want the 401 reply", err)
	}
	// The Basic credentials of client:secret.
	if strings.Contains(err.Error(), "Y2xpZW50OnNlY3JldA") {
		t.Errorf("LastError = %q contains the client credentials", err)
	}

	rejecting.Store(false)
	flush(t, c)
	if err := c.Stats().LastError; err != nil {
		t.Errorf("Stats().LastError after delivery = %v, want nil", err)
	}
}
