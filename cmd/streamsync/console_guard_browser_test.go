package main

import (
	"context"
	"fmt"
	"net"
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

// evilPage is what an attacker's web page, open in an operator's browser
// beside the console, tries against the admin port: every way a page can
// send the dead letters' drop-all without the admin API's consent — a
// text/plain fetch, a beacon, a text/plain form, a JSON fetch (which needs a
// CORS preflight), and a cross-origin read. It writes what it saw into
// #results and shows #done when it has tried them all.
const evilPage = `<!doctype html><html><body><ul id="results"></ul>
<iframe name="sink" id="sink"></iframe>
<form id="f" method="post" enctype="text/plain" target="sink" action="ADMIN/api/v1/dead/drop">
<input name='{"all":true,"x":"' value='"}'></form>
<script>
const admin = 'ADMIN', body = '{"all":true}';
const say = (what, how) => { const li = document.createElement('li'); li.textContent = what + ': ' + how; document.getElementById('results').append(li); };
const tryIt = async (what, f) => { try { say(what, await f()); } catch (e) { say(what, 'refused by the browser (' + e.name + ')'); } };
(async () => {
  await tryIt('text/plain fetch', async () => { const r = await fetch(admin + '/api/v1/dead/drop', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body }); return 'sent, ' + r.type; });
  await tryIt('beacon', async () => navigator.sendBeacon(admin + '/api/v1/dead/drop', new Blob([body], { type: 'text/plain' })) ? 'queued' : 'not queued');
  await tryIt('json fetch', async () => { const r = await fetch(admin + '/api/v1/dead/drop', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }); return 'status ' + r.status; });
  await tryIt('read', async () => { const r = await fetch(admin + '/api/v1/dead'); return 'read ' + (await r.text()).length + ' bytes'; });
  await new Promise((ok) => { document.getElementById('sink').onload = ok; document.getElementById('f').submit(); setTimeout(ok, 3000); });
  say('form', 'submitted');
  // A beacon leaves when the browser likes: one more round trip after it.
  await fetch(admin + '/healthz', { mode: 'no-cors' }).catch(() => {});
  const d = document.createElement('p'); d.id = 'done'; d.textContent = 'done'; document.body.append(d);
})();
</script></body></html>`

// The console without admin.token (the default: loopback only) against a
// real `streamsync run`, in chromium: the console itself still lists and
// drops dead letters (opened as localhost too); a page of another origin
// in the same browser drops none of them whatever it tries; a page whose
// name was rebound to the admin address (DNS rebinding) is answered 421 and
// neither reads nor drops; and a repair run cannot be started by a form or
// a foreign page. docs/security.md, "Admin".
func TestConsoleRefusesOtherPages(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis, ClickHouse and chromium")
	}
	rdb, keys, env := streams(t, "consoleguard")
	ctx := context.Background()
	sim, err := partnersim.New(partnersim.Options{Faults: partnersim.Faults{RejectPrefix: "bad"}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	_, db := testenv.ClickHouse(t)
	admin := freeAddr(t)
	_, port, _ := net.SplitHostPort(admin)
	env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_ADMIN__ADDR="+admin,
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
	for i := range 4 {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: []any{"id", fmt.Sprint("evt-bad-", i), "account", "acc-1",
			"entity", "main_registration", "key", fmt.Sprint("bad-", i), "op", "upsert", "version", "1", "data", `{"n":1}`}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	deadLeft := func() int64 { n, _ := rdb.XLen(ctx, keys.Dead).Result(); return n }
	testenv.WaitFor(t, 20*time.Second, "four dead letters", func() bool { return deadLeft() == 4 })

	b := browsertest.New(t, browsertest.MapHost("evil.example", "127.0.0.1"))

	// The console keeps working without a token, also opened as localhost.
	console := "http://localhost:" + port
	b.Do(t, "dead letters", chromedp.Navigate(console+"/#dead"), chromedp.WaitVisible(chromedp.CSS(`#dead-rows tr[data-id="evt-bad-0"]`)))
	b.Do(t, "drop one", chromedp.Click(chromedp.CSS(`#dead-rows tr[data-id="evt-bad-0"] .pick`)), chromedp.Click(chromedp.CSS("#dead-drop")),
		chromedp.WaitVisible(chromedp.CSS("#modal-ok")), chromedp.Click(chromedp.CSS("#modal-ok")),
		chromedp.WaitNotPresent(chromedp.CSS(`#dead-rows tr[data-id="evt-bad-0"]`)))
	if n := deadLeft(); n != 3 {
		t.Fatalf("%d dead letters after the console dropped one of four", n)
	}
	b.NoErrors(t, "console")

	// A page of another origin tries everything; the dead letters stay.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(strings.ReplaceAll(evilPage, "ADMIN", base)))
	}))
	defer evil.Close()
	b.Do(t, "another origin's page", chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.CSS("#done")))
	results := b.Text(t, "#results")
	t.Logf("the other page saw:\n%s", results)
	if !strings.Contains(results, "text/plain fetch: sent") || !strings.Contains(results, "form: submitted") {
		t.Fatalf("the page did not get to send its requests:\n%s", results)
	}
	if strings.Contains(results, "read: read") || strings.Contains(results, "json fetch: status 200") {
		t.Fatalf("the other page read or acted:\n%s", results)
	}
	if n := deadLeft(); n != 3 {
		t.Fatalf("%d dead letters left after another origin's page, want all 3", n)
	}

	// DNS rebinding: evil.example now resolves to the admin address, so the
	// attacker's page is same-origin with it in the browser's eyes.
	rebound := "http://evil.example:" + port
	resp, err := chromedp.Run(b.Ctx, chromedp.NavigateResponse(rebound+"/"))
	if err != nil {
		t.Fatalf("navigate %s: %v", rebound, err)
	}
	if resp.Status != http.StatusMisdirectedRequest {
		t.Fatalf("the console under a rebound name: %d, want 421", resp.Status)
	}
	statuses, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]int](`Promise.all([
		fetch('/api/v1/dead').then((r) => r.status),
		fetch('/api/v1/status').then((r) => r.status),
		fetch('/api/v1/dead/drop', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"all":true}' }).then((r) => r.status),
		fetch('/api/v1/reconcile/run', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"repair":true}' }).then((r) => r.status),
	])`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(statuses) != "[421 421 421 421]" {
		t.Fatalf("a rebound page's reads and writes answered %v, want 421 each", statuses)
	}
	if n := deadLeft(); n != 3 {
		t.Fatalf("%d dead letters left after a rebound page, want all 3", n)
	}

	// A repair run: refused to a form or a foreign page, started by curl.
	for _, tt := range []struct {
		headers []string
		status  int
	}{
		{[]string{"Content-Type: text/plain"}, http.StatusUnsupportedMediaType},
		{[]string{"Content-Type: application/json", "Origin: " + evil.URL}, http.StatusForbidden},
		{[]string{"Content-Type: application/json"}, http.StatusAccepted},
	} {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/reconcile/run", strings.NewReader(`{"repair":false,"entities":["main_registration"]}`))
		for _, h := range tt.headers {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Fatalf("reconcile run with %v: %d, want %d", tt.headers, resp.StatusCode, tt.status)
		}
	}
}
