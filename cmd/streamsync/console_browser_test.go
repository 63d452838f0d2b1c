package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/browsertest"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

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

	b := browsertest.New(t)
	shots := browsertest.ScreenshotDir(t)

	// Sign in, then the overview.
	b.Do(t, "sign in", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS(`#cards .card[data-key="dead"]`)))
	dead := b.Text(t, `#cards .card[data-key="dead"] .v`)
	if dead != "2" {
		t.Fatalf("overview shows %q dead", dead)
	}
	b.Screenshot(t, shots, "overview")
	b.NoErrors(t, "overview")

	// Dead letters: both listed; a row opens to its fields; drop the invalid one.
	b.Do(t, "dead letters", chromedp.Navigate(base+"/#dead"), chromedp.WaitVisible(chromedp.CSS(`#dead-rows tr[data-id="evt-invalid"]`)),
		chromedp.Click(chromedp.CSS(`#dead-rows tr[data-id="evt-bad"] .toggle`)), chromedp.WaitVisible(chromedp.CSS(`#dead-rows tr.fields`)))
	fields := b.Text(t, `#dead-rows tr.fields`)
	if !strings.Contains(fields, "dead_error") || !strings.Contains(fields, `{"seat":"A3"}`) {
		t.Fatalf("expanded row: %q", fields)
	}
	b.Screenshot(t, shots, "dead-letters")
	b.Do(t, "drop", chromedp.Click(chromedp.CSS(`#dead-rows tr[data-id="evt-invalid"] .pick`)), chromedp.Click(chromedp.CSS("#dead-drop")),
		chromedp.WaitVisible(chromedp.CSS("#modal-ok")), chromedp.Click(chromedp.CSS("#modal-ok")),
		chromedp.WaitNotPresent(chromedp.CSS(`#dead-rows tr[data-id="evt-invalid"]`)))
	if n, _ := rdb.XLen(ctx, keys.Dead).Result(); n != 1 {
		t.Fatalf("%d dead letters after dropping one of two", n)
	}
	b.NoErrors(t, "dead letters")

	// Chains: the rejected event among the failed chains of the last hour.
	b.Do(t, "failed chains", chromedp.Navigate(base+"/#chains"), chromedp.WaitVisible(chromedp.CSS(`#failed`)))
	testenv.WaitFor(t, 20*time.Second, "the rejected chain in the failed list", func() bool {
		_ = chromedp.Do(b.Ctx, chromedp.Click(chromedp.CSS("#chain-failed")), chromedp.Sleep(200*time.Millisecond))
		n, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[int](`document.querySelectorAll('#failed tr[data-id="evt-bad"]').length`))
		return n == 1
	})
	b.Screenshot(t, shots, "chains-failed")
	// One click to its timeline, one to replay it, one to confirm; the partner was fixed meanwhile.
	b.Do(t, "timeline", chromedp.Click(chromedp.CSS(`#failed tr[data-id="evt-bad"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`.chain[data-chain="evt-bad"] .replay-chain`)))
	steps := b.Text(t, `.chain[data-chain="evt-bad"] tbody`)
	if !strings.Contains(steps, "dead") || !strings.Contains(steps, "422") {
		t.Fatalf("timeline: %q", steps)
	}
	b.Screenshot(t, shots, "chain-timeline")
	if err := sim.SetFaults(partnersim.Faults{}); err != nil {
		t.Fatal(err)
	}
	b.Do(t, "replay", chromedp.Click(chromedp.CSS(`.chain[data-chain="evt-bad"] .replay-chain`)),
		chromedp.WaitVisible(chromedp.CSS("#modal-ok")), chromedp.Click(chromedp.CSS("#modal-ok")),
		chromedp.WaitVisible(chromedp.CSS(`.chain[data-chain="evt-bad"] .head .badge.delivered`)))
	steps = b.Text(t, `.chain[data-chain="evt-bad"] tbody`)
	if !strings.Contains(steps, "replayed") || !strings.Contains(steps, "delivered") {
		t.Fatalf("timeline after the replay: %q", steps)
	}
	if recs := sim.Snapshot("acc-7").Records; len(recs) != 1 || recs[0].Key != "bad-42" {
		t.Fatalf("the partner lacks the replayed record: %+v", recs)
	}
	b.Screenshot(t, shots, "chain-replayed")
	b.NoErrors(t, "chains")

	// Reconciliation: the runs when the API serves them, else said plainly.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/reconcile/runs", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "Reconciliation not configured"
	if resp.StatusCode != http.StatusNotFound {
		want = "Reconciliation" // no run yet in this test's database
	}
	b.Do(t, "reconciliation", chromedp.Navigate(base+"/#reconcile"), chromedp.WaitVisible(chromedp.CSS("#reconcile h2")))
	if rec := b.Text(t, "#reconcile h2"); rec != want {
		t.Fatalf("reconciliation page says %q, want %q (runs endpoint answered %d)", rec, want, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusNotFound {
		// Start a run from the page, confirm it, and see it listed with its id.
		b.Do(t, "start a reconciliation", chromedp.Click(chromedp.CSS("#reconcile-run")),
			chromedp.WaitVisible(chromedp.CSS("#modal-ok")), chromedp.Click(chromedp.CSS("#modal-ok")),
			chromedp.WaitVisible(chromedp.CSS("#reconcile-runs tr[data-run]")))
		msg := b.Text(t, "#msg")
		row := b.Text(t, "#reconcile-runs tbody")
		id := strings.Fields(strings.TrimPrefix(msg, "reconciliation "))
		if len(id) == 0 || !strings.Contains(row, id[0]) || !strings.Contains(row, "ledger") {
			t.Fatalf("after starting a run: message %q, runs %q", msg, row)
		}
	}
	b.Screenshot(t, shots, "reconciliation")
	b.NoErrors(t, "reconciliation")
}
