package sender_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/sender"
)

func ExampleClient_Send() {
	// A stand-in for timeback serve that accepts every envelope.
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, `{"jobId":"job-1"}`)
	}))
	defer endpoint.Close()
	dir, err := os.MkdirTemp("", "outbox")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	client, err := sender.New(sender.Config{
		Environment: endpoint.URL,
		OutboxPath:  filepath.Join(dir, "outbox.db"),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	event, err := timeback.NewTimeSpent(timeback.Common{
		ID:        "urn:uuid:a1b2c3d4-e5f6-7890-abcd-ef1234567890",
		EventTime: time.Date(2026, 1, 27, 10, 0, 15, 0, time.UTC),
		Actor: timeback.User{
			ID:    "https://api.example.com/ims/oneroster/rostering/v1p2/users/student-123",
			Email: "student-123@example.com",
		},
		Object: timeback.ActivityContext{
			ID:      "https://myapp.example.com/activities/Math/g3/lesson-1",
			Subject: timeback.SubjectMath,
			AppName: "My App",
		},
	}, timeback.TimeItem{Type: timeback.TimeActive, Seconds: 15})
	if err != nil {
		log.Fatal(err)
	}
	// Send returns once the event is on disk; delivery happens in the
	// background.
	if err := client.Send(ctx, event); err != nil {
		log.Fatal(err)
	}
	if err := client.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivered:", client.Stats().Delivered)
	// Output: delivered: 1
}
