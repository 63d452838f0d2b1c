package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// browser starts Debian's chromium (installed by scripts/infra.sh up
// chromium) headless with a fresh profile and collects every console error,
// uncaught exception and error log entry of the page.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
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
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
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

func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) noErrors(t *testing.T, page string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Fatalf("%s: errors in the browser:\n%s", page, strings.Join(b.errors, "\n"))
	}
}

// screenshotDir is STREAMSYNC_SCREENSHOTS when set (kept), else a temp dir.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("STREAMSYNC_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	b.do(t, "settle", chromedp.Sleep(300*time.Millisecond)) // let the last paint settle
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// The console against a real `streamsync run` with Redis, ClickHouse and
// partnersim, in chromium: every page loads without an error; a rejected
// event is found among the failed chains, its dead letter replayed by
// clicking and seen delivered; an invalid one dropped from the dead-letter
// page.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis, ClickHouse and chromium")
	}
	rdb, keys, env := streams(t, "console")
	ctx := context.Background()
	sim, err := partnersim.New(partnersim.Options{Faults: partnersim.Faults{RejectPrefix: "bad"}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	_, db := testenv.ClickHouse(t)
	admin := freeAddr(t)
	const token = "s3cret-token"
	env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_ADMIN__ADDR="+admin, "STREAMSYNC_ADMIN__TOKEN="+token,
		"STREAMSYNC_CLICKHOUSE__ADDR="+testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE="+db,
		"STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+t.TempDir())
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- dispatch(runCtx, []string{"run"}, &strings.Builder{}, env) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("streamsync run: %v", err)
		}
	})
	base := "http://" + admin
	testenv.WaitFor(t, 20*time.Second, "streamsync ready", func() bool { return httpStatus(base+"/readyz") == 200 })

	add := func(kv ...any) {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: kv}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		add("id", fmt.Sprint("evt-", i), "account", fmt.Sprint("acc-", i%3), "entity", "main_registration", "key", fmt.Sprint("m-", i),
			"op", "upsert", "version", "1", "data", `{"name":"Li Lei"}`)
	}
	add("id", "evt-bad", "account", "acc-7", "entity", "sub_registration", "key", "bad-42", "op", "upsert", "version", "1",
		"data", `{"seat":"A3"}`)
	add("id", "evt-invalid", "account", "acc-8", "entity", "sub_registration", "key", "r-1", "op", "merge", "version", "1")
	testenv.WaitFor(t, 20*time.Second, "two dead letters", func() bool { n, _ := rdb.XLen(ctx, keys.Dead).Result(); return n == 2 })

	b := newBrowser(t)
	shots := screenshotDir(t)

	// Sign in, then the overview.
	b.do(t, "sign in", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS(`#cards .card[data-key="dead"]`)))
	dead := b.text(t, `#cards .card[data-key="dead"] .v`)
	if dead != "2" {
		t.Fatalf("overview shows %q dead", dead)
	}
	b.screenshot(t, shots, "overview")
	b.noErrors(t, "overview")

	// Dead letters: both listed; a row opens to its fields; drop the invalid one.
	b.do(t, "dead letters", chromedp.Navigate(base+"/#dead"), chromedp.WaitVisible(chromedp.CSS(`#dead-rows tr[data-id="evt-invalid"]`)),
		chromedp.Click(chromedp.CSS(`#dead-rows tr[data-id="evt-bad"] .toggle`)), chromedp.WaitVisible(chromedp.CSS(`#dead-rows tr.fields`)))
	fields := b.text(t, `#dead-rows tr.fields`)
	if !strings.Contains(fields, "dead_error") || !strings.Contains(fields, `{"seat":"A3"}`) {
		t.Fatalf("expanded row: %q", fields)
	}
	b.screenshot(t, shots, "dead-letters")
	b.do(t, "drop", chromedp.Click(chromedp.CSS(`#dead-rows tr[data-id="evt-invalid"] .pick`)), chromedp.Click(chromedp.CSS("#dead-drop")),
		chromedp.WaitVisible(chromedp.CSS("#modal-ok")), chromedp.Click(chromedp.CSS("#modal-ok")),
		chromedp.WaitNotPresent(chromedp.CSS(`#dead-rows tr[data-id="evt-invalid"]`)))
	if n, _ := rdb.XLen(ctx, keys.Dead).Result(); n != 1 {
		t.Fatalf("%d dead letters after dropping one of two", n)
	}
	b.noErrors(t, "dead letters")

	// Chains: the rejected event among the failed chains of the last hour.
	b.do(t, "failed chains", chromedp.Navigate(base+"/#chains"), chromedp.WaitVisible(chromedp.CSS(`#failed`)))
	testenv.WaitFor(t, 20*time.Second, "the rejected chain in the failed list", func() bool {
		_ = chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#chain-failed")), chromedp.Sleep(200*time.Millisecond))
		n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#failed tr[data-id="evt-bad"]').length`))
		return n == 1
	})
	b.screenshot(t, shots, "chains-failed")
	// One click to its timeline, one to replay it, one to confirm; the partner was fixed meanwhile.
	b.do(t, "timeline", chromedp.Click(chromedp.CSS(`#failed tr[data-id="evt-bad"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`.chain[data-chain="evt-bad"] .replay-chain`)))
	steps := b.text(t, `.chain[data-chain="evt-bad"] tbody`)
	if !strings.Contains(steps, "dead") || !strings.Contains(steps, "422") {
		t.Fatalf("timeline: %q", steps)
	}
	b.screenshot(t, shots, "chain-timeline")
	if err := sim.SetFaults(partnersim.Faults{}); err != nil {
		t.Fatal(err)
	}
	b.do(t, "replay", chromedp.Click(chromedp.CSS(`.chain[data-chain="evt-bad"] .replay-chain`)),
		chromedp.WaitVisible(chromedp.CSS("#modal-ok")), chromedp.Click(chromedp.CSS("#modal-ok")),
		chromedp.WaitVisible(chromedp.CSS(`.chain[data-chain="evt-bad"] .head .badge.delivered`)))
	steps = b.text(t, `.chain[data-chain="evt-bad"] tbody`)
	if !strings.Contains(steps, "replayed") || !strings.Contains(steps, "delivered") {
		t.Fatalf("timeline after the replay: %q", steps)
	}
	if recs := sim.Snapshot("acc-7").Records; len(recs) != 1 || recs[0].Key != "bad-42" {
		t.Fatalf("the partner lacks the replayed record: %+v", recs)
	}
	b.screenshot(t, shots, "chain-replayed")
	b.noErrors(t, "chains")

	// Reconciliation: not served by this version, said plainly.
	b.do(t, "reconciliation", chromedp.Navigate(base+"/#reconcile"), chromedp.WaitVisible(chromedp.CSS("#reconcile h2")))
	rec := b.text(t, "#reconcile h2")
	if rec != "Reconciliation not configured" {
		t.Fatalf("reconciliation page says %q", rec)
	}
	b.screenshot(t, shots, "reconciliation")
	b.noErrors(t, "reconciliation")
}
