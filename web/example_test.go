package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/oneroster"
	"github.com/timeback/timeback-go/web"
)

// printSink prints the type of each event instead of sending it.
type printSink struct{}

func (printSink) Send(_ context.Context, events ...timeback.Event) error {
	for _, e := range events {
		switch e := e.(type) {
		case *timeback.TimeSpent:
			fmt.Printf("TimeSpentEvent: %v s active\n", e.Items[0].Seconds)
		case *timeback.ActivityCompleted:
			fmt.Printf("ActivityEvent: %v XP\n", e.Metrics.XPEarned)
		}
	}
	return nil
}

func ExampleNew() {
	student := timeback.User{
		ID:    "https://roster.example.com/ims/oneroster/rostering/v1p2/users/student-1",
		Email: "student@example.com",
	}
	now := time.Date(2026, 1, 27, 10, 0, 0, 0, time.UTC)
	h, err := web.New(web.Config{
		Resolver: oneroster.Static{Users: []timeback.User{student}},
		Sink:     printSink{},
		AppName:  "My App",
		Now:      func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle(h.Prefix()+"/", h)

	post := func(path, body string) map[string]any {
		req := httptest.NewRequest("POST", "http://app.example.com/api/timeback"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var reply map[string]any
		json.Unmarshal(rec.Body.Bytes(), &reply)
		return reply
	}
	start := post("/activity/start", `{"activity": {"id": "lesson-1", "subject": "Math"}, "course": {"id": "MATH-3"}}`)
	runID := start["runId"].(string)

	// The browser claims 90 s of a 60 s window; the guard counts 62 s.
	now = now.Add(time.Minute)
	post("/activity/heartbeat", `{"runId": "`+runID+`", "seq": 1, "activeMs": 90000, "inactiveMs": 0}`)

	now = now.Add(time.Minute)
	end := post("/activity/end", `{"runId": "`+runID+`", "seq": 2, "activeMs": 58000, "inactiveMs": 0,
		"metrics": {"totalQuestions": 10, "correctQuestions": 10}}`)
	fmt.Println("state:", end["state"])
	// Output:
	// TimeSpentEvent: 62 s active
	// TimeSpentEvent: 58 s active
	// ActivityEvent: 2.5 XP
	// state: completed
}
