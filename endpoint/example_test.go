package endpoint_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/timeback/timeback-go/endpoint"
	"github.com/timeback/timeback-go/sqlite"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "endpoint-example-")
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "events.db"), sqlite.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	h, err := endpoint.New(endpoint.Config{
		Store:    store,
		Tokens:   []string{"example-token"},
		NewJobID: func() string { return "job-1" },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()

	envelope := `{"sensor": "https://myapp.example.com/sensor", "sendTime": "2026-01-27T10:03:01.000Z",
	"dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2", "data": [{
		"@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
		"id": "urn:uuid:a1b2c3d4-e5f6-4890-abcd-ef1234567890",
		"type": "TimeSpentEvent", "action": "SpentTime", "profile": "TimebackProfile",
		"eventTime": "2026-01-27T10:00:15.000Z",
		"actor": {"id": "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123",
			"type": "TimebackUser", "email": "student-123@example.com"},
		"object": {"id": "https://myapp.example.com/activities/Math/g3/lesson-1",
			"type": "TimebackActivityContext", "subject": "Math", "app": {"name": "My App"}},
		"generated": {"id": "https://api.example.com/ims/metrics/collections/time-spent/def-456",
			"type": "TimebackTimeSpentMetricsCollection",
			"items": [{"type": "active", "value": 15}]},
		"extensions": {"runId": "f47ac10b-58cc-4372-a567-0e02b2c3d479", "courseId": "MATH-3"}}]}`
	req := httptest.NewRequest("POST", "/caliper/event", strings.NewReader(envelope))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer example-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, http.StatusText(rec.Code))
	fmt.Print(rec.Body.String())
	// Output:
	// 200 OK
	// {"jobId":"job-1","eventsAccepted":1,"duplicates":0,"warnings":[]}
}
