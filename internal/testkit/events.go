package testkit

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// maxListPages bounds the pages ListEvents reads, so that a server whose
// cursor never ends fails the test instead of hanging it.
const maxListPages = 1000

var listClient = &http.Client{Timeout: 30 * time.Second}

// ListEvents returns every event that GET /caliper/events of the server at
// base lists for query, following the page cursor. A non-empty token is
// sent as a bearer token. Each request times out after 30 seconds. It
// fails the test on a failed request, a status other than 200, a reply that
// is not the listing shape, or more than 1000 pages.
func ListEvents(t testing.TB, base, token string, query url.Values) []json.RawMessage {
	t.Helper()
	var events []json.RawMessage
	q := url.Values{}
	maps.Copy(q, query)
	for range maxListPages {
		req, err := http.NewRequest(http.MethodGet, base+"/caliper/events?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := listClient.Do(req)
		if err != nil {
			t.Fatalf("GET /caliper/events: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /caliper/events: read reply: %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /caliper/events: %s: %s", resp.Status, body)
		}
		var reply struct {
			Events     []json.RawMessage `json:"events"`
			Pagination struct {
				NextCursor string `json:"nextCursor"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(body, &reply); err != nil {
			t.Fatalf("GET /caliper/events: invalid reply: %v\n%s", err, body)
		}
		events = append(events, reply.Events...)
		if reply.Pagination.NextCursor == "" {
			return events
		}
		q.Set("cursor", reply.Pagination.NextCursor)
	}
	t.Fatalf("GET /caliper/events still has pages after %d", maxListPages)
	return nil
}
