package analytics_test

import (
	"bufio"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/timeback/timeback-go/internal/browsertest"
	"github.com/timeback/timeback-go/internal/testbin"
)

// demoRun is one row of the run table that timeback demo prints.
type demoRun struct {
	id                      string
	active, inactive        float64 // minutes
	xp                      float64
	correct, total          float64
	activeText, accuracyPct string
}

var (
	demoKeepLine = regexp.MustCompile(`curl -H 'Authorization: Bearer ([0-9a-f]+)' '(http://127\.0\.0\.1:\d+)/`)
	// demoRunLine matches "  ID  Fractions  101  13m00s  12m00s  13  90% (9/10)".
	demoRunLine = regexp.MustCompile(`^\s+([0-9a-f-]{36})\s+.+?\s+\d+\s+(\d+)m(\d\d)s\s+(\d+)m(\d\d)s\s+` +
		`([\d.]+)\s+(\d+)% \((\d+)/(\d+)\)\s*$`)
)

// startDemo runs the built binary's timeback demo --keep and returns the
// URL and token it prints and the runs of its table. The demo stops with
// SIGINT when the test ends.
func startDemo(t *testing.T) (base, token string, runs []demoRun) {
	t.Helper()
	cmd := exec.Command(testbin.Build(t), "demo", "--keep")
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	})

	found := make(chan bool, 1)
	var lines []string
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if m := demoKeepLine.FindStringSubmatch(sc.Text()); m != nil {
				token, base = m[1], m[2]
				found <- true
				break
			}
		}
		close(found)
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("demo --keep ended without printing a URL and token; output:\n%s", strings.Join(lines, "\n"))
		}
	case <-time.After(60 * time.Second):
		t.Fatal("demo --keep printed no URL within 60 s")
	}

	minutes := func(m, s string) float64 {
		a, _ := strconv.Atoi(m)
		b, _ := strconv.Atoi(s)
		return float64(a) + float64(b)/60
	}
	for _, l := range lines {
		m := demoRunLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		r := demoRun{id: m[1], active: minutes(m[2], m[3]), inactive: minutes(m[4], m[5]), accuracyPct: m[7] + "%"}
		r.xp, _ = strconv.ParseFloat(m[6], 64)
		r.correct, _ = strconv.ParseFloat(m[8], 64)
		r.total, _ = strconv.ParseFloat(m[9], 64)
		r.activeText = strconv.FormatFloat(math.Round(r.active*10)/10, 'f', -1, 64)
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		t.Fatalf("demo printed no run table; output:\n%s", strings.Join(lines, "\n"))
	}
	return base, token, runs
}

// TestDashboardShowsDemo loads the dashboard of a timeback demo --keep
// server in headless Chromium with a phone's viewport and the demo's Bearer
// token as a header. It follows the student's link from the index and
// checks that the charts, totals and run table show what the demo printed.
func TestDashboardShowsDemo(t *testing.T) {
	allocCtx := browsertest.Allocator(t)
	base, token, runs := startDemo(t)

	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)

	// The demo's days are yesterday and the day before in UTC, inside the
	// dashboard's default range of the last 14 days.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": "Bearer " + token}}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`a[href^="/dashboard/students/"]`),
		chromedp.Click(`a[href^="/dashboard/students/"]`),
		chromedp.WaitVisible(`#chart-minutes svg`),
	); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("TIMEBACK_SCREENSHOTS"); dir != "" {
		if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(dir, "dashboard-demo.png"), shot, 0o644)
		}
	}

	var want demoRun
	for _, r := range runs {
		want.xp += r.xp
		want.active += r.active
		want.inactive += r.inactive
		want.correct += r.correct
		want.total += r.total
	}
	sum := func(sel string) float64 {
		t.Helper()
		values, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(`+
			strconv.Quote(sel)+`)].map(e => e.dataset.value)`))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		var total float64
		for _, v := range values {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: data-value %q is not a number", sel, v)
			}
			total += f
		}
		return total
	}
	if got := sum("rect.xp"); math.Abs(got-want.xp) > 0.05 {
		t.Errorf("XP bars sum to %v, want the demo's %v", got, want.xp)
	}
	if got := sum("rect.seg-active"); math.Abs(got-want.active) > 0.05 {
		t.Errorf("active minute segments sum to %v, want the demo's %v", got, want.active)
	}
	if got := sum("rect.seg-inactive"); math.Abs(got-want.inactive) > 0.05 {
		t.Errorf("inactive minute segments sum to %v, want the demo's %v", got, want.inactive)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	wantAccuracy := strconv.FormatFloat(math.Round(want.correct/want.total*1000)/10, 'f', -1, 64) + "%"
	if got := text(`[data-total="accuracy"]`); got != wantAccuracy {
		t.Errorf("total accuracy = %q, want %q (%v of %v)", got, wantAccuracy, want.correct, want.total)
	}

	for _, r := range runs {
		cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(`+
			`'tr[data-run="`+r.id+`"] td')].map(td => td.textContent.trim())`))
		if err != nil {
			t.Fatal(err)
		}
		// Run, start, wall min, active min, XP, accuracy, completed, flags.
		if len(cells) != 8 {
			t.Errorf("run %s: table row has %d cells %q, want 8", r.id, len(cells), cells)
			continue
		}
		if cells[3] != r.activeText {
			t.Errorf("run %s: active minutes %q, want %q", r.id, cells[3], r.activeText)
		}
		if xp := strconv.FormatFloat(r.xp, 'f', -1, 64); cells[4] != xp {
			t.Errorf("run %s: XP %q, want %q", r.id, cells[4], xp)
		}
		if cells[5] != r.accuracyPct {
			t.Errorf("run %s: accuracy %q, want %q", r.id, cells[5], r.accuracyPct)
		}
		if cells[7] != "" {
			t.Errorf("run %s: flagged %q, but the demo's runs follow the XP rule", r.id, cells[7])
		}
	}

	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Errorf("page is wider than a 390 px phone screen")
	}
}
