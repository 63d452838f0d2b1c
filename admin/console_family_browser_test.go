package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/streamsync/streamsync/internal/browsertest"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// The failed-chains list says how many children a failure stranded, and a
// click on the chain opens its family: the parent, the child that waited
// on it, and their steps on one timeline, each saying whose; the API
// answers the same.
func TestConsoleChainFamilyInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse and chromium")
	}
	base := familyServer(t,
		familyRow("evt-p", "main", "m-1", "dead", "422 rejected", 10*time.Minute),
		familyRow("evt-c", "sub", "s-1", "parked", "parent main/m-1 not at the partner yet", 9*time.Minute, "main", "m-1"),
	)
	resp, err := http.Get(base + "/api/v1/chains/evt-p?partner=crm")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/chains/evt-p: %v %v", resp, err)
	}
	var fam struct {
		Families []attemptlog.Family `json:"families"`
	}
	err = json.NewDecoder(resp.Body).Decode(&fam)
	resp.Body.Close()
	if err != nil || len(fam.Families) != 1 || fam.Families[0].Parent.Stranded != 1 {
		t.Fatalf("GET /api/v1/chains/evt-p: %+v %v; want one family, its parent stranding 1 as the list says", fam, err)
	}
	resp, err = http.Get(base + "/api/v1/chains/nope")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error string `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || err != nil || !strings.Contains(e.Error, "no chain nope") {
		t.Fatalf("GET /api/v1/chains/nope: %d %+v %v, want 404 {\"error\":\"no chain nope …\"}", resp.StatusCode, e, err)
	}

	b := browsertest.New(t)
	b.Do(t, "failed chains", chromedp.Navigate(base+"/#chains"), chromedp.WaitVisible(chromedp.CSS(`#failed tr[data-id="evt-p"]`)))
	if got := b.Text(t, `#failed tr[data-id="evt-p"] td.stranded`); got != "1" {
		t.Fatalf("evt-p stranded %q, want 1", got)
	}
	b.Do(t, "open the family", chromedp.Click(chromedp.CSS(`#failed tr[data-id="evt-p"] a.family`)),
		chromedp.WaitVisible(chromedp.CSS(`#family .timeline tbody tr`)))
	if got := b.Text(t, `#family .children li[data-child="evt-c"]`); !strings.Contains(got, "sub/s-1") {
		t.Fatalf("child shown as %q", got)
	}
	whose, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#family .timeline tbody tr')].map((r) => r.className + ':' + r.dataset.chain).join(' ')`))
	if err != nil {
		t.Fatal(err)
	}
	if got := whose; got != "parent:evt-p child:evt-c" {
		t.Fatalf("timeline %q, want the parent's dead step, then the child's parked one", got)
	}
	if got := b.Text(t, `#family .head .stranded`); got != "stranded 1" {
		t.Fatalf("family head says %q, want stranded 1", got)
	}
	b.NoErrors(t, "chain family")
	// The API's 404 is logged by the browser as a failed load; the page says
	// what it means.
	b.Do(t, "an unknown chain", chromedp.Navigate(base+"/#chain?id=nope"), chromedp.WaitVisible(chromedp.CSS(`#family p.empty`)))
	if got := b.Text(t, `#family p.empty`); !strings.Contains(got, "No such chain") {
		t.Fatalf("an unknown chain's page says %q", got)
	}
	if got := b.Text(t, `#msg`); got != "" {
		t.Fatalf("an unknown chain's page shows an error: %q", got)
	}
}

// familyRow is one attempt-log row at partner crm, ts_ms 0.
func familyRow(chain, entity, key, step, errText string, ago time.Duration, parent ...string) attemptlog.Row {
	r := attemptlog.Row{"ts": strconv.FormatInt(time.Now().Add(-ago).Unix(), 10), "ts_ms": "0", "event_id": chain, "row_id": chain + ":" + step,
		"stream_id": "1-0", "account": "acc", "entity": entity, "key": key, "chain_id": chain, "op": "upsert", "version": "1",
		"attempt": "1", "step": step, "http_status": "0", "latency_us": "10", "error": errText, "instance": "t", "partner": "crm"}
	if len(parent) == 2 {
		r["parent_entity"], r["parent_key"] = parent[0], parent[1]
	}
	return r
}

// familyServer writes rows to a fresh attempt log and serves the console
// and API over it; its base URL.
func familyServer(t *testing.T, rows ...attemptlog.Row) string {
	t.Helper()
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := attemptlog.EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	if err := attemptlog.Insert(ctx, conn, db, rows); err != nil {
		t.Fatal(err)
	}
	src := attemptlog.ChainSource{Conn: conn, Database: db}
	c, err := NewConsole(ConsoleConfig{}, &counters{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addr: "127.0.0.1:0"}, func(context.Context) error { return nil }, nil, c.Wrap(NewAPI(&fakeOps{}, src, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return "http://" + s.Addr()
}

// Step times show their milliseconds in three digits (.720, not .72), on
// the family's timeline and on a chain's; Replay is offered for a dead
// chain and for an op=sync event invalid for want of a source (replayed
// once source.kind is set, it is delivered), not for any other invalid
// event, which replaying cannot deliver.
func TestConsoleChainTimesAndReplayInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("needs ClickHouse and chromium")
	}
	dead := familyRow("evt-p", "main", "m-1", "dead", "422 rejected", 10*time.Minute)
	dead["ts_ms"] = "720"
	parked := familyRow("evt-c", "sub", "s-1", "parked", "parent main/m-1 not at the partner yet", 9*time.Minute, "main", "m-1")
	parked["ts_ms"] = "5"
	base := familyServer(t, dead, parked,
		familyRow("evt-i", "main", "m-2", "invalid", "key: required", 8*time.Minute),
		familyRow("evt-s", "main", "m-3", "invalid", "op=sync needs a source to read the record from, and source.kind is none: set source.kind to http (with source.base_url) or file (with source.file)", 7*time.Minute),
	)
	b := browsertest.New(t)
	b.Do(t, "the family", chromedp.Navigate(base+"/#chain?id=evt-p&partner=crm"), chromedp.WaitVisible(chromedp.CSS(`#family .timeline tbody tr`)))
	times, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#family .timeline tbody tr td:first-child')].map((td) => td.textContent.slice(-4)).join(' ')`))
	if err != nil {
		t.Fatal(err)
	}
	if times != ".720 .005" {
		t.Fatalf("family timeline times end %q, want .720 .005", times)
	}
	b.Do(t, "a chain's timeline", chromedp.Navigate(base+"/#chains?event_id=evt-p"), chromedp.WaitVisible(chromedp.CSS(`#chain-results .chain tbody tr`)))
	if got := b.Text(t, `#chain-results .chain tbody tr td`); !strings.HasSuffix(got, ".720") {
		t.Fatalf("chain timeline time %q, want it to end .720", got)
	}
	if got := count(t, b, `#chain-results .replay-chain`); got != 1 {
		t.Fatalf("dead chain: %d Replay buttons, want 1", got)
	}
	b.Do(t, "an invalid chain", chromedp.Navigate(base+"/#chains?event_id=evt-i"), chromedp.WaitVisible(chromedp.CSS(`#chain-results .chain[data-chain="evt-i"]`)))
	if got := count(t, b, `#chain-results .replay-chain`); got != 0 {
		t.Fatalf("invalid chain: %d Replay buttons, want none", got)
	}
	b.Do(t, "a sync event without a source", chromedp.Navigate(base+"/#chains?event_id=evt-s"), chromedp.WaitVisible(chromedp.CSS(`#chain-results .chain[data-chain="evt-s"]`)))
	if got := count(t, b, `#chain-results .replay-chain`); got != 1 {
		t.Fatalf("sync event invalid for want of a source: %d Replay buttons, want 1", got)
	}
	b.Do(t, "failed chains", chromedp.Click(chromedp.CSS(`#chain-failed`)), chromedp.WaitVisible(chromedp.CSS(`#failed tr[data-id="evt-i"]`)))
	for id, want := range map[string]int{"evt-p": 1, "evt-i": 0, "evt-s": 1} {
		if got := count(t, b, `#failed tr[data-id="`+id+`"] .replay-chain`); got != want {
			t.Fatalf("failed list, %s: %d Replay buttons, want %d", id, got, want)
		}
	}
	b.NoErrors(t, "chain times and replay")
}

// count is how many elements sel (CSS) matches.
func count(t *testing.T, b *browsertest.Browser, sel string) int {
	t.Helper()
	n, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
	if err != nil {
		t.Fatalf("count %s: %v", sel, err)
	}
	return n
}
