// Package browsertest starts headless Chromium for the browser tests. It
// uses the Chromium that Debian's chromium package installs and skips the
// test when there is none; it never downloads a browser.
package browsertest

import (
	"context"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Allocator finds Chromium and returns a chromedp allocator context that
// starts it headless with a fresh profile in the test's temporary folder,
// without QUIC, background networking, component updates or sync. It skips
// the test when Chromium is not installed. The browser starts with the
// first chromedp.NewContext that runs, and stops when the test ends.
func Allocator(t *testing.T) context.Context {
	t.Helper()
	path := find(t)
	ctx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancel)
	return ctx
}

func find(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no chromium installed; install Debian's chromium package to run the browser test")
	return ""
}
