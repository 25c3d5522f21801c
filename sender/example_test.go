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
	event, err := buildEvent(1)
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
