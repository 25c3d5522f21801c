package sender

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrTokenRejected is wrapped by the error of a token request that the
// OAuth2 token endpoint rejected with 400 or 401, as it does for a wrong
// client id or secret. The Client keeps retrying, because the endpoint may
// recover, and Stats().LastError reports the error meanwhile.
var ErrTokenRejected = errors.New("sender: token endpoint rejected the credentials")

// userAgent is the User-Agent header of the sender's requests.
const userAgent = "timeback-go-sender/1"

// tokenCache holds the OAuth2 access token of a Client: fetched with the
// client credentials grant, replaced TokenEarly before its expiry, and
// dropped on invalidate.
type tokenCache struct {
	conf   clientcredentials.Config
	client *http.Client
	clock  Clock
	early  time.Duration

	mu     sync.Mutex
	access string
	expiry time.Time // zero when the token endpoint gave no lifetime
}

func newTokenCache(s *settings) *tokenCache {
	return &tokenCache{
		conf: clientcredentials.Config{
			ClientID:     s.ClientID,
			ClientSecret: s.ClientSecret,
			TokenURL:     s.TokenURL,
			Scopes:       s.Scopes,
			// The Timeback token endpoint takes the credentials as HTTP
			// Basic authentication.
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		client: s.HTTPClient,
		clock:  s.Clock,
		early:  s.TokenEarly,
	}
}

// token returns a valid access token, fetching one when none is cached or the
// cached one expires within TokenEarly.
func (t *tokenCache) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	if t.access != "" && (t.expiry.IsZero() || now.Add(t.early).Before(t.expiry)) {
		return t.access, nil
	}

	ctx = context.WithValue(ctx, oauth2.HTTPClient, t.client)
	tok, err := t.conf.Token(ctx)
	if err != nil {
		return "", t.fetchError(err)
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("sender: token endpoint %s returned no access_token: check Config.TokenURL",
			t.conf.TokenURL)
	}
	t.access = tok.AccessToken
	switch {
	case tok.ExpiresIn > 0:
		// expires_in counts from about now; the injected clock keeps the
		// cache consistent with the Client's other timers.
		t.expiry = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	case !tok.Expiry.IsZero():
		// The oauth2 package sets Expiry from the system clock; carry the
		// lifetime over to the injected one.
		t.expiry = now.Add(time.Until(tok.Expiry))
	default:
		t.expiry = time.Time{}
	}
	return t.access, nil
}

// fetchError describes a failed token request without the client secret.
func (t *tokenCache) fetchError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		detail := re.ErrorCode
		if detail == "" {
			detail = truncate(string(re.Body), 200)
		}
		if code := re.Response.StatusCode; code == http.StatusBadRequest || code == http.StatusUnauthorized {
			return fmt.Errorf("%w: OAuth2 token endpoint %s replied %s (%s): check Config.ClientID,"+
				" Config.ClientSecret and Config.TokenURL", ErrTokenRejected, t.conf.TokenURL,
				re.Response.Status, detail)
		}
		return fmt.Errorf("sender: OAuth2 token endpoint %s replied %s (%s): check Config.ClientID,"+
			" Config.ClientSecret and Config.TokenURL", t.conf.TokenURL, re.Response.Status, detail)
	}
	return fmt.Errorf("sender: OAuth2 token endpoint %s failed: %w; check Config.TokenURL", t.conf.TokenURL, err)
}

// invalidate drops the cached token, so that the next call fetches another.
func (t *tokenCache) invalidate() {
	t.mu.Lock()
	t.access, t.expiry = "", time.Time{}
	t.mu.Unlock()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
