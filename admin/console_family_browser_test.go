package admin

import (
	"context"
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
	conn, db := testenv.ClickHouse(t)
	ctx := context.Background()
	if err := attemptlog.EnsureSchema(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	row := func(chain, entity, key, step, errText string, ago time.Duration, parent ...string) attemptlog.Row {
		r := attemptlog.Row{"ts": strconv.FormatInt(time.Now().Add(-ago).Unix(), 10), "ts_ms": "0", "event_id": chain, "row_id": chain + ":" + step,
			"stream_id": "1-0", "account": "acc", "entity": entity, "key": key, "chain_id": chain, "op": "upsert", "version": "1",
			"attempt": "1", "step": step, "http_status": "0", "latency_us": "10", "error": errText, "instance": "t", "partner": "crm"}
		if len(parent) == 2 {
			r["parent_entity"], r["parent_key"] = parent[0], parent[1]
		}
		return r
	}
	if err := attemptlog.Insert(ctx, conn, db, []attemptlog.Row{
		row("evt-p", "main", "m-1", "dead", "422 rejected", 10*time.Minute),
		row("evt-c", "sub", "s-1", "parked", "parent main/m-1 not at the partner yet", 9*time.Minute, "main", "m-1"),
	}); err != nil {
		t.Fatal(err)
	}
	c, err := NewConsole(ConsoleConfig{}, &counters{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := attemptlog.ChainSource{Conn: conn, Database: db}
	s, err := New(Config{Addr: "127.0.0.1:0"}, func(context.Context) error { return nil }, nil, c.Wrap(NewAPI(&fakeOps{}, src, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	base := "http://" + s.Addr()
	resp, err := http.Get(base + "/api/v1/chains/evt-p?partner=crm")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/chains/evt-p: %v %v", resp, err)
	}
	resp.Body.Close()

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
	b.NoErrors(t, "chain family")
}
