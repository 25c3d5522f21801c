package tracker_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/testbin"
	"github.com/timeback/timeback-go/internal/testkit"
	"github.com/timeback/timeback-go/sender"
	"github.com/timeback/timeback-go/tracker"
)

var _ tracker.Sink = (*sender.Client)(nil)

// The crash child reads its task from these variables.
const (
	crashEnvPhase  = "TIMEBACK_TRACKER_CRASH_PHASE" // "run" or "resume"
	crashEnvURL    = "TIMEBACK_TRACKER_CRASH_URL"
	crashEnvDir    = "TIMEBACK_TRACKER_CRASH_DIR"
	crashEnvRunID  = "TIMEBACK_TRACKER_CRASH_RUN"
	crashHeartbeat = 15 * time.Second
)

// crashResumeAt is when the second session starts, well after anything the
// first one can reach.
var crashResumeAt = testStart.Add(48 * time.Hour)

// TestCrashLosesOnlyUnreported kills a process that tracks a run with the
// durable sender at a random heartbeat, then resumes the run in a new
// process. The server must end with every window reported before the kill,
// windows that never overlap, one completion, and XP within the time stored.
func TestCrashLosesOnlyUnreported(t *testing.T) {
	if os.Getenv(crashEnvPhase) != "" {
		t.Skip("running as the crash child")
	}
	if testing.Short() {
		t.Skip("starts timeback serve and two child processes")
	}
	base := testbin.StartServer(t)
	dir := t.TempDir()

	// First session: killed after a random number of reported windows.
	killAfter := 3 + rand.IntN(30)
	child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	child.Env = append(os.Environ(), crashEnvPhase+"=run", crashEnvURL+"="+base, crashEnvDir+"="+dir)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	runID, reported := readCrashChild(t, stdout, killAfter)
	child.Process.Kill()
	child.Wait()
	if reported < killAfter {
		t.Fatalf("first session reported %d windows before it ended, want %d", reported, killAfter)
	}

	// Second session: resumes the run from the state store and the outbox.
	resume := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	resume.Env = append(os.Environ(), crashEnvPhase+"=resume", crashEnvURL+"="+base, crashEnvDir+"="+dir,
		crashEnvRunID+"="+runID)
	out, err := resume.CombinedOutput()
	if err != nil {
		t.Fatalf("resumed session: %v\n%s", err, out)
	}

	windows, completions := storedRun(t, base, runID)
	if len(completions) != 1 {
		t.Fatalf("server has %d completions of run %s, want 1", len(completions), runID)
	}
	var first, second []tracker.Window
	for _, w := range windows {
		if w.Start.Before(crashResumeAt) {
			first = append(first, w)
		} else {
			second = append(second, w)
		}
	}
	checkWindows(t, windows)
	t.Logf("killed after %d windows reported; the server has %d windows of the first session", reported, len(first))

	// Every window reported before the kill is stored, with no gap, from
	// the start of the run.
	if len(first) < reported {
		t.Errorf("server has %d windows of the first session, want at least the %d reported", len(first), reported)
	}
	if len(first) > 0 && !first[0].Start.Equal(testStart) {
		t.Errorf("first session starts at %v, want %v", first[0].Start, testStart)
	}
	for i := 1; i < len(first); i++ {
		if !first[i].Start.Equal(first[i-1].End) {
			t.Errorf("gap in the first session from %v to %v", first[i-1].End, first[i].Start)
		}
	}
	if want := []tracker.Window{{Start: crashResumeAt, End: crashResumeAt.Add(crashHeartbeat),
		Active: crashHeartbeat}}; !slices.EqualFunc(second, want, windowEqual) {
		t.Errorf("second session windows %s, want %s", formatWindows(second), formatWindows(want))
	}

	// The resumed run counts from the state saved after the last delivery,
	// which lags the outbox by at most the one window being sent at the
	// kill.
	active, _ := sumWindows(windows)
	xp := completions[0].Metrics.XPEarned
	// Rounding half-up to 0.1 may add up to 0.05.
	if maxXP := timeback.FocusedMinutes(active) + 0.05; xp > maxXP {
		t.Errorf("xpEarned %v is above the %v focused minutes stored, rounded", xp, maxXP-0.05)
	}
	if minXP := timeback.FocusedMinutes(active-crashHeartbeat) - 0.05; xp < minXP {
		t.Errorf("xpEarned %v is below %v, more than one window short of the time stored", xp, minXP)
	}
}

// readCrashChild reads the first session's output until n windows were
// reported, and returns the run id and the number of windows reported.
func readCrashChild(t *testing.T, r io.Reader, n int) (string, int) {
	t.Helper()
	sc := bufio.NewScanner(r)
	runID, reported := "", 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "run "):
			runID = strings.TrimPrefix(line, "run ")
		case line == "flushed":
			reported++
			if reported >= n {
				return runID, reported
			}
		default:
			t.Logf("first session: %s", line)
		}
	}
	return runID, reported
}

// TestCrashChild is the child process of TestCrashLosesOnlyUnreported.
func TestCrashChild(t *testing.T) {
	phase := os.Getenv(crashEnvPhase)
	if phase == "" {
		t.Skip("runs only as the child of TestCrashLosesOnlyUnreported")
	}
	dir := os.Getenv(crashEnvDir)
	client, err := sender.New(sender.Config{
		Environment: os.Getenv(crashEnvURL),
		OutboxPath:  filepath.Join(dir, "outbox.db"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clock := tracker.NewFakeClock(testStart)
	cfg := tracker.Config{Sink: client, Clock: clock, Store: tracker.FileStore{Dir: filepath.Join(dir, "runs")},
		HeartbeatInterval: crashHeartbeat,
		OnFlush:           func(string, tracker.Window) { fmt.Println("flushed") },
		OnError:           func(_ string, err error) { t.Errorf("tracker: %v", err) }}
	tr, err := tracker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	if phase == "run" {
		run, err := tr.Start(ctx, tracker.Activity{Actor: student, Object: lesson, CourseID: "MATH-3"})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("run", run.ID())
		for i := range 2000 {
			if i%7 == 3 {
				run.Pause()
			} else if i%7 == 5 {
				run.Resume()
			}
			clock.Advance(crashHeartbeat)
		}
		t.Fatal("first session was not killed after 2000 heartbeats")
	}

	clock.Set(crashResumeAt)
	run, err := tr.Start(ctx, tracker.Activity{Actor: student, Object: lesson, CourseID: "MATH-3",
		RunID: os.Getenv(crashEnvRunID)})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(crashHeartbeat)
	if err := run.Complete(ctx, tracker.Metrics{}); err != nil {
		t.Fatal(err)
	}
	if err := client.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// storedRun lists the events the server stored for a run.
func storedRun(t *testing.T, base, runID string) ([]tracker.Window, []*timeback.ActivityCompleted) {
	t.Helper()
	var windows []tracker.Window
	var completions []*timeback.ActivityCompleted
	query := url.Values{"limit": {strconv.Itoa(timeback.MaxEventLimit)}}
	for _, raw := range testkit.ListEvents(t, base, "", query) {
		ev, problems := timeback.ParseEvent(raw)
		switch ev := ev.(type) {
		case *timeback.TimeSpent:
			if ev.RunID == runID {
				windows = append(windows, windowOf(t, ev))
			}
		case *timeback.ActivityCompleted:
			if ev.RunID == runID {
				completions = append(completions, ev)
			}
		default:
			t.Fatalf("stored event does not parse: %v", problems)
		}
	}
	slices.SortFunc(windows, func(a, b tracker.Window) int { return a.Start.Compare(b.Start) })
	return windows, completions
}
