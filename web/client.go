package web

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
)

// clientJS is the browser client, a plain ES module served as is.
//
//go:embed client.js
var clientJS []byte

// clientETag is the strong validator of clientJS.
var clientETag = func() string {
	sum := sha256.Sum256(clientJS)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// ClientJS returns the browser client module, for apps that serve it from
// their own path or bundle it.
func ClientJS() []byte { return append([]byte(nil), clientJS...) }

func (h *Handler) clientJS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("ETag", clientETag)
	// no-cache revalidates on every load, so a new binary's client is
	// picked up at once while unchanged ones cost a 304.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if match := r.Header.Get("If-None-Match"); match == clientETag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if r.Method == http.MethodHead {
		return nil
	}
	// A failed write means the browser went away; there is no one to tell.
	w.Write(clientJS)
	return nil
}
