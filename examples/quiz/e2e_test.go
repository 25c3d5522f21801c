package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/browsertest"
	"github.com/timeback/timeback-go/internal/testbin"
	"github.com/timeback/timeback-go/internal/testkit"
)

// Intervals of the browser client in the end-to-end test, short so that
// the test takes seconds.
const (
	testHeartbeat     = 250 * time.Millisecond
	testHiddenTimeout = 700 * time.Millisecond
	// testLeeway is below the time hidden past the timeout, so that the
	// untracked time shows as a gap between windows.
	testLeeway = 500 * time.Millisecond
)

// newBrowser starts headless Chromium from alloc and returns a context for
// its first tab, a blank one that outlives the quiz tabs.
func newBrowser(t *testing.T, alloc context.Context) context.Context {
	t.Helper()
	browserCtx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browserCtx
}

// setWindowState minimizes or restores the tab's window, which makes the
// page hidden or visible.
func setWindowState(ctx context.Context, state browser.WindowState) error {
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		w, err := cdp.Call(ctx, tab, browser.GetWindowForTarget, browser.GetWindowForTargetParams{})
		if err != nil {
			return err
		}
		_, err = cdp.Call(ctx, tab, browser.SetWindowBounds, browser.SetWindowBoundsParams{
			WindowID: w.WindowID, Bounds: &browser.Bounds{WindowState: state}})
		return err
	}))
}

// pageState is window.quizState of the page.
type pageState struct {
	RunID   string            `json:"runId"`
	Flushes []json.RawMessage `json:"flushes"`
	Errors  []string          `json:"errors"`
}

func readState(t *testing.T, tab context.Context) pageState {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[pageState](`window.quizState`))
	if err != nil {
		t.Fatalf("read quizState: %v", err)
	}
	return s
}

// clientState returns the state of the page's Activity: running, stopped
// (hidden past the timeout) or ended.
func clientState(t *testing.T, tab context.Context) string {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[string](`window.quizActivity.state`))
	if err != nil {
		t.Fatalf("read the client state: %v", err)
	}
	return v
}

// pendingMessages returns the heartbeats the client has not had accepted.
func pendingMessages(t *testing.T, tab context.Context) int {
	t.Helper()
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`window.quizActivity.pending.length`))
	if err != nil {
		t.Fatalf("read the pending heartbeats: %v", err)
	}
	return n
}

func visibility(t *testing.T, tab context.Context) string {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.visibilityState`))
	if err != nil {
		t.Fatalf("read visibilityState: %v", err)
	}
	return v
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storedEvents lists every event of actor that the endpoint at base
// stored, following the cursor.
func storedEvents(t *testing.T, base, actor string) []timeback.Event {
	t.Helper()
	var out []timeback.Event
	query := url.Values{"actorId": {actor}, "limit": {"100"}}
	for _, raw := range testkit.ListEvents(t, base, "", query) {
		ev, problems := timeback.ParseEvent(raw)
		if len(problems) > 0 {
			t.Fatalf("stored event does not parse: %v\n%s", problems, raw)
		}
		out = append(out, ev)
	}
	return out
}

// quizSite is the quiz app on an httptest server, sending to a real
// timeback serve.
type quizSite struct {
	app      *app
	url      string
	endpoint string
	logs     *testkit.LogBuffer

	handler atomic.Pointer[http.Handler] // the app the site serves
	apps    []*app                       // every app started, the current one last
	// failHeartbeats makes the site reply 503 to heartbeats, so that the
	// page queues them.
	failHeartbeats atomic.Bool
}

// testActor is the actor id of the quiz's static student in the tests.
const testActor = "https://roster.example.com/ims/oneroster/rostering/v1p2/users/student-1"

func startQuiz(t *testing.T) *quizSite {
	t.Helper()
	q := &quizSite{endpoint: testbin.StartServer(t), logs: &testkit.LogBuffer{}}
	q.newApp(t)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q.failHeartbeats.Load() && strings.HasSuffix(r.URL.Path, "/activity/heartbeat") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status":"error","message":"unavailable in the test"}`)
			return
		}
		(*q.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		site.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, a := range q.apps {
			a.close(ctx)
		}
		if t.Failed() {
			t.Logf("quiz log:\n%s", q.logs.String())
		}
	})
	q.url = site.URL
	return q
}

// openQuiz starts the quiz, opens its page in a new Chromium tab and
// waits until the page has started a run. It returns the site, the tab, the
// run id and the time just before the page opened. The tab closes when the
// test ends.
func openQuiz(t *testing.T) (q *quizSite, tab context.Context, runID string, opened time.Time) {
	t.Helper()
	alloc := browsertest.Allocator(t)
	q = startQuiz(t)
	tab, closeTab := chromedp.NewContext(newBrowser(t, alloc))
	t.Cleanup(closeTab)
	opened = time.Now()
	if err := chromedp.Do(tab, chromedp.Navigate(q.pageURL())); err != nil {
		t.Fatalf("open quiz: %v", err)
	}
	waitFor(t, 10*time.Second, "the run to start", func() bool { return readState(t, tab).RunID != "" })
	return q, tab, readState(t, tab).RunID, opened
}

// newApp starts a quiz app with its own outbox and memory of runs, and
// serves it from then on, as a restart of the quiz process would.
func (q *quizSite) newApp(t *testing.T) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(q.logs, nil))
	a, err := newApp(config{
		endpoint:   q.endpoint,
		outbox:     filepath.Join(t.TempDir(), "outbox.db"),
		student:    "student@example.com",
		studentID:  "student-1",
		rosterBase: "https://roster.example.com",
		leeway:     testLeeway,
	}, logger)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	q.app = a
	q.apps = append(q.apps, a)
	q.handler.Store(&a.handler)
}

// pageURL returns the quiz page with the test's short intervals.
func (q *quizSite) pageURL() string {
	return fmt.Sprintf("%s/?heartbeatMs=%d&hiddenTimeoutMs=%d", q.url,
		testHeartbeat.Milliseconds(), testHiddenTimeout.Milliseconds())
}

// settle flushes the sender and returns the stored events once cond holds
// for them, and then once more after a pause, so that an event sent twice
// would be seen.
func (q *quizSite) settle(t *testing.T, what string, cond func([]timeback.Event) bool) []timeback.Event {
	t.Helper()
	flushed := func() []timeback.Event {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, a := range q.apps {
			a.sender.Flush(ctx)
		}
		return storedEvents(t, q.endpoint, testActor)
	}
	waitFor(t, 15*time.Second, what, func() bool { return cond(flushed()) })
	time.Sleep(500 * time.Millisecond)
	return flushed()
}

// answerAll answers the three questions correctly.
func answerAll(t *testing.T, tab context.Context) {
	t.Helper()
	for _, answer := range []string{"1/2", "3/4", "1/3"} {
		sel := fmt.Sprintf(`//div[@data-answer=%q]/button[text()=%q]`, answer, answer)
		if err := chromedp.Do(tab, chromedp.Click(sel)); err != nil {
			t.Fatalf("answer %s: %v", answer, err)
		}
	}
}

func hasCompletion(events []timeback.Event) bool {
	for _, ev := range events {
		if _, ok := ev.(*timeback.ActivityCompleted); ok {
			return true
		}
	}
	return false
}

func TestQuizInChromium(t *testing.T) {
	q, tab, runID, opened := openQuiz(t)

	answerAll(t, tab)
	waitFor(t, 5*time.Second, "two heartbeats", func() bool { return len(readState(t, tab).Flushes) >= 2 })

	// Hide the page past the hidden timeout: heartbeats stop. Chromium
	// throttles the timers of a hidden page to about one a second, so the
	// timeout fires up to a second late.
	if err := setWindowState(tab, browser.WindowStateMinimized); err != nil {
		t.Fatalf("minimize: %v", err)
	}
	waitFor(t, 5*time.Second, "the page to be hidden", func() bool { return visibility(t, tab) == "hidden" })
	waitFor(t, 10*time.Second, "heartbeats to stop", func() bool {
		return clientState(t, tab) == "stopped" && pendingMessages(t, tab) == 0
	})
	stoppedAt := time.Now()
	stopped := len(readState(t, tab).Flushes)
	time.Sleep(1500 * time.Millisecond)
	if got := len(readState(t, tab).Flushes); got != stopped {
		t.Errorf("heartbeats while hidden past the timeout: %d flushes, then %d", stopped, got)
	}

	// Return: a fresh window starts and heartbeats resume.
	if err := setWindowState(tab, browser.WindowStateNormal); err != nil {
		t.Fatalf("restore: %v", err)
	}
	returnedAt := time.Now()
	waitFor(t, 5*time.Second, "heartbeats after the return", func() bool {
		return len(readState(t, tab).Flushes) >= stopped+2
	})
	if errs := readState(t, tab).Errors; len(errs) > 0 {
		t.Errorf("client errors: %v", errs)
	}

	// Close the tab: pagehide sends the final flush with the quiz metrics.
	if err := chromedp.Cancel(tab); err != nil {
		t.Fatalf("close tab: %v", err)
	}
	closed := time.Now()

	events := q.settle(t, "the completion at the endpoint", hasCompletion)
	checkStoredRun(t, events, runID, opened, stoppedAt, returnedAt, closed)
}

// TestQuizReloadPauseFinish pauses and resumes a run, reloads the page
// (pagehide ends the first run without a completion and the new page starts
// a second), then finishes the second run with the Finish button and
// closes the tab, which must send nothing more.
func TestQuizReloadPauseFinish(t *testing.T) {
	q, tab, first, _ := openQuiz(t)

	const pause = 800 * time.Millisecond
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("pause"))); err != nil {
		t.Fatalf("pause: %v", err)
	}
	time.Sleep(pause)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("pause"))); err != nil {
		t.Fatalf("resume: %v", err)
	}
	waitFor(t, 5*time.Second, "a heartbeat after the resume", func() bool {
		return len(readState(t, tab).Flushes) >= 3
	})

	if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	waitFor(t, 10*time.Second, "the second run to start", func() bool {
		id := readState(t, tab).RunID
		return id != "" && id != first
	})
	second := readState(t, tab).RunID

	answerAll(t, tab)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("finish"))); err != nil {
		t.Fatalf("finish: %v", err)
	}
	waitFor(t, 10*time.Second, "the finish reply", func() bool {
		text, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("status")))
		return err == nil && text == "Done"
	})
	if err := chromedp.Cancel(tab); err != nil {
		t.Fatalf("close tab: %v", err)
	}

	events := q.settle(t, "the completion at the endpoint", hasCompletion)
	type runEvents struct {
		finals, completions int
		inactive            float64
	}
	runs := map[string]*runEvents{first: {}, second: {}}
	for _, ev := range events {
		switch e := ev.(type) {
		case *timeback.TimeSpent:
			r, ok := runs[e.RunID]
			if !ok {
				t.Errorf("event %s of unexpected run %q", e.ID, e.RunID)
				continue
			}
			if e.Extensions["finalFlush"] == true {
				r.finals++
			}
			for _, it := range e.Items {
				if it.Type == timeback.TimeInactive {
					r.inactive += it.Seconds
				}
			}
		case *timeback.ActivityCompleted:
			if r, ok := runs[e.RunID]; ok {
				r.completions++
			}
		}
	}
	if got := runs[first]; got.finals != 1 || got.completions != 0 {
		t.Errorf("reloaded run: %d final flushes and %d completions, want 1 and 0", got.finals, got.completions)
	}
	if got, want := runs[first].inactive, (pause - 2*testHeartbeat).Seconds(); got < want {
		t.Errorf("reloaded run: inactive %.3f s, want at least %.3f s for the pause", got, want)
	}
	if got := runs[second]; got.finals != 1 || got.completions != 1 {
		t.Errorf("finished run: %d final flushes and %d completions, want 1 and 1", got.finals, got.completions)
	}
	if errs := q.logs.String(); strings.Contains(errs, "level=ERROR") {
		t.Errorf("the quiz logged errors:\n%s", errs)
	}
}

func TestQuizSurvivesAppRestart(t *testing.T) {
	q, tab, runID, _ := openQuiz(t)
	waitFor(t, 5*time.Second, "a heartbeat", func() bool { return len(readState(t, tab).Flushes) >= 1 })

	// The quiz process restarts and loses the run, which MemoryRuns
	// keeps in memory only. The open page goes on with the same run.
	q.newApp(t)
	restarted := time.Now()
	flushes := len(readState(t, tab).Flushes)
	waitFor(t, 5*time.Second, "two heartbeats after the restart", func() bool {
		return len(readState(t, tab).Flushes) >= flushes+2
	})

	answerAll(t, tab)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("finish"))); err != nil {
		t.Fatalf("finish: %v", err)
	}
	waitFor(t, 10*time.Second, "the finish reply", func() bool {
		text, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("status")))
		return err == nil && text == "Done"
	})

	events := q.settle(t, "the completion at the endpoint", hasCompletion)
	var afterRestart, completions int
	for _, ev := range events {
		switch e := ev.(type) {
		case *timeback.TimeSpent:
			if e.RunID == runID && e.EventTime.After(restarted) {
				afterRestart++
			}
		case *timeback.ActivityCompleted:
			if e.RunID == runID {
				completions++
			}
		}
	}
	if afterRestart < 2 {
		t.Errorf("%d windows of run %s after the restart, want at least 2", afterRestart, runID)
	}
	if completions != 1 {
		t.Errorf("%d completions of run %s, want 1", completions, runID)
	}
}

func TestQuizPagehideCarriesQueuedTime(t *testing.T) {
	q, tab, runID, _ := openQuiz(t)
	waitFor(t, 5*time.Second, "a heartbeat", func() bool { return len(readState(t, tab).Flushes) >= 1 })

	// Heartbeats fail while the tab is open, then the tab closes: the
	// final flush must carry the time of the queued heartbeats too.
	q.failHeartbeats.Store(true)
	failFrom := time.Now()
	waitFor(t, 5*time.Second, "queued heartbeats", func() bool { return pendingMessages(t, tab) >= 3 })
	failed := time.Since(failFrom)
	if err := chromedp.Cancel(tab); err != nil {
		t.Fatalf("close tab: %v", err)
	}

	events := q.settle(t, "the final flush at the endpoint", func(events []timeback.Event) bool {
		for _, ev := range events {
			if e, ok := ev.(*timeback.TimeSpent); ok && e.RunID == runID && e.Extensions["finalFlush"] == true {
				return true
			}
		}
		return false
	})
	var final float64
	for _, ev := range events {
		if e, ok := ev.(*timeback.TimeSpent); ok && e.RunID == runID && e.Extensions["finalFlush"] == true {
			for _, it := range e.Items {
				final += it.Seconds
			}
		}
	}
	if want := (failed - testHeartbeat).Seconds(); final < want {
		t.Errorf("final flush carries %.3f s, want at least %.3f s for the heartbeats queued over %v",
			final, want, failed)
	}
}

// checkStoredRun checks the events the endpoint stored for the run.
//
// The page was open from opened to closed. Its heartbeats had stopped for
// the hidden timeout at stoppedAt at the latest, and it was visible again
// at returnedAt.
func checkStoredRun(t *testing.T, events []timeback.Event, runID string,
	opened, stoppedAt, returnedAt, closed time.Time) {
	t.Helper()
	var windows []*timeback.TimeSpent
	var completions []*timeback.ActivityCompleted
	for _, ev := range events {
		switch e := ev.(type) {
		case *timeback.TimeSpent:
			windows = append(windows, e)
		case *timeback.ActivityCompleted:
			completions = append(completions, e)
		}
	}

	// Exactly one completion, with the page's metrics.
	if len(completions) != 1 {
		t.Fatalf("completions stored = %d, want 1", len(completions))
	}
	c := completions[0]
	if c.RunID != runID {
		t.Errorf("completion runId = %q, want %q", c.RunID, runID)
	}
	if c.Metrics.TotalQuestions == nil || *c.Metrics.TotalQuestions != 3 ||
		c.Metrics.CorrectQuestions == nil || *c.Metrics.CorrectQuestions != 3 {
		t.Errorf("completion questions = %v/%v, want 3/3", c.Metrics.CorrectQuestions, c.Metrics.TotalQuestions)
	}

	// Exactly one final flush, and every window belongs to the run.
	finals := 0
	var active, inactive float64
	for _, w := range windows {
		if w.RunID != runID {
			t.Errorf("window %s has runId %q, want %q", w.ID, w.RunID, runID)
		}
		if w.Extensions["finalFlush"] == true {
			finals++
		}
		for _, it := range w.Items {
			switch it.Type {
			case timeback.TimeActive:
				active += it.Seconds
			case timeback.TimeInactive:
				inactive += it.Seconds
			}
		}
	}
	if finals != 1 {
		t.Errorf("final flushes stored = %d, want exactly 1", finals)
	}
	if len(windows) < 5 {
		t.Errorf("windows stored = %d, want at least 5 (heartbeats before and after hiding)", len(windows))
	}

	// The time adds up: active and inactive never exceed the wall time the
	// page was open, the hidden time up to the timeout counts as inactive,
	// and the time hidden past the timeout counts nowhere.
	wall := closed.Sub(opened).Seconds()
	if total := active + inactive; total > wall+0.5 {
		t.Errorf("active %.3f s + inactive %.3f s exceed the %.3f s the page was open", active, inactive, wall)
	}
	untrackedAtLeast := returnedAt.Sub(stoppedAt) - testHeartbeat
	if untracked := wall - active - inactive; untracked < untrackedAtLeast.Seconds() {
		t.Errorf("untracked time %.3f s, want at least %.3f s for the time hidden past the timeout",
			untracked, untrackedAtLeast.Seconds())
	}
	if min := testHiddenTimeout.Seconds() / 2; inactive < min {
		t.Errorf("inactive = %.3f s, want at least %.3f s for the hidden time before the timeout", inactive, min)
	}
	if active <= 0 {
		t.Errorf("active = %.3f s, want more than 0", active)
	}

	// Windows follow each other without overlap, with one gap for the time
	// hidden past the timeout.
	sort.Slice(windows, func(i, j int) bool { return windows[i].Items[0].Start.Before(windows[j].Items[0].Start) })
	maxGap := time.Duration(0)
	for i := 1; i < len(windows); i++ {
		prevEnd, start := windows[i-1].Items[0].End, windows[i].Items[0].Start
		if start.Before(prevEnd) {
			t.Errorf("window %d starts at %v, before window %d ends at %v", i+1, start, i, prevEnd)
		}
		if gap := start.Sub(prevEnd); gap > maxGap {
			maxGap = gap
		}
	}
	if want := untrackedAtLeast; maxGap < want {
		t.Errorf("largest gap between windows = %v, want at least %v for the hidden time", maxGap, want)
	}
}
