package endpoint

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testkit"
)

const loginToken = "school-secret"

// newLoginServer returns a test server with one token and stand-ins for
// the dashboard and the analytics API mounted as serve mounts them.
func newLoginServer(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t, Config{Tokens: []string{"other-secret", loginToken}})
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("page " + r.URL.Path))
	})
	for _, pattern := range []string{"GET /analytics/", "GET /dashboard/", "GET /{$}"} {
		ts.h.Handle(pattern, page)
	}
	return ts
}

// postLogin posts the login form with token and the extra header pairs.
func (ts *testServer) postLogin(t *testing.T, token string, header ...string) reply {
	t.Helper()
	return ts.do(t, "POST", "/dashboard/login", "application/x-www-form-urlencoded",
		url.Values{"token": {token}}.Encode(), header...)
}

// sessionCookie returns the session cookie that r sets, failing the test
// without one.
func sessionCookie(t *testing.T, r reply) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("reply %d sets no %s cookie; headers %v", r.status, SessionCookie, r.header)
	return nil
}

func cookieHeader(c *http.Cookie) string { return c.Name + "=" + c.Value }

func TestLoginForm(t *testing.T) {
	ts := newLoginServer(t)
	r := ts.get(t, "/dashboard/login")
	wantStatus(t, "login form", r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("login form Content-Type = %q, want text/html", ct)
	}
	for _, want := range []string{`<form method="post" action="/dashboard/login">`, `name="token"`, `type="password"`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("login form lacks %s:\n%s", want, r.body)
		}
	}
}

func TestLoginSetsSessionCookie(t *testing.T) {
	ts := newLoginServer(t)
	r := ts.postLogin(t, loginToken, "Origin", "http://example.com", "Sec-Fetch-Site", "same-origin")
	wantStatus(t, "login", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/" {
		t.Errorf("login redirects to %q, want /", loc)
	}
	c := sessionCookie(t, r)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie = %+v, want HttpOnly, SameSite=Strict, Path=/ and not Secure without TLS", c)
	}
	if c.MaxAge != int(DefaultSessionMaxAge/time.Second) {
		t.Errorf("cookie MaxAge = %d, want %d", c.MaxAge, int(DefaultSessionMaxAge/time.Second))
	}
	if strings.Contains(c.Value, loginToken) {
		t.Errorf("cookie value %q contains the token", c.Value)
	}

	for _, path := range []string{"/", "/dashboard/students/s1", "/analytics/runs/r1"} {
		got := ts.get(t, path, "Cookie", cookieHeader(c))
		wantStatus(t, "GET "+path+" with the cookie", got, http.StatusOK)
		if string(got.body) != "page "+path {
			t.Errorf("GET %s with the cookie = %q", path, got.body)
		}
		head := ts.do(t, "HEAD", path, "", "", "Cookie", cookieHeader(c))
		wantStatus(t, "HEAD "+path+" with the cookie", head, http.StatusOK)
	}
}

func TestLoginSecureUnderTLS(t *testing.T) {
	ts := newLoginServer(t)
	req := httptest.NewRequest("POST", "https://example.com/dashboard/login",
		strings.NewReader(url.Values{"token": {loginToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	c := sessionCookie(t, reply{status: rec.Code, header: rec.Header()})
	if !c.Secure {
		t.Errorf("cookie under TLS = %+v, want Secure", c)
	}
}

func TestLoginWrongToken(t *testing.T) {
	ts := newLoginServer(t)
	for _, token := range []string{"", "school-secre", "school-secret-", "SCHOOL-SECRET"} {
		r := ts.postLogin(t, token)
		wantStatus(t, "login with "+token, r, http.StatusUnauthorized)
		if !strings.Contains(string(r.body), `name="token"`) || !strings.Contains(string(r.body), "Wrong token") {
			t.Errorf("login with %q does not re-render the form with an error:\n%s", token, r.body)
		}
		if c := r.header.Get("Set-Cookie"); c != "" {
			t.Errorf("login with %q sets a cookie: %s", token, c)
		}
	}
}

func TestLoginRefusesCrossOrigin(t *testing.T) {
	ts := newLoginServer(t)
	for _, tt := range []struct {
		name   string
		header []string
	}{
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site fetch", []string{"Sec-Fetch-Site", "same-site"}},
		{"foreign origin", []string{"Origin", "https://evil.example.net"}},
	} {
		r := ts.postLogin(t, loginToken, tt.header...)
		wantStatus(t, tt.name, r, http.StatusForbidden)
		if c := r.header.Get("Set-Cookie"); c != "" {
			t.Errorf("%s sets a cookie: %s", tt.name, c)
		}
	}
	// httptest requests have Host example.com.
	r := ts.postLogin(t, loginToken, "Origin", "http://example.com")
	wantStatus(t, "same origin", r, http.StatusSeeOther)
}

func TestLoginBodyLimit(t *testing.T) {
	ts := newLoginServer(t)
	body := "token=" + strings.Repeat("a", maxLoginBody)
	r := ts.do(t, "POST", "/dashboard/login", "application/x-www-form-urlencoded", body)
	wantStatus(t, "login body above the limit", r, http.StatusBadRequest)
	r = ts.do(t, "POST", "/dashboard/login", "application/json", `{"token":"`+loginToken+`"}`)
	wantStatus(t, "login as JSON", r, http.StatusUnsupportedMediaType)
}

func TestSessionCookieScope(t *testing.T) {
	ts := newLoginServer(t)
	c := sessionCookie(t, ts.postLogin(t, loginToken))
	cookie := []string{"Cookie", cookieHeader(c)}

	post := ts.post(t, testkit.Envelope(completed(storetest.EventID(1), 1)), cookie...)
	wantError(t, "POST /caliper/event with only the cookie", post, http.StatusUnauthorized)
	validate := ts.do(t, "POST", "/caliper/event/validate", "application/json",
		testkit.Envelope(completed(storetest.EventID(1), 1)), cookie...)
	wantStatus(t, "POST /caliper/event/validate with only the cookie", validate, http.StatusUnauthorized)
	for _, path := range []string{"/caliper/events", "/caliper/config", "/jobs/job-1/status", "/metrics"} {
		wantStatus(t, "GET "+path+" with only the cookie", ts.get(t, path, cookie...), http.StatusUnauthorized)
	}
	// A wrong Bearer token is not rescued by a good cookie.
	r := ts.get(t, "/dashboard/students/s1", "Cookie", cookieHeader(c), "Authorization", "Bearer wrong")
	wantStatus(t, "cookie with a wrong Bearer token", r, http.StatusUnauthorized)
}

func TestSessionCookieRejected(t *testing.T) {
	ts := newLoginServer(t)
	good := sessionCookie(t, ts.postLogin(t, loginToken))
	exp, mac, _ := strings.Cut(good.Value, ".")
	future := testNow.Add(time.Hour).Unix()
	past := testNow.Add(-time.Second).Unix()
	for _, tt := range []struct{ name, value string }{
		{"empty", ""},
		{"no MAC", exp},
		{"other expiry", itoa(int(future)) + "." + mac},
		{"bad MAC", exp + "." + mac[:len(mac)-2] + "AA"},
		{"expired", sessionValue([]byte(loginToken), past)},
		{"beyond the max age", sessionValue([]byte(loginToken), testNow.Add(30*24*time.Hour).Unix())},
		{"unknown token", sessionValue([]byte("guess"), future)},
	} {
		r := ts.get(t, "/analytics/runs/r1", "Cookie", SessionCookie+"="+tt.value)
		wantStatus(t, tt.name+" cookie", r, http.StatusUnauthorized)
	}
	// A session made with either token is valid.
	r := ts.get(t, "/analytics/runs/r1", "Cookie", SessionCookie+"="+sessionValue([]byte("other-secret"), future))
	wantStatus(t, "session of the second token", r, http.StatusOK)
}

func TestDashboardRedirectsToLogin(t *testing.T) {
	ts := newLoginServer(t)
	html := []string{"Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
	for _, path := range []string{"/", "/dashboard/students/s1"} {
		r := ts.get(t, path, html...)
		wantStatus(t, "HTML GET "+path, r, http.StatusSeeOther)
		if loc := r.header.Get("Location"); loc != "/dashboard/login" {
			t.Errorf("HTML GET %s redirects to %q, want /dashboard/login", path, loc)
		}
	}
	// The JSON API and clients that do not ask for HTML get a 401.
	wantError(t, "HTML GET of the analytics API", ts.get(t, "/analytics/runs/r1", html...), http.StatusUnauthorized)
	wantError(t, "GET / without Accept", ts.get(t, "/"), http.StatusUnauthorized)
}

func TestLogoutClearsCookie(t *testing.T) {
	ts := newLoginServer(t)
	r := ts.do(t, "POST", "/dashboard/logout", "application/x-www-form-urlencoded", "",
		"Sec-Fetch-Site", "same-origin")
	wantStatus(t, "logout", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/dashboard/login" {
		t.Errorf("logout redirects to %q, want /dashboard/login", loc)
	}
	c := sessionCookie(t, r)
	if c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("logout cookie = %+v, want an empty value and a negative MaxAge", c)
	}
	r = ts.do(t, "POST", "/dashboard/logout", "", "", "Sec-Fetch-Site", "cross-site")
	wantStatus(t, "cross-site logout", r, http.StatusForbidden)
}

func TestLoginWithoutTokens(t *testing.T) {
	ts := newTestServer(t, Config{})
	for _, method := range []string{"GET", "POST"} {
		r := ts.do(t, method, "/dashboard/login", "application/x-www-form-urlencoded", "token=x")
		wantStatus(t, method+" login without tokens", r, http.StatusSeeOther)
		if c := r.header.Get("Set-Cookie"); c != "" {
			t.Errorf("%s login without tokens sets a cookie: %s", method, c)
		}
	}
}
