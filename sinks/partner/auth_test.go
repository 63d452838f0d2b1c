package partner

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/partnersim"
)

type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines are the logged lines that hold every one of subs.
func (l *logBuf) lines(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range strings.Split(l.buf.String(), "\n") {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// docs/events.md: a token endpoint that refuses the credentials is handled as
// "partner down" — events wait, none fails — and loudly: an ERROR naming
// sink.client_id and the endpoint's answer at most once a minute, the
// streamsync_partner_auth_ok gauge, and Health for `status`.
func TestRefusedCredentialsWaitLoudly(t *testing.T) {
	logs := &logBuf{}
	reg := prometheus.NewRegistry()
	f := newFixture(t, func(c *Config) {
		c.Breaker = BreakerConfig{PollInterval: time.Millisecond}
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.Registerer = reg
	})
	gauge := func(name string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	if gauge("streamsync_partner_auth_ok") != 1 || gauge("streamsync_partner_breaker_state") != 0 {
		t.Fatal("gauges at start")
	}
	f.faults(t, partnersim.Faults{RefuseTokens: true})
	refusals := func() int64 { return f.sim.Snapshot("").Stats.ByStatus["401"] }
	ctx := context.Background()
	results := make(chan delivery.Answer, 3)
	send := func(i int) { results <- f.sink.Send(ctx, ev(fmt.Sprint("e", i), "x", fmt.Sprint("k", i), 1, `{}`)) }
	go send(0)
	waitUntil(t, "the refusal to be noticed and the breaker to open", func() bool {
		h := f.sink.Health()
		return !h.AuthOK && h.Breaker == BreakerOpen // the refusal is recorded just before the breaker opens
	})
	go send(1)
	go send(2)
	errorsLogged := func() int {
		return len(logs.lines("level=ERROR", "sink.client_id=id", "401 Unauthorized", "invalid_client"))
	}
	if n := errorsLogged(); n != 1 {
		t.Fatalf("%d ERROR lines naming sink.client_id and the answer, want 1:\n%s", n, strings.Join(logs.lines(""), "\n"))
	}
	h := f.sink.Health()
	if h.Breaker != BreakerOpen || h.ClientID != "id" || !strings.Contains(h.AuthError, "invalid_client") || h.AuthRefusedSince.IsZero() {
		t.Fatalf("health %+v", h)
	}
	if gauge("streamsync_partner_auth_ok") != 0 || gauge("streamsync_partner_breaker_state") != 2 {
		t.Fatal("gauges while refused")
	}
	// Probes go on every 2 s; the ERROR comes again only after a minute.
	before := refusals()
	staysFor(t, 50*time.Millisecond, "the token endpoint was asked while the breaker was open", func() bool { return refusals() == before })
	for range 29 {
		f.clock.Add(2 * time.Second)
		at := refusals()
		waitUntil(t, "a probe", func() bool { return refusals() > at && f.sink.Health().Breaker == BreakerOpen })
	}
	if n := errorsLogged(); n != 1 {
		t.Fatalf("%d ERROR lines within a minute", n)
	}
	f.clock.Add(2 * time.Second)
	waitUntil(t, "the ERROR a minute later", func() bool { return errorsLogged() == 2 })
	select {
	case r := <-results:
		t.Fatalf("a delivery ended while the credentials were refused: %+v", r)
	default:
	}
	// Accepted again: every event is delivered, spending one attempt.
	f.faults(t, partnersim.Faults{})
	f.clock.Add(2 * time.Second)
	for range 3 {
		if r := <-results; r.Class != delivery.Delivered || r.Calls != 1 {
			t.Fatalf("%+v", r)
		}
	}
	if !f.sink.Health().AuthOK || gauge("streamsync_partner_auth_ok") != 1 || gauge("streamsync_partner_breaker_state") != 0 {
		t.Fatalf("after the credentials were accepted again: %+v", f.sink.Health())
	}
	if len(logs.lines("level=INFO", "accepts the credentials again")) != 1 {
		t.Fatal("no INFO line when the credentials were accepted again")
	}
}

// Without auth configured the gauge says 1, and a registry taking the sink's
// gauges twice is an error, not a panic.
func TestAuthGaugeWithoutAuth(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := sinkAt(t, "http://127.0.0.1:1", func(c *Config) { c.Registerer = reg })
	if !s.Health().AuthOK || s.Health().TokenURL != "" {
		t.Fatalf("%+v", s.Health())
	}
	if _, err := New(Config{BaseURL: "http://127.0.0.1:1", Registerer: reg}); err == nil {
		t.Fatal("registered the gauges twice without an error")
	}
}

// The Authorization header is made once per token, and follows a new token.
func TestBearerHeaderOncePerToken(t *testing.T) {
	s := &Sink{}
	a := s.bearer("token-a")
	if got := s.bearer("token-a"); &got[0] != &a[0] || got[0] != "Bearer token-a" {
		t.Fatalf("second request with token-a: %q (made again: %v)", got, &got[0] != &a[0])
	}
	if got := s.bearer("token-b"); got[0] != "Bearer token-b" {
		t.Fatalf("after a new token: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { s.bearer("token-b") }); n != 0 {
		t.Fatalf("the header for a known token allocated %v times", n)
	}
}
