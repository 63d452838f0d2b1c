package admin

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/browsertest"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// partnerAPI answers like an admin API over two partners, crm and erp, and
// remembers the partner each call asked for ("" for all).
type partnerAPI struct {
	fakeOps
	mu  sync.Mutex
	got map[string][]string // endpoint → partners asked for
}

func (p *partnerAPI) saw(what, partner string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got == nil {
		p.got = map[string][]string{}
	}
	p.got[what] = append(p.got[what], partner)
}

func (p *partnerAPI) asked(what string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got[what]...)
}

func (p *partnerAPI) PartnerStatus(_ context.Context, partner string) (inspect.Status, error) {
	p.saw("status", partner)
	return inspect.Status{StreamLength: 7, Steps: map[string]int64{}}, nil
}

func (p *partnerAPI) ListDead(_ context.Context, f inspect.DeadFilter, _ string, _ int) ([]inspect.DeadLetter, string, error) {
	p.saw("dead", f.Partner)
	return []inspect.DeadLetter{{EventID: "d-" + f.Partner, Reason: "rejected", Fields: map[string]string{}}}, "", nil
}

func (p *partnerAPI) Chains(_ context.Context, f attemptlog.ChainFilter) ([]attemptlog.Chain, bool, error) {
	p.saw("chains", f.Partner)
	var out []attemptlog.Chain
	for _, name := range []string{"crm", "erp"} {
		if f.Partner == "" || f.Partner == name {
			out = append(out, attemptlog.Chain{Partner: name, ChainID: "E1", Account: "acc", LastStep: "dead", Steps: []attemptlog.Step{{Step: "dead"}}})
		}
	}
	return out, false, nil
}

// The console's partner switch lists the partners the API names, keeps the
// one picked in the URL, and every page asks the API for that partner's:
// the failed chains (each row naming its partner), the dead letters, the
// overview's status; "all partners" asks for every one's again.
func TestConsolePartnerSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("needs chromium")
	}
	api := &partnerAPI{}
	c, err := NewConsole(ConsoleConfig{}, api, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Addr: "127.0.0.1:0", Partners: []string{"crm", "erp"}}, func(context.Context) error { return nil }, nil,
		c.Wrap(NewAPI(api, api, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	base := "http://" + s.Addr()

	b := browsertest.New(t)
	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("%s (%s): %v", what, expr, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}

	b.Do(t, "chains of every partner", chromedp.Navigate(base+"/#chains"), chromedp.WaitVisible(chromedp.CSS(`#failed tr[data-partner="erp"]`)),
		chromedp.WaitVisible(chromedp.CSS("#partner-switch")))
	if got := eval(`[...document.querySelectorAll('#partner option')].map((o) => o.value || 'all').join(' ')`); got != "all crm erp" {
		t.Fatalf("the switch lists %q, want all crm erp", got)
	}
	if got := b.Text(t, `#failed tr[data-partner="crm"]`); !strings.Contains(got, "crm") {
		t.Fatalf("crm's chain row %q does not name crm", got)
	}

	eval(`(() => { const s = document.querySelector('#partner'); s.value = 'erp'; s.dispatchEvent(new Event('change')); return ''; })()`)
	wait("erp's chains only", `location.hash === '#chains?partner=erp' && !!document.querySelector('#failed tr[data-partner="erp"]') && !document.querySelector('#failed tr[data-partner="crm"]')`)
	if got := api.asked("chains"); got[len(got)-1] != "erp" {
		t.Fatalf("chains asked for %q", got)
	}
	if got := eval(`document.querySelector('#failed a').getAttribute('href')`); got != "#chains?event_id=E1&partner=erp" {
		t.Fatalf("a chain's link %q does not keep the partner", got)
	}
	b.Do(t, "erp's dead letters from the menu", chromedp.Click(chromedp.CSS(`nav a[data-page="dead"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#dead-rows tr[data-id="d-erp"]`)))
	if h := eval(`location.hash`); h != "#dead?partner=erp" {
		t.Fatalf("the menu led to %q", h)
	}

	// A link with the partner in it, opened afresh.
	b.Do(t, "overview of erp", chromedp.Navigate(base+"/#overview?partner=erp"), chromedp.WaitVisible(chromedp.CSS(`#cards .card[data-key="stream length"]`)))
	wait("the switch shows erp", `document.querySelector('#partner').value === 'erp' && !document.querySelector('#partner-switch').hidden`)
	if got := b.Text(t, `#cards .card[data-key="stream length"] .v`); got != "7" {
		t.Fatalf("erp's stream length shown as %q, want its status' 7", got)
	}
	if got := api.asked("status"); len(got) == 0 || got[len(got)-1] != "erp" {
		t.Fatalf("status asked for %q", got)
	}

	eval(`(() => { const s = document.querySelector('#partner'); s.value = ''; s.dispatchEvent(new Event('change')); return ''; })()`)
	wait("every partner's overview", `location.hash === '#overview' && document.querySelector('#cards .card[data-key="stream length"] .v')?.textContent === '3'`)
	b.Do(t, "dead letters of every partner", chromedp.Navigate(base+"/#dead"), chromedp.WaitVisible(chromedp.CSS(`#dead-rows tr[data-id="d-"]`)))
	b.NoErrors(t, "partner switch")
	if got := api.asked("dead"); strings.Join(got, ",") != "erp," {
		t.Fatalf("dead letters asked for %q, want erp's then every partner's", got)
	}
}
