package partner

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Ten minutes of an outage probed every 2 s: one WARN when the breaker
// opens, a summary a minute, an INFO when it closes; not two WARNs a probe.
func TestBreakerLogStateChangeOnceThenSummary(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1_700_000_000, 0)
	b := &breakerLog{log: slog.New(slog.NewTextHandler(&buf, nil)), now: func() time.Time { return now }, summaryEvery: time.Minute}
	b.change(BreakerClosed, BreakerOpen, "503")
	for range 300 { // a probe every 2 s, failing
		now = now.Add(2 * time.Second)
		b.change(BreakerOpen, BreakerHalfOpen, "503")
		b.change(BreakerHalfOpen, BreakerOpen, "503")
	}
	b.change(BreakerOpen, BreakerHalfOpen, "503")
	b.change(BreakerHalfOpen, BreakerClosed, "503")
	out := buf.String()
	if n := strings.Count(out, "level=WARN"); n != 11 {
		t.Fatalf("%d WARN lines over 10 minutes, want 1 opening and 10 summaries:\n%s", n, out)
	}
	if !strings.Contains(out, "partner still failing") || !strings.Contains(out, "failed_probes=30") || !strings.Contains(out, "down_for=10m0s") {
		t.Fatalf("summaries lack probes or duration:\n%s", out)
	}
	if strings.Count(out, "level=INFO") != 1 || !strings.Contains(out, "closed: the partner answers again") {
		t.Fatalf("closing not logged once:\n%s", out)
	}
}
