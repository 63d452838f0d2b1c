package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/sinks/partner"
)

// An outage after good traffic (docs/events.md): the breaker opens within 20
// consecutive failures however many calls succeeded before, so at most 19
// events spend an attempt (a retry_scheduled row) on it, not every event in
// flight; afterwards every event is delivered and none is dead.
func TestOutageAfterGoodTrafficCostsFewAttempts(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	h := newHarness(t, options{sink: func(c *partner.Config) {
		c.Breaker = partner.BreakerConfig{OpenFor: 50 * time.Millisecond, PollInterval: 2 * time.Millisecond}
	}})
	var good, later []string
	for i := range 100 {
		good = append(good, fmt.Sprint("g", i))
		h.upsert(good[i], fmt.Sprint("acc", i%20), "main", fmt.Sprint("g", i), 1, `{}`)
	}
	h.waitTerminal(good, 30*time.Second)
	t.Log("good traffic delivered")
	h.faults(partnersim.Faults{Outage: true})
	for i := range 60 {
		later = append(later, fmt.Sprint("o", i))
		h.upsert(later[i], fmt.Sprint("acc", i%50), "main", fmt.Sprint("o", i), 1, `{}`)
	}
	testenv.WaitFor(t, 20*time.Second, "probes during the outage", func() bool { return h.sim.Snapshot("").Stats.ByStatus["503"] >= 60 })
	retries := 0
	for _, id := range later {
		for _, s := range h.steps(id) {
			if s == "retry_scheduled" {
				retries++
			}
		}
	}
	if retries > 19 {
		t.Fatalf("%d events spent an attempt on the outage before the breaker opened, want at most 19", retries)
	}
	t.Log("outage probed")
	h.faults(partnersim.Faults{})
	by := h.advanceUntilTerminal(later, time.Minute, 30*time.Second)
	for _, id := range later {
		if s := by[id]; s[len(s)-1] != "delivered" {
			t.Fatalf("%s: %v", id, s)
		}
	}
	if d := h.dead(); len(d) != 0 {
		t.Fatalf("dead letters: %+v", d)
	}
}
