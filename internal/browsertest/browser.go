package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser is one headless chromium tab that collects every console error,
// uncaught exception and error log entry of its pages.
type Browser struct {
	// Ctx is the tab's context for chromedp calls of a test's own.
	Ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// New starts Debian's chromium (scripts/infra.sh up chromium installs it;
// STREAMSYNC_TEST_CHROMIUM names another binary) headless, with a fresh
// profile and the flags that work on the project's machines, plus extra
// (e.g. MapHost); it is stopped when the test ends.
func New(t testing.TB, extra ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	path := os.Getenv("STREAMSYNC_TEST_CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatal("chromium is missing: `scripts/infra.sh up chromium` installs it (or set STREAMSYNC_TEST_CHROMIUM)")
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	b := &Browser{Ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and its first tab
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// The reconciliation page asks for runs and expects a 404 when the
			// API does not serve them; every other error counts.
			if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.Contains(m.URL, "/api/v1/reconcile/runs") {
				b.mu.Lock()
				b.errors = append(b.errors, m.String()+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// Do runs actions in the tab; an error fails the test naming what.
func (b *Browser) Do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Text is the visible text of the first element sel (CSS) matches.
func (b *Browser) Text(t testing.TB, sel string) string {
	t.Helper()
	s, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// NoErrors fails the test when the page wrote an error or threw.
func (b *Browser) NoErrors(t testing.TB, page string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Fatalf("%s: errors in the browser:\n%s", page, strings.Join(b.errors, "\n"))
	}
}

// ScreenshotDir is STREAMSYNC_SCREENSHOTS when set (kept), else a temp dir.
func ScreenshotDir(t testing.TB) string {
	if d := os.Getenv("STREAMSYNC_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// Screenshot saves the whole page as dir/name.png.
func (b *Browser) Screenshot(t testing.TB, dir, name string) {
	t.Helper()
	b.Do(t, "settle", chromedp.Sleep(300*time.Millisecond)) // let the last paint settle
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// MapHost makes the browser resolve name to ip, as a DNS-rebinding
// attacker's name would resolve once rebound; plain http to it is kept
// (no upgrade to https).
func MapHost(name, ip string) chromedp.ExecAllocatorOption {
	return func(a *chromedp.ExecAllocator) {
		chromedp.Flag("host-resolver-rules", "MAP "+name+" "+ip)(a)
		chromedp.Flag("disable-features", "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable")(a)
	}
}
