package analytics_test

import (
	"context"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no chromium installed; install Debian's chromium package to run the browser test")
	return ""
}

// TestDashboardInBrowser loads a student's page in headless Chromium with
// a phone's viewport, and checks that the charts show
// the day totals: each bar's value, and rendered heights in proportion.
func TestDashboardInBrowser(t *testing.T) {
	path := findChromium(t)
	srv := newServer(t, seed(t))

	allocCtx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.UserDataDir(t.TempDir()))
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)

	page := srv.URL + "/dashboard/students/" + url.PathEscape(student) +
		"?from=2026-01-27&to=2026-01-28&tz=America/Chicago"
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(page),
		chromedp.WaitVisible(`#chart-minutes svg`),
	); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("TIMEBACK_SCREENSHOTS"); dir != "" {
		if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(dir, "dashboard-student.png"), shot, 0o644)
		}
	}

	// read returns "date=value" and the rendered height in CSS pixels of
	// every element that sel matches.
	read := func(sel string) ([]string, []float64) {
		t.Helper()
		type shape struct {
			Date, Value string
			Height      float64
		}
		shapes, err := chromedp.Run(ctx, chromedp.Evaluate[[]shape](`[...document.querySelectorAll(`+
			strconv.Quote(sel)+`)].map(e => ({Date: e.dataset.date, Value: e.dataset.value,
			Height: e.getBoundingClientRect().height}))`))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		var values []string
		var heights []float64
		for _, s := range shapes {
			values = append(values, s.Date+"="+s.Value)
			heights = append(heights, s.Height)
		}
		return values, heights
	}

	xp, xpHeights := read("rect.xp")
	if want := []string{"2026-01-27=0", "2026-01-28=16"}; !slices.Equal(xp, want) {
		t.Errorf("XP bars = %v, want %v", xp, want)
	}
	if len(xpHeights) == 2 && (xpHeights[0] != 0 || xpHeights[1] <= 0) {
		t.Errorf("XP bar heights = %v, want 0 and more than 0", xpHeights)
	}
	active, h := read("rect.seg-active")
	if want := []string{"2026-01-27=1.5", "2026-01-28=11.5"}; !slices.Equal(active, want) {
		t.Errorf("active minute segments = %v, want %v", active, want)
	}
	if len(h) == 2 && (h[1] <= 0 || math.Abs(h[0]/h[1]-1.5/11.5) > 0.02) {
		t.Errorf("rendered active heights %v: ratio %.3f, want %.3f", h, h[0]/h[1], 1.5/11.5)
	}
	// The 27th's run completed after Chicago midnight with 8 of 10, and
	// the 28th's with 4 of 4: 12 of 14 on the 28th.
	points, _ := read("circle.accuracy")
	if want := []string{"2026-01-28=85.7"}; !slices.Equal(points, want) {
		t.Errorf("accuracy points = %v, want %v", points, want)
	}
	runs, _ := read("tr[data-run]")
	if len(runs) != 2 {
		t.Errorf("run table has %d rows, want 2", len(runs))
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
