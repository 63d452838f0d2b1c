package pipeline

import (
	"context"
	"fmt"
	"github.com/streamsync/streamsync/inspect"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/sinks/partner"
)

// A token endpoint that refuses the credentials (docs/events.md): the events
// wait without a row per probe (there used to be a retry_scheduled row per
// probe, at attempt 0, for ever), none is dead-lettered, status says so, and
// once the credentials are accepted every event is delivered.
func TestRefusedCredentialsWaitWithoutRows(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	h := newHarness(t, options{sink: func(c *partner.Config) {
		c.Breaker = partner.BreakerConfig{OpenFor: 20 * time.Millisecond, PollInterval: 2 * time.Millisecond}
	}})
	h.faults(partnersim.Faults{RefuseTokens: true})
	ctx, cancel := context.WithCancel(context.Background())
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		PartnerReporter{RDB: h.rdb, Keys: h.keys, Instance: "c1", Sink: h.sender.(*partner.Sink), Every: 5 * time.Millisecond}.Run(ctx)
	}()
	defer func() { cancel(); <-reported }()

	var ids []string
	for i := range 6 {
		ids = append(ids, fmt.Sprint("e", i))
		h.upsert(ids[i], fmt.Sprint("acc", i%3), "main", fmt.Sprint("k", i), 1, `{}`)
	}
	testenv.WaitFor(t, 10*time.Second, "many refused token requests", func() bool {
		h.clock.Add(time.Minute) // any retry that was scheduled comes due
		return h.sim.Snapshot("").Stats.ByStatus["401"] >= 40
	})
	for _, id := range ids {
		if s := h.steps(id); len(s) != 0 {
			t.Fatalf("%s has rows while the credentials are refused: %v", id, s)
		}
	}
	if d := h.dead(); len(d) != 0 {
		t.Fatalf("dead letters: %+v", d)
	}
	var st inspect.Status
	testenv.WaitFor(t, 10*time.Second, "status to show the refusal", func() bool {
		var err error
		if st, err = inspect.ReadStatus(context.Background(), h.rdb, h.keys); err != nil {
			t.Fatal(err)
		}
		return len(st.Partner) == 1 && !st.Partner[0].AuthOK
	})
	if p := st.Partner[0]; p.Instance != "c1" || p.ClientID != "id" || !strings.Contains(p.AuthError, "401") || !strings.Contains(p.AuthError, "invalid_client") ||
		p.Breaker == "closed" || p.AuthRefusedSince == 0 {
		t.Fatalf("status %+v", p)
	}

	h.faults(partnersim.Faults{})
	by := h.waitTerminal(ids, 20*time.Second)
	for _, id := range ids {
		if s := by[id]; strings.Join(s, ",") != "delivered" {
			t.Fatalf("%s: %v", id, s)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "status to show the credentials accepted", func() bool {
		st, _ = inspect.ReadStatus(context.Background(), h.rdb, h.keys)
		return len(st.Partner) == 1 && st.Partner[0].AuthOK && st.Partner[0].Breaker == "closed"
	})
	cancel()
	<-reported
	if st, _ = inspect.ReadStatus(context.Background(), h.rdb, h.keys); len(st.Partner) != 0 {
		t.Fatalf("a stopped process is still in status: %+v", st.Partner)
	}
}
