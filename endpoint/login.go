package endpoint

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "timeback_session"

// DefaultSessionMaxAge is how long a dashboard login lasts when
// Config.SessionMaxAge is zero.
const DefaultSessionMaxAge = 12 * time.Hour

// maxLoginBody caps the body of POST /dashboard/login, whose form contains
// one token.
const maxLoginBody = 4 << 10

// loginPath is the dashboard's login form.
const loginPath = "/dashboard/login"

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in – timeback dashboard</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 24rem; margin: 4rem auto; padding: 0 1rem; }
label, input, button { display: block; width: 100%; box-sizing: border-box; font-size: 1rem; }
input { margin: .5rem 0 1rem; padding: .5rem; }
button { padding: .5rem; }
.error { color: #a00; }
</style>
</head>
<body>
<h1>timeback dashboard</h1>
{{if .}}<p class="error" role="alert">{{.}}</p>{{end}}
<form method="post" action="/dashboard/login">
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
</body>
</html>
`))

// sessionPath reports whether the session cookie may authenticate r: only
// reads of the dashboard and the analytics API, never the Caliper routes,
// jobs or metrics.
func sessionPath(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	return p == "/" || strings.HasPrefix(p, "/dashboard/") || strings.HasPrefix(p, "/analytics/")
}

// wantsLoginForm reports whether an unauthenticated r is a browser asking
// for a dashboard page, which is sent to the login form instead of a 401.
func wantsLoginForm(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if p := r.URL.Path; p != "/" && !strings.HasPrefix(p, "/dashboard/") {
		return false
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/html" {
			return true
		}
	}
	return false
}

// sessionMAC is the HMAC-SHA256, keyed with token, of a session that
// expires at the Unix second expires. Only a holder of the token can make
// one, and the server checks it without keeping state.
func sessionMAC(token []byte, expires int64) []byte {
	m := hmac.New(sha256.New, token)
	m.Write([]byte("timeback dashboard session v1\x00"))
	m.Write([]byte(strconv.FormatInt(expires, 10)))
	return m.Sum(nil)
}

// sessionValue is the cookie value of a session: its expiry in Unix
// seconds and its MAC.
func sessionValue(token []byte, expires int64) string {
	return strconv.FormatInt(expires, 10) + "." + base64.RawURLEncoding.EncodeToString(sessionMAC(token, expires))
}

// validSession reports whether r carries an unexpired session cookie made
// with one of the configured tokens. Every token is tried, in constant
// time, as with Bearer tokens.
func (h *Handler) validSession(r *http.Request) bool {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return false
	}
	exp, macText, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	expires, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return false
	}
	now := h.now()
	// A session never lasts longer than the configured age, even if its
	// expiry was made by a server configured for longer.
	if expires <= now.Unix() || expires > now.Add(h.sessionMaxAge).Unix()+60 {
		return false
	}
	mac, err := base64.RawURLEncoding.DecodeString(macText)
	if err != nil || len(mac) != sha256.Size {
		return false
	}
	match := 0
	for _, tok := range h.rawTokens {
		match |= subtle.ConstantTimeCompare(mac, sessionMAC(tok, expires))
	}
	return match == 1
}

// matchToken reports whether token is one of the configured tokens,
// comparing SHA-256 digests in constant time against every one.
func (h *Handler) matchToken(token string) bool {
	digest := sha256.Sum256([]byte(token))
	match := 0
	for i := range h.tokens {
		match |= subtle.ConstantTimeCompare(digest[:], h.tokens[i][:])
	}
	return match == 1
}

func (h *Handler) renderLogin(w http.ResponseWriter, status int, msg string) {
	var buf bytes.Buffer
	if err := loginPage.Execute(&buf, msg); err != nil {
		h.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// loginRejected logs a rejected sign-in or sign-out, at most as often as
// rejected envelopes are logged.
func (h *Handler) loginRejected(r *http.Request, reason string, err error) {
	h.rejectMu.Lock()
	allowed := h.rejectLimiter.AllowN(h.now(), 1)
	h.rejectMu.Unlock()
	if allowed {
		h.log.Warn("dashboard login rejected", logKeyReason, reason, logKeyError, err.Error(),
			logKeyRemote, r.RemoteAddr)
	}
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if len(h.tokens) == 0 {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	h.renderLogin(w, http.StatusOK, "")
}

// login checks the posted token and sets the session cookie. It accepts
// only same-origin browser posts, so that another site cannot sign a
// browser in, and a body of a few KiB.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if len(h.tokens) == 0 {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if err := h.sameOrigin.Check(r); err != nil {
		h.loginRejected(r, "cross_origin", err)
		h.renderLogin(w, http.StatusForbidden, "Sign-in rejected: the form was posted from another site.")
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		h.loginRejected(r, reasonMediaType, fmt.Errorf("unsupported Content-Type %q", mt))
		h.renderLogin(w, http.StatusUnsupportedMediaType,
			"Sign-in rejected: post the form as application/x-www-form-urlencoded.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		h.loginRejected(r, reasonBadBody, err)
		h.renderLogin(w, http.StatusBadRequest, "Sign-in rejected: the form is unreadable or above 4 KiB.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" || !h.matchToken(token) {
		h.loginRejected(r, reasonUnauthorized, errors.New("invalid token"))
		h.renderLogin(w, http.StatusUnauthorized, "Wrong token: enter one of the server's access tokens.")
		return
	}
	expires := h.now().Add(h.sessionMaxAge)
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    sessionValue([]byte(token), expires.Unix()),
		Path:     "/",
		MaxAge:   int(h.sessionMaxAge / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout clears the session cookie.
//
// NOTE: the cookie is checked without server state, so a copy of it stays
// valid until it expires. Removing its token from the configuration ends
// every session made with it.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.sameOrigin.Check(r); err != nil {
		h.loginRejected(r, "cross_origin", err)
		h.renderLogin(w, http.StatusForbidden, "Sign-out rejected: the form was posted from another site.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
}
