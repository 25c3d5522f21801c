package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testbin"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/sqlite"
)

// runWith runs the CLI in-process with ctx and returns its exit status and
// output.
func runWith(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(ctx, env{strings.NewReader(""), &stdout, &stderr}, args)
	return code, stdout.String(), stderr.String()
}

// sendEventJSON returns the product page's TimeSpentEvent with the id
// storetest.EventID(i) on one line, as NDJSON needs it.
func sendEventJSON(t *testing.T, i int) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(testkit.TimeSpent(storetest.EventID(i)))); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func writeSendFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func eventStored(t *testing.T, base, id string) bool {
	t.Helper()
	resp, err := http.Get(base + "/caliper/events/" + id)
	if err != nil {
		t.Fatalf("get event %s: %v", id, err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestSendDeliversFiles(t *testing.T) {
	base := testbin.StartServer(t)
	dir := t.TempDir()
	files := []string{
		writeSendFile(t, dir, "event.json", sendEventJSON(t, 0)),
		writeSendFile(t, dir, "envelope.json", testkit.Envelope(sendEventJSON(t, 1), sendEventJSON(t, 2))),
		writeSendFile(t, dir, "events.ndjson", sendEventJSON(t, 3)+"\n"+sendEventJSON(t, 4)+"\n\n"+
			sendEventJSON(t, 5)+"\n"),
		writeSendFile(t, dir, "array.json", "["+sendEventJSON(t, 6)+","+sendEventJSON(t, 7)+"]"),
	}
	outbox := filepath.Join(dir, "outbox.db")

	args := append([]string{"send", "--endpoint", base, "--outbox", outbox}, files...)
	code, stdout, stderr := runWith(context.Background(), args...)
	if code != exitOK {
		t.Fatalf("send exited %d, want 0; stderr:\n%s", code, stderr)
	}
	if want := "timeback send: 8 events: 8 delivered, 0 dead-lettered\n"; stdout != want {
		t.Errorf("send stdout = %q, want %q", stdout, want)
	}
	for i := range 8 {
		if !eventStored(t, base, storetest.EventID(i)) {
			t.Errorf("event %s not stored on the server", storetest.EventID(i))
		}
	}
}

func TestSendInvalidInputQueuesNothing(t *testing.T) {
	base := testbin.StartServer(t)
	dir := t.TempDir()
	good := writeSendFile(t, dir, "good.json", sendEventJSON(t, 0))
	bad := writeSendFile(t, dir, "bad.ndjson", sendEventJSON(t, 1)+"\n"+`{"id":"urn:uuid:x","type":"Event"}`+"\n")
	outbox := filepath.Join(dir, "outbox.db")

	code, _, stderr := runWith(context.Background(), "send", "--endpoint", base, "--outbox", outbox, good, bad)
	if code != exitFailure {
		t.Errorf("send with an invalid event exited %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "bad.ndjson:2: invalid") || !strings.Contains(stderr, "nothing was queued") {
		t.Errorf("stderr does not name bad.ndjson:2 and say nothing was queued:\n%s", stderr)
	}
	if eventStored(t, base, storetest.EventID(0)) {
		t.Errorf("event of the valid file was sent although another file is invalid")
	}
	if _, err := os.Stat(outbox); err == nil {
		t.Errorf("outbox %s was created for a rejected run", outbox)
	}
}

func TestSendUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := writeSendFile(t, dir, "event.json", sendEventJSON(t, 0))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no destination", []string{file}, "give --endpoint URL or --env"},
		{"both destinations", []string{"--endpoint", "http://127.0.0.1:1", "--env", "staging", file},
			"both given"},
		{"bad env", []string{"--env", "prod", file}, `--env "prod"`},
		{"token and client id", []string{"--endpoint", "http://127.0.0.1:1", "--token", "t",
			"--client-id", "c", file}, "--token and --client-id"},
		{"client id without secret", []string{"--endpoint", "http://127.0.0.1:1", "--client-id", "c", file},
			"--client-secret-file"},
		{"missing secret file", []string{"--endpoint", "http://127.0.0.1:1", "--client-id", "c",
			"--client-secret-file", filepath.Join(dir, "none"), "--token-url", "http://127.0.0.1:1/t", file},
			"read --client-secret-file"},
		{"missing file", []string{"--endpoint", "http://127.0.0.1:1", "--outbox", filepath.Join(dir, "o.db"),
			filepath.Join(dir, "missing.json")}, "missing.json"},
		{"unknown flag", []string{"--endpoit", "http://127.0.0.1:1", file}, "flag provided but not defined"},
		{"stdin twice", []string{"--endpoint", "http://127.0.0.1:1", "-", "-"}, `"-" is given more than once`},
		{"empty outbox", []string{"--endpoint", "http://127.0.0.1:1", "--outbox", "", file}, "--outbox is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runWith(context.Background(), append([]string{"send"}, tt.args...)...)
			if code != exitUsage {
				t.Errorf("send %v exited %d, want %d", tt.args, code, exitUsage)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("send %v stderr does not contain %q:\n%s", tt.args, tt.want, stderr)
			}
		})
	}
}

// rejectingEndpoint replies 400 to every envelope.
func rejectingEndpoint(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"error","message":"invalid envelope","errors":[{"path":"/sensor","message":"not allowed"}]}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestSendDeadLetterThenRetry(t *testing.T) {
	dir := t.TempDir()
	file := writeSendFile(t, dir, "event.json", sendEventJSON(t, 0))
	outbox := filepath.Join(dir, "outbox.db")
	ctx := context.Background()

	code, stdout, stderr := runWith(ctx, "send", "--endpoint", rejectingEndpoint(t).URL, "--outbox", outbox, file)
	if code != exitFailure {
		t.Errorf("send to a rejecting endpoint exited %d, want %d", code, exitFailure)
	}
	if want := "1 event: 0 delivered, 1 dead-lettered"; !strings.Contains(stdout, want) {
		t.Errorf("send stdout = %q, want it to contain %q", stdout, want)
	}
	if !strings.Contains(stderr, "timeback outbox dead --outbox "+outbox) {
		t.Errorf("send stderr does not point at timeback outbox dead:\n%s", stderr)
	}

	// Sending the file again queues no second copy of the dead letter.
	code, stdout, stderr = runWith(ctx, "send", "--endpoint", rejectingEndpoint(t).URL, "--outbox", outbox, file)
	if code != exitFailure || !strings.Contains(stdout, "1 event: 0 delivered, 1 dead-lettered") {
		t.Errorf("send of a dead-lettered event exited %d with %q, want %d and 1 dead-lettered", code, stdout,
			exitFailure)
	}
	if want := "already dead-lettered by an earlier run"; !strings.Contains(stderr, want) {
		t.Errorf("send of a dead-lettered event: stderr does not contain %q:\n%s", want, stderr)
	}

	code, stdout, _ = runWith(ctx, "outbox", "dead", "--outbox", outbox)
	if code != exitOK || !strings.Contains(stdout, storetest.EventID(0)) || !strings.Contains(stdout, "400 invalid envelope") {
		t.Errorf("outbox dead exited %d with %q, want the event id and the 400 message", code, stdout)
	}
	code, stdout, _ = runWith(ctx, "outbox", "stats", "--outbox", outbox)
	if code != exitOK || !strings.Contains(stdout, "dead letters:  1") || !strings.Contains(stdout, "queued:        0 events") {
		t.Errorf("outbox stats exited %d with:\n%s", code, stdout)
	}
	code, stdout, _ = runWith(ctx, "outbox", "retry", "--outbox", outbox)
	if code != exitOK || !strings.Contains(stdout, "requeued 1 dead letters") {
		t.Errorf("outbox retry exited %d with %q, want 1 requeued", code, stdout)
	}

	// Resuming with no files fails when the endpoint rejects the requeued
	// event again.
	code, stdout, _ = runWith(ctx, "send", "--endpoint", rejectingEndpoint(t).URL, "--outbox", outbox)
	if want := "earlier runs: 0 delivered, 1 dead-lettered"; code != exitFailure || !strings.Contains(stdout, want) {
		t.Errorf("resumed send to a rejecting endpoint exited %d with %q, want %d and %q", code, stdout,
			exitFailure, want)
	}
	if code, _, _ = runWith(ctx, "outbox", "retry", "--outbox", outbox); code != exitOK {
		t.Fatalf("second outbox retry exited %d", code)
	}

	base := testbin.StartServer(t)
	code, stdout, stderr = runWith(ctx, "send", "--endpoint", base, "--outbox", outbox)
	if code != exitOK {
		t.Fatalf("send of the requeued event exited %d; stderr:\n%s", code, stderr)
	}
	if want := "earlier runs: 1 delivered, 0 dead-lettered"; !strings.Contains(stdout, want) {
		t.Errorf("send stdout = %q, want it to contain %q", stdout, want)
	}
	if !eventStored(t, base, storetest.EventID(0)) {
		t.Errorf("requeued event not stored")
	}
}

func TestOutboxRetryUnknownID(t *testing.T) {
	dir := t.TempDir()
	file := writeSendFile(t, dir, "event.json", sendEventJSON(t, 0))
	outbox := filepath.Join(dir, "outbox.db")
	ctx := context.Background()
	if code, _, stderr := runWith(ctx, "send", "--endpoint", rejectingEndpoint(t).URL, "--outbox", outbox,
		file); code != exitFailure {
		t.Fatalf("send to a rejecting endpoint exited %d, want %d; stderr:\n%s", code, exitFailure, stderr)
	}

	code, stdout, stderr := runWith(ctx, "outbox", "retry", "--outbox", outbox, "--id", "urn:uuid:unknown",
		"--id", storetest.EventID(0))
	if code != exitFailure {
		t.Errorf("outbox retry with an unknown id exited %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "urn:uuid:unknown") {
		t.Errorf("outbox retry stderr does not name the unknown id:\n%s", stderr)
	}
	if !strings.Contains(stdout, "requeued 1 dead letters") {
		t.Errorf("outbox retry stdout = %q, want the known id requeued", stdout)
	}
}

func TestSendInterruptedLeavesEvents(t *testing.T) {
	dir := t.TempDir()
	file := writeSendFile(t, dir, "envelope.json", testkit.Envelope(sendEventJSON(t, 0), sendEventJSON(t, 1), sendEventJSON(t, 2)))
	outbox := filepath.Join(dir, "outbox.db")
	// The endpoint interrupts send, as Ctrl-C would, once the first post
	// arrives, and never replies.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a closed connection only after the body is read.
		io.Copy(io.Discard, r.Body)
		cancel()
		<-r.Context().Done()
	}))
	defer hanging.Close()

	code, stdout, stderr := runWith(ctx, "send", "--endpoint", hanging.URL, "--outbox", outbox, file)
	if code != exitFailure {
		t.Errorf("interrupted send exited %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stdout, "3 left in the outbox") || !strings.Contains(stderr, "to resume") {
		t.Errorf("interrupted send output does not report 3 events left and how to resume:\n%s%s", stdout, stderr)
	}
	code, stdout, _ = runWith(context.Background(), "outbox", "stats", "--outbox", outbox, "--json")
	if code != exitOK || !strings.Contains(stdout, `"queued":3`) {
		t.Errorf("outbox stats --json = %d %q, want 3 queued", code, stdout)
	}

	// Sending the same file again delivers the queued copies and queues no
	// second one, and the summary counts each event once.
	base := testbin.StartServer(t)
	code, stdout, stderr = runWith(context.Background(), "send", "--endpoint", base, "--outbox", outbox, file)
	if code != exitOK {
		t.Fatalf("send after the interruption exited %d; stderr:\n%s", code, stderr)
	}
	if want := "timeback send: 3 events: 3 delivered, 0 dead-lettered\n"; stdout != want {
		t.Errorf("send after the interruption printed %q, want %q", stdout, want)
	}
	if want := "3 events already in the outbox"; !strings.Contains(stderr, want) {
		t.Errorf("send after the interruption: stderr does not contain %q:\n%s", want, stderr)
	}
	code, stdout, _ = runWith(context.Background(), "outbox", "stats", "--outbox", outbox, "--json")
	if code != exitOK || !strings.Contains(stdout, `"queued":0`) || !strings.Contains(stdout, `"dead":0`) {
		t.Errorf("outbox stats --json after delivery = %d %q, want nothing queued or dead", code, stdout)
	}
}

func TestSendOAuth(t *testing.T) {
	var mu sync.Mutex
	fetched := 0
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != "app" || secret != "s3cret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		fetched++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokens.Close()
	base := testbin.StartServer(t, "--token", "tok")
	dir := t.TempDir()
	file := writeSendFile(t, dir, "event.json", sendEventJSON(t, 0))
	secret := writeSendFile(t, dir, "secret", "s3cret\n")

	code, _, stderr := runWith(context.Background(), "send", "--endpoint", base, "--outbox",
		filepath.Join(dir, "outbox.db"), "--client-id", "app", "--client-secret-file", secret,
		"--token-url", tokens.URL+"/oauth2/token", file)
	if code != exitOK {
		t.Fatalf("send with OAuth2 exited %d; stderr:\n%s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if fetched != 1 {
		t.Errorf("token endpoint called %d times, want 1", fetched)
	}
}

func TestSendTokenRejectedStops(t *testing.T) {
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
	}))
	defer tokens.Close()
	base := testbin.StartServer(t, "--token", "tok")
	dir := t.TempDir()
	file := writeSendFile(t, dir, "event.json", sendEventJSON(t, 0))
	secret := writeSendFile(t, dir, "secret", "wrong-secret\n")
	outbox := filepath.Join(dir, "outbox.db")

	// Without the stop, send retries the token request forever and the
	// context ends the run instead.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, _, stderr := runWith(ctx, "send", "--endpoint", base, "--outbox", outbox, "--client-id", "app",
		"--client-secret-file", secret, "--token-url", tokens.URL+"/oauth2/token", file)
	if ctx.Err() != nil {
		t.Fatalf("send kept retrying a token endpoint that rejects the credentials; stderr:\n%s", stderr)
	}
	if code != exitFailure {
		t.Errorf("send with rejected credentials exited %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "401") || !strings.Contains(stderr, "--outbox "+outbox) {
		t.Errorf("stderr does not give the token endpoint's reply and how to resume:\n%s", stderr)
	}
	if strings.Contains(stderr, "wrong-secret") {
		t.Errorf("stderr contains the client secret:\n%s", stderr)
	}
	code, stdout, _ := runWith(context.Background(), "outbox", "stats", "--outbox", outbox)
	if code != exitOK || !strings.Contains(stdout, "queued:        1 event,") {
		t.Errorf("outbox stats after the stop = %d %q, want the event still queued", code, stdout)
	}
}

func TestOutboxUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"outbox"}, exitUsage, "give one action"},
		{[]string{"outbox", "purge", "--outbox", filepath.Join(dir, "o.db")}, exitUsage, `unknown action "purge"`},
		{[]string{"outbox", "stats", "--id", "x"}, exitUsage, "--id applies to retry only"},
		{[]string{"outbox", "dead", "--limit", "-1"}, exitUsage, "--limit -1"},
		{[]string{"outbox", "stats", "--outbox", ""}, exitUsage, "--outbox is empty"},
		{[]string{"outbox", "stats", "--outbox", filepath.Join(dir, "missing.db")}, exitFailure, "missing.db"},
	}
	for _, tt := range tests {
		code, _, stderr := runWith(context.Background(), tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v exited %d with %q, want %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

func TestOutboxLockedBySender(t *testing.T) {
	dir := t.TempDir()
	outbox := filepath.Join(dir, "outbox.db")
	code, _, _ := runWith(context.Background(), "send", "--endpoint", rejectingEndpoint(t).URL, "--outbox", outbox,
		writeSendFile(t, dir, "e.json", sendEventJSON(t, 0)))
	if code != exitFailure {
		t.Fatalf("send exited %d, want %d", code, exitFailure)
	}
	held, err := sqlite.OpenOutbox(context.Background(), outbox)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	code, _, stderr := runWith(context.Background(), "outbox", "stats", "--outbox", outbox)
	if code != exitFailure || !strings.Contains(stderr, "locked by another process") {
		t.Errorf("outbox stats on a locked outbox exited %d with %q, want a lock error", code, stderr)
	}
}

func TestSendTooLargeEventQueuesNothing(t *testing.T) {
	dir := t.TempDir()
	small := writeSendFile(t, dir, "small.json", sendEventJSON(t, 0))
	big := testkit.Replace(sendEventJSON(t, 1), `"My App"`, `"`+strings.Repeat("x", 2<<20)+`"`)
	large := writeSendFile(t, dir, "large.json", big)
	outbox := filepath.Join(dir, "outbox.db")

	code, _, stderr := runWith(context.Background(), "send", "--endpoint", rejectingEndpoint(t).URL,
		"--outbox", outbox, small, large)
	if code != exitFailure {
		t.Errorf("send with a 2 MiB event exited %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "is too large") || !strings.Contains(stderr, "nothing was queued") {
		t.Errorf("stderr does not report the large event and that nothing was queued:\n%s", stderr)
	}
	// The large event is the second of the inputs; the message gives that
	// position only, not the index of a Check call as well.
	if !strings.Contains(stderr, "event 2 of the inputs (") || strings.Contains(stderr, "sender: event 0") {
		t.Errorf("stderr does not name the large event by its position among the inputs:\n%s", stderr)
	}
	code, stdout, _ := runWith(context.Background(), "outbox", "stats", "--outbox", outbox)
	if code != exitOK || !strings.Contains(stdout, "queued:        0 events") {
		t.Errorf("outbox stats after the rejected run = %d %q, want 0 queued", code, stdout)
	}
}

func TestSendRepeatedEvents(t *testing.T) {
	base := testbin.StartServer(t)
	dir := t.TempDir()
	event := sendEventJSON(t, 0)
	a := writeSendFile(t, dir, "a.json", event)
	b := writeSendFile(t, dir, "b.ndjson", event+"\n"+sendEventJSON(t, 1)+"\n")

	code, stdout, stderr := runWith(context.Background(), "send", "--endpoint", base, "--outbox",
		filepath.Join(dir, "outbox.db"), a, b)
	if code != exitOK {
		t.Fatalf("send exited %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "skipped 1 repeated copies") {
		t.Errorf("stderr does not report the repeated event:\n%s", stderr)
	}
	if want := "2 events: 2 delivered"; !strings.Contains(stdout, want) {
		t.Errorf("stdout = %q, want it to contain %q", stdout, want)
	}

	other := testkit.Replace(event, `"My App"`, `"Other App"`)
	c := writeSendFile(t, dir, "c.json", other)
	code, _, stderr = runWith(context.Background(), "send", "--endpoint", base, "--outbox",
		filepath.Join(dir, "outbox2.db"), a, c)
	if code != exitFailure || !strings.Contains(stderr, "appears twice with different content") {
		t.Errorf("send of one id with two contents exited %d with %q, want a conflict error", code, stderr)
	}
}
