package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/streamsync/streamsync/internal/browsertest"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// What other parts of streamsync add to the status and the reconciliation
// runs (docs/reconcile.md's classes), as their endpoints answer; the console
// renders them when present.
const (
	richStatus = `{"stream_length":12,"pending":1,"lag":3,"delayed":2,"retrying":1,"dead":4,"attempts_backlog":0,"consumers":1,
		"steps":{"delivered":40},"prepared":5,"breaker_state":"open","partner_auth":{"state":"refused","client_id":"streamsync"}}`
	runsJSON = `{"runs":[{"run_id":"r2","against":"source","started":"2026-11-30T12:00:00.123Z","finished":"2026-11-30T12:00:03Z",
		"ours":100,"theirs":99,"equal":95,"missing":2,"extra":1,"behind":1,"ahead":0,"differs":1,"repaired":0,"status":"differences",
		"differences":[{"class":"missing","entity":"main_registration","key":"m-7","account":"acc-1","our_version":3,"their_version":0}]},
		{"run_id":"r1","against":"ledger","started":"2026-11-30T11:00:00Z","ours":10,"theirs":10,"equal":10,"status":"equal","differences":[]}]}`
)

// The console's overview and reconciliation pages in chromium against an
// admin server whose API serves the fields other parts add: prepared,
// breaker and auth state are shown, the runs and differences by class
// listed; a status without them shows "—".
func TestConsoleRendersOtherPartsFields(t *testing.T) {
	if testing.Short() {
		t.Skip("needs chromium")
	}
	c, err := NewConsole(ConsoleConfig{}, &counters{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := http.NewServeMux()
	api.Handle("/", c.Wrap(NewAPI(&fakeOps{}, nil, nil)))
	api.HandleFunc("GET /api/v1/reconcile/runs", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(runsJSON))
	})
	rich := http.NewServeMux()
	rich.Handle("/", api)
	rich.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(richStatus))
	})
	start := func(h http.Handler) string {
		s, err := New(Config{Addr: "127.0.0.1:0"}, func(context.Context) error { return nil }, nil, h, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		return "http://" + s.Addr()
	}
	perProcess := http.NewServeMux()
	perProcess.Handle("/", api)
	perProcess.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"stream_length":1,"steps":{},"partner":[{"instance":"a","breaker":"closed","auth_ok":true},
			{"instance":"b","breaker":"half-open","auth_ok":false,"auth_error":"401 invalid_client"}]}`))
	})
	richURL, plainURL, perProcessURL := start(rich), start(api), start(perProcess)

	b := browsertest.New(t)
	shots := browsertest.ScreenshotDir(t)
	card := func(key string) string { return b.Text(t, `#cards .card[data-key="`+key+`"] .v`) }
	// The cards are drawn in one go from the status answer: once one is
	// visible, every value is there.
	b.Do(t, "overview", chromedp.Navigate(richURL+"/"), chromedp.WaitVisible(chromedp.CSS(`#cards .card[data-key="prepared"]`)))
	if got := [3]string{card("prepared"), card("breaker"), card("partner auth")}; got != [3]string{"5", "open", "refused"} {
		t.Fatalf("prepared, breaker, auth shown as %v", got)
	}
	b.Do(t, "reconciliation", chromedp.Navigate(richURL+"/#reconcile"), chromedp.WaitVisible(chromedp.CSS("#reconcile-runs")))
	if h := b.Text(t, "#reconcile h2"); h != "Last run r2: differences by class" {
		t.Fatalf("heading %q", h)
	}
	classes := b.Text(t, "#reconcile .classes")
	for _, want := range []string{"missing\n2\nextra\n1", "differs\n1"} {
		if !strings.Contains(classes, want) {
			t.Fatalf("classes %q lack %q", classes, want)
		}
	}
	if d := b.Text(t, "#reconcile-diffs tbody"); !strings.Contains(d, "main_registration/m-7") {
		t.Fatalf("differences %q", d)
	}
	if r := b.Text(t, `#reconcile-runs tr[data-run="r1"]`); !strings.Contains(r, "2026-11-30 11:00:00Z") || !strings.Contains(r, "equal") {
		t.Fatalf("run r1 row %q", r)
	}
	b.Screenshot(t, shots, "reconciliation-runs")
	b.NoErrors(t, "reconciliation")

	b.Do(t, "per-process partner state", chromedp.Navigate(perProcessURL+"/"), chromedp.WaitVisible(chromedp.CSS(`#cards .card[data-key="prepared"]`)))
	if got := [2]string{card("breaker"), card("partner auth")}; got != [2]string{"half-open", "refused"} {
		t.Fatalf("from the partner list: %v", got)
	}
	b.NoErrors(t, "per-process partner state")

	b.Do(t, "plain overview", chromedp.Navigate(plainURL+"/"), chromedp.WaitVisible(chromedp.CSS(`#cards .card[data-key="prepared"]`)))
	if got := [3]string{card("prepared"), card("breaker"), card("partner auth")}; got != [3]string{"0", "—", "—"} {
		// The status always counts prepared events (0 here); a status
		// without the partner's state shows "—".
		t.Fatalf("without the fields: %v", got)
	}
	b.NoErrors(t, "plain overview")
}

// truncatedChains answers like a ChainLister whose query matched more
// chains than it may return.
type truncatedChains struct{}

func (truncatedChains) Chains(context.Context, attemptlog.ChainFilter) ([]attemptlog.Chain, bool, error) {
	return []attemptlog.Chain{{ChainID: "c1", Account: "acc", LastStep: "dead", Steps: []attemptlog.Step{{Step: "dead"}}, StepsTotal: 250}}, true, nil
}

// Bounded answers in the console: a page of large dead letters stops near
// inspect.MaxListBytes and the pager walks on to every one of them; a
// failed-chains answer cut at its limit says so, and a chain's clipped
// steps are counted in full.
func TestConsoleShowsBoundedAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis and chromium")
	}
	ops, _, _ := deadLetters(t, 24, 512<<10)
	base := startWith(t, ops, truncatedChains{}, nil)
	b := browsertest.New(t)
	rows := func() int {
		n, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](`document.querySelectorAll('#dead-rows tr[data-id]').length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	b.Do(t, "dead letters", chromedp.Navigate(base+"/#dead"), chromedp.WaitVisible(chromedp.CSS(`#dead-rows tr[data-id="d-0"]`)))
	first := rows()
	if first == 0 || first >= 24 || !strings.Contains(b.Text(t, "#dead-page"), "more follow") {
		t.Fatalf("first page: %d rows, %q; want fewer than 24 and more to follow", first, b.Text(t, "#dead-page"))
	}
	seen := first
	for page := 2; strings.Contains(b.Text(t, "#dead-page"), "more follow"); page++ {
		b.Do(t, "next page", chromedp.Click(chromedp.CSS("#dead-next")),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#dead-rows tr[data-id="d-%d"]`, seen))))
		seen += rows()
		if page > 24 {
			t.Fatal("the pager does not end")
		}
	}
	if seen != 24 {
		t.Fatalf("%d dead letters paged through, want 24", seen)
	}
	b.NoErrors(t, "dead letters")

	b.Do(t, "failed chains", chromedp.Navigate(base+"/#chains"), chromedp.WaitVisible(chromedp.CSS("#failed")))
	note, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.querySelector('#truncated')?.textContent ?? ''`))
	if err != nil || !strings.Contains(note, "more matched") {
		t.Fatalf("truncation note %q (%v)", note, err)
	}
	if steps := b.Text(t, `#failed tr[data-id="c1"] td.num`); steps != "250" {
		t.Fatalf("steps of a clipped chain shown as %q, want 250", steps)
	}
	b.NoErrors(t, "chains")
}
