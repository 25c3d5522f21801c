package sender_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/storetest"
	"github.com/timeback/timeback-go/internal/testbin"
	"github.com/timeback/timeback-go/sender"
)

// The test binary runs as a sending child process when childEnv is set, so
// that tests can kill a sender at any moment.
const (
	childEnv         = "TIMEBACK_SENDER_TEST_CHILD"
	childURLEnv      = "TIMEBACK_SENDER_TEST_URL"
	childOutboxEnv   = "TIMEBACK_SENDER_TEST_OUTBOX"
	childProgressEnv = "TIMEBACK_SENDER_TEST_PROGRESS"
	childTotalEnv    = "TIMEBACK_SENDER_TEST_TOTAL"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild sends the events from the count in the progress file up to the
// total, 50 per Send, appending the new count to the progress file after
// each Send returns, then flushes. A restarted child resumes from the last
// count, so events whose Send returned are never sent by a later child
// unless the child died before it wrote the count.
func runChild() error {
	total, err := strconv.Atoi(os.Getenv(childTotalEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", childTotalEnv, err)
	}
	progressPath := os.Getenv(childProgressEnv)
	next, err := readProgress(progressPath)
	if err != nil {
		return err
	}
	c, err := sender.New(sender.Config{
		Environment: os.Getenv(childURLEnv),
		OutboxPath:  os.Getenv(childOutboxEnv),
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  200 * time.Millisecond,
	})
	if err != nil {
		return err
	}

	progress, err := os.OpenFile(progressPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for next < total {
		n := min(50, total-next)
		events := make([]timeback.Event, n)
		for i := range events {
			if events[i], err = parseTimeSpent(next + i); err != nil {
				return err
			}
		}
		if err := c.Send(ctx, events...); err != nil {
			return err
		}
		next += n
		fmt.Fprintf(progress, "%d\n", next)
		if err := progress.Sync(); err != nil {
			return err
		}
	}

	flushCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.Flush(flushCtx); err != nil {
		return err
	}
	return c.Close(ctx)
}

// readProgress returns the last complete count of the progress file, 0
// when there is none.
func readProgress(path string) (int, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	lines := strings.Split(string(data), "\n")
	// The last element follows the last newline: empty, or a line that a
	// kill cut short.
	for i := len(lines) - 2; i >= 0; i-- {
		if n, err := strconv.Atoi(lines[i]); err == nil {
			return n, nil
		}
	}
	return 0, nil
}

// startChild starts the test binary as a sending child.
func startChild(t *testing.T, baseURL, outbox, progress string, total int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childURLEnv+"="+baseURL, childOutboxEnv+"="+outbox,
		childProgressEnv+"="+progress, childTotalEnv+"="+strconv.Itoa(total))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("child stderr:\n%s", stderr.String())
		}
	})
	return cmd
}

// storedIDs lists every event of the server and returns how often each id
// appears.
func storedIDs(t *testing.T, baseURL string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	cursor := ""
	for {
		q := url.Values{"limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		resp, err := http.Get(baseURL + "/caliper/events?" + q.Encode())
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		var page struct {
			Events []struct {
				ID string `json:"id"`
			} `json:"events"`
			Pagination struct {
				NextCursor string `json:"nextCursor"`
			} `json:"pagination"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("list events: status %d, %v", resp.StatusCode, err)
		}
		for _, ev := range page.Events {
			ids[ev.ID]++
		}
		if page.Pagination.NextCursor == "" {
			return ids
		}
		cursor = page.Pagination.NextCursor
	}
}

func checkStored(t *testing.T, baseURL string, total int) {
	t.Helper()
	ids := storedIDs(t, baseURL)
	if len(ids) != total {
		t.Errorf("server holds %d distinct ids, want %d", len(ids), total)
	}
	missing := 0
	for i := range total {
		switch n := ids[storetest.EventID(i)]; {
		case n == 0:
			missing++
		case n > 1:
			t.Errorf("event %s stored %d times", storetest.EventID(i), n)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d events missing on the server", missing, total)
	}
}

func TestKilledSenderLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts timeback serve and kills child processes")
	}
	// Children are killed at random moments until one finishes by itself
	// or maxKills have been killed; then the last one runs to the end.
	const total, maxKills = 5000, 20
	base := testbin.StartServer(t)
	dir := t.TempDir()
	outbox, progress := filepath.Join(dir, "outbox.db"), filepath.Join(dir, "progress")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("kill delays seeded with %d", seed)

	kills := 0
	for round := 0; ; round++ {
		child := startChild(t, base, outbox, progress, total)
		if round >= maxKills {
			if err := child.Wait(); err != nil {
				t.Fatalf("final child failed: %v", err)
			}
			break
		}
		exited := make(chan error, 1)
		go func() { exited <- child.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("child %d failed: %v", round, err)
			}
		case <-time.After(time.Duration(50+rng.IntN(400)) * time.Millisecond):
			child.Process.Kill()
			<-exited
			kills++
			sent, _ := readProgress(progress)
			t.Logf("killed child %d after %d events were accepted", round, sent)
			continue
		}
		break
	}
	sent, _ := readProgress(progress)
	t.Logf("killed %d children; sent %d events", kills, sent)
	if kills == 0 {
		t.Errorf("no child was killed before it finished; the test checked nothing about crashes")
	}
	checkStored(t, base, total)
}

func TestOutageEventsWaitOnDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: sends 20,000 events to timeback serve")
	}
	const total = 20000
	// The switch holds its port for the whole test and drops every
	// connection until it forwards to the server, so no other process can
	// take the port during the outage and receive the events.
	sw := newSwitch(t)
	c := newClient(t, sender.Config{
		Environment: sw.URL(),
		OutboxPath:  filepath.Join(t.TempDir(), "outbox.db"),
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  100 * time.Millisecond,
	})
	ctx := context.Background()

	send := func(from, to int) {
		for i := from; i < to; i += 500 {
			if err := c.Send(ctx, newEvents(t, i, 500)...); err != nil {
				t.Fatalf("Send(events %d-%d) while the server is down: %v", i, i+499, err)
			}
		}
	}
	send(0, 2000)
	before := heapInUse()
	send(2000, total)
	after := heapInUse()

	// 18,000 events of about 870 bytes each are 16 MB of JSON: a queue in
	// memory would grow the heap by at least that much.
	eventSize, _ := newEvent(t, 0).MarshalJSON()
	queuedBytes := int64(len(eventSize)) * (total - 2000)
	growth := int64(after) - int64(before)
	t.Logf("heap grew by %d bytes while %d bytes of events were queued", growth, queuedBytes)
	if growth > queuedBytes/4 {
		t.Errorf("heap grew by %d bytes while 18,000 events (%d bytes) were queued, want under a quarter",
			growth, queuedBytes)
	}
	st := c.Stats()
	if st.Delivered != 0 || st.Queued+st.InFlight != total {
		t.Errorf("Stats() while the server is down = %+v, want %d queued and none delivered", st, total)
	}
	if got := sw.Dropped(); got == 0 {
		t.Errorf("the switch dropped no connection during the outage; the sender did not retry")
	}

	srv := testbin.Start(t)
	sw.Forward(srv.Addr)
	flushCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.Flush(flushCtx); err != nil {
		t.Fatalf("Flush after the server returned: %v", err)
	}
	checkStored(t, srv.URL, total)
}

// tcpSwitch is a TCP proxy on a loopback port of its own. Until Forward is
// called it closes every connection it accepts, as a server that is down;
// then it forwards each connection to the target address.
type tcpSwitch struct {
	ln      net.Listener
	target  atomic.Pointer[string]
	dropped atomic.Int64
}

func newSwitch(t *testing.T) *tcpSwitch {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sw := &tcpSwitch{ln: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go sw.handle(conn)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return sw
}

// URL returns the base URL of the switch.
func (sw *tcpSwitch) URL() string { return "http://" + sw.ln.Addr().String() }

// Forward sends the connections accepted from now on to addr.
func (sw *tcpSwitch) Forward(addr string) { sw.target.Store(&addr) }

// Dropped counts the connections closed while no target was set.
func (sw *tcpSwitch) Dropped() int64 { return sw.dropped.Load() }

func (sw *tcpSwitch) handle(conn net.Conn) {
	defer conn.Close()
	target := sw.target.Load()
	if target == nil {
		sw.dropped.Add(1)
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // reset, as a closed port does
		}
		return
	}
	up, err := net.Dial("tcp", *target)
	if err != nil {
		return
	}
	defer up.Close()
	copied := make(chan struct{}, 2)
	go func() { io.Copy(up, conn); copied <- struct{}{} }()
	go func() { io.Copy(conn, up); copied <- struct{}{} }()
	<-copied
}

func TestCloseExpiredNextProcessDelivers(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts timeback serve")
	}
	base := testbin.StartServer(t)
	outbox := filepath.Join(t.TempDir(), "outbox.db")
	c := queuedClient(t, sender.Config{Environment: base, OutboxPath: outbox, Linger: time.Hour}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Close(ctx); err == nil || !strings.Contains(err.Error(), "100 events left") {
		t.Errorf("Close(expired) = %v, want 100 events left", err)
	}
	if got := len(storedIDs(t, base)); got != 0 {
		t.Fatalf("server holds %d events before the next process, want 0", got)
	}

	child := startChild(t, base, outbox, filepath.Join(t.TempDir(), "progress"), 0)
	if err := child.Wait(); err != nil {
		t.Fatalf("next process failed: %v", err)
	}
	checkStored(t, base, 100)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func TestResetAfterServeStoredNoDuplicate(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts timeback serve")
	}
	base := testbin.StartServer(t)
	// The proxy forwards each envelope to timeback serve, which stores it,
	// then drops the connection of the first two without the reply.
	var resets atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		resp, err := http.Post(base+r.URL.Path, r.Header.Get("Content-Type"), bytes.NewReader(body))
		if err != nil {
			t.Errorf("proxy: %v", err)
			return
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resets.Add(1) <= 2 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		w.Write(reply)
	}))
	defer proxy.Close()

	c := newClient(t, sender.Config{
		Environment: proxy.URL,
		OutboxPath:  filepath.Join(t.TempDir(), "outbox.db"),
		MinBackoff:  time.Millisecond,
		MaxBackoff:  10 * time.Millisecond,
	})
	if err := c.Send(context.Background(), newEvents(t, 0, 20)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	if got := resets.Load(); got < 3 {
		t.Errorf("%d posts through the proxy, want at least 3 (two reset, one with a reply)", got)
	}
	if got := c.Stats().Retried; got < 40 {
		t.Errorf("Stats().Retried = %d, want at least 40 (20 events retried twice)", got)
	}
	checkStored(t, base, 20)
}

func TestWaitForJobWithServe(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts timeback serve")
	}
	base := testbin.StartServer(t)
	jobs := make(chan string, 10)
	c := newClient(t, sender.Config{
		Environment: base,
		OutboxPath:  filepath.Join(t.TempDir(), "outbox.db"),
		OnDelivered: func(d sender.Delivery) { jobs <- d.JobID },
	})
	if err := c.Send(context.Background(), newEvents(t, 0, 3)...); err != nil {
		t.Fatalf("Send: %v", err)
	}
	flush(t, c)

	jobID := <-jobs
	if jobID == "" {
		t.Fatal("Delivery.JobID is empty; timeback serve returns a jobId")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job, err := c.WaitForJob(ctx, jobID)
	if err != nil {
		t.Fatalf("WaitForJob(%s): %v", jobID, err)
	}
	if job.State != sender.JobCompleted || len(job.Results) != 3 {
		t.Fatalf("job = %+v, want completed with 3 results", job)
	}
	for i, r := range job.Results {
		if r.ExternalID != storetest.EventID(i) {
			t.Errorf("job result %d externalId = %s, want %s", i, r.ExternalID, storetest.EventID(i))
		}
	}
}
