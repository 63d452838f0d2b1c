package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/streamsync/streamsync/internal/browsertest"
)

// What other parts of streamsync add to the status and the reconciliation
// runs (contract §6's classes), as their endpoints answer; the console
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
