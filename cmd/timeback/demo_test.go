package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/timeback/timeback-go"
	"github.com/timeback/timeback-go/internal/testbin"
	"github.com/timeback/timeback-go/internal/testkit"
)

// demoRow is one row of the demo's table.
type demoRow struct {
	activity, events, active, inactive, xp, accuracy string
}

var demoRowPattern = regexp.MustCompile(
	`(?m)^  ([0-9a-f-]{36})  +(\S+(?: \S+)?)  +(\d+)  +(\S+)  +(\S+)  +(\S+)  +(.+)$`)

func parseDemoRows(t *testing.T, out string) []demoRow {
	t.Helper()
	var rows []demoRow
	for _, m := range demoRowPattern.FindAllStringSubmatch(out, -1) {
		rows = append(rows, demoRow{m[2], m[3], m[4], m[5], m[6], strings.TrimSpace(m[7])})
	}
	return rows
}

// wantDemoRows are the demo's runs as the server must store them. Fractions
// has 4 + 3 + 1 min active on the first day and 5 on the second, with 2 min
// paused and 10 min hidden up to the timeout. Its 90% accuracy earns the 13
// focused minutes. Main idea has 6 min at 100%, so 1.25 × 6 = 7.5 XP.
var wantDemoRows = []demoRow{
	{"Fractions", "101", "13m00s", "12m00s", "13", "90% (9/10)"},
	{"Main idea", "25", "6m00s", "0m00s", "7.5", "100% (5/5)"},
}

func TestDemoPrintsStoredRuns(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), env{strings.NewReader(""), &stdout, &stderr}, []string{"demo"})
	if code != exitOK {
		t.Fatalf("timeback demo exit status %d, want %d; stderr:\n%s", code, exitOK, stderr.String())
	}

	got := parseDemoRows(t, stdout.String())
	if !slices.Equal(got, wantDemoRows) {
		t.Errorf("demo rows\n got %q\nwant %q\noutput:\n%s", got, wantDemoRows, stdout.String())
	}
	if !strings.Contains(stdout.String(), "126 events") {
		t.Errorf("output does not give the 126 events stored:\n%s", stdout.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("demo wrote to stderr:\n%s", stderr.String())
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("demo left %d entries in the temporary folder, first %s", len(left), left[0].Name())
	}
}

func TestDemoFlags(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"demo", "extra"}, exitUsage},
		{[]string{"demo", "--nope"}, exitUsage},
		{[]string{"demo", "-h"}, exitOK},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if got := run(context.Background(), env{nil, &stdout, &stderr}, tt.args); got != tt.want {
			t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tt.args, got, tt.want, stderr.String())
		}
		if stdout.Len() > 0 {
			t.Errorf("run(%q) wrote to stdout: %s", tt.args, stdout.String())
		}
	}
}

func TestDemoInterrupted(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C before the demo starts

	var stdout, stderr bytes.Buffer
	if got := run(ctx, env{nil, &stdout, &stderr}, []string{"demo"}); got != exitFailure {
		t.Errorf("exit status = %d, want %d", got, exitFailure)
	}
	if got := stderr.String(); !strings.Contains(got, "timeback demo: interrupted") {
		t.Errorf("stderr = %q, want it to say the demo was interrupted", got)
	}
	if got := stderr.String(); strings.Contains(got, "context canceled") {
		t.Errorf("stderr = %q, want no internal cancellation error", got)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left %s in the temporary folder", e.Name())
	}
}

var keepPattern = regexp.MustCompile(`curl -H 'Authorization: Bearer ([0-9a-f]+)' '(http://127\.0\.0\.1:\d+)/`)

// TestDemoKeepServes runs the binary with --keep, checks the stored events
// through the server's own API, then stops it with SIGINT.
func TestDemoKeepServes(t *testing.T) {
	bin := testbin.Build(t)
	tmp := t.TempDir()
	cmd := exec.Command(bin, "demo", "--keep")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })

	found := make(chan []string, 1)
	var out bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if m := keepPattern.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
			}
		}
		close(found)
	}()
	var token, base string
	select {
	case m, ok := <-found:
		if !ok {
			waitExit(cmd, 10*time.Second)
			t.Fatalf("demo --keep ended without a URL; stderr:\n%s", stderr.String())
		}
		token, base = m[1], m[2]
	case <-time.After(60 * time.Second):
		t.Fatalf("demo --keep printed no URL within 60 s; stderr:\n%s", stderr.String())
	}

	checkStoredDemo(t, base, token)

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(cmd, 30*time.Second); err != nil {
		t.Fatalf("demo --keep after SIGINT: %v; stderr:\n%s", err, stderr.String())
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("demo --keep left %d entries in the temporary folder after SIGINT", len(left))
	}
}

// waitExit waits for cmd to exit, killing it after d.
func waitExit(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("still running after %v; killed", d)
	}
}

// checkStoredDemo reads every stored event with cursor paging and checks
// the runs: distinct ids, one completion each and last, and windows that
// never overlap and sum to the demo's numbers.
func checkStoredDemo(t *testing.T, base, token string) {
	t.Helper()
	var events []timeback.Event
	for _, raw := range testkit.ListEvents(t, base, token, url.Values{"limit": {"40"}}) {
		ev, problems := timeback.ParseEvent(raw)
		if ev == nil {
			t.Fatalf("stored event does not parse: %v\n%s", problems, raw)
		}
		events = append(events, ev)
	}

	if len(events) != 126 {
		t.Errorf("server stored %d events, want 126", len(events))
	}
	type runTotals struct {
		windows          []timeback.TimeSpent
		active, inactive float64
		completions      int
		completedAt      time.Time
	}
	runs := make(map[string]*runTotals)
	get := func(runID string) *runTotals {
		if runs[runID] == nil {
			runs[runID] = &runTotals{}
		}
		return runs[runID]
	}
	ids := make(map[string]bool)
	for _, ev := range events {
		if ids[ev.EventID()] {
			t.Errorf("event %s stored twice", ev.EventID())
		}
		ids[ev.EventID()] = true
		switch ev := ev.(type) {
		case *timeback.TimeSpent:
			r := get(ev.RunID)
			r.windows = append(r.windows, *ev)
			for _, it := range ev.Items {
				if it.Type == timeback.TimeActive {
					r.active += it.Seconds
				} else {
					r.inactive += it.Seconds
				}
			}
		case *timeback.ActivityCompleted:
			r := get(ev.RunID)
			r.completions++
			r.completedAt = ev.EventTime
		}
	}

	want := map[string][2]float64{"MATH-3": {13 * 60, 12 * 60}, "READ-3": {6 * 60, 0}}
	if len(runs) != len(want) {
		t.Errorf("server has %d runs, want %d", len(runs), len(want))
	}
	for id, r := range runs {
		if len(r.windows) == 0 {
			t.Errorf("run %s has no TimeSpentEvents", id)
			continue
		}
		course := r.windows[0].CourseID
		w, ok := want[course]
		if !ok {
			t.Errorf("run %s has course %q", id, course)
			continue
		}
		if r.active != w[0] || r.inactive != w[1] {
			t.Errorf("run %s (%s): active %v s inactive %v s, want %v and %v", id, course,
				r.active, r.inactive, w[0], w[1])
		}
		if r.completions != 1 {
			t.Errorf("run %s (%s): %d completions, want 1", id, course, r.completions)
		}
		slices.SortFunc(r.windows, func(a, b timeback.TimeSpent) int {
			return a.Items[0].Start.Compare(b.Items[0].Start)
		})
		for i := 1; i < len(r.windows); i++ {
			if prev, cur := r.windows[i-1].Items[0], r.windows[i].Items[0]; cur.Start.Before(prev.End) {
				t.Errorf("run %s: window from %v overlaps the one ending %v", id, cur.Start, prev.End)
			}
		}
		if last := r.windows[len(r.windows)-1].Items[0].End; r.completedAt.Before(last) {
			t.Errorf("run %s: completion at %v comes before the last window ends at %v", id,
				r.completedAt, last)
		}
	}
}

// BenchmarkDemo runs the whole demo: server start, 126 events through the
// tracker, the SQLite outbox and HTTP, the read-back and the clean-up.
func BenchmarkDemo(b *testing.B) {
	b.Setenv("TMPDIR", b.TempDir())
	for b.Loop() {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), env{nil, &stdout, &stderr}, []string{"demo"}); code != exitOK {
			b.Fatalf("timeback demo exit status %d; stderr:\n%s", code, stderr.String())
		}
	}
}
