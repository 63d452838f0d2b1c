package partner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

func TestBreakerStates(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	var changes []string
	b := newBreaker(BreakerConfig{TripAfter: 3, OpenFor: 2 * time.Second}, c.Now, func(from, to BreakerState) {
		changes = append(changes, from.String()+">"+to.String())
	})
	mustAdmit := func(wantProbe bool) {
		t.Helper()
		probe, ok := b.admit()
		if !ok || probe != wantProbe {
			t.Fatalf("admit = %v %v, want probe=%v", probe, ok, wantProbe)
		}
	}
	mustRefuse := func() {
		t.Helper()
		if _, ok := b.admit(); ok {
			t.Fatalf("admitted a call at %s in state %s", c.Now().Format(time.TimeOnly), b.State())
		}
	}
	// Many successes do not delay the trip: 3 consecutive failures open it.
	for range 1000 {
		mustAdmit(false)
		b.done(false, answered, 0)
	}
	for range 2 {
		mustAdmit(false)
		b.done(false, failed, 0)
	}
	mustAdmit(false)
	b.done(false, answered, 0) // a success in between starts the count again
	for range 3 {
		mustAdmit(false)
		b.done(false, failed, 0)
	}
	if b.State() != BreakerOpen {
		t.Fatal("not open after 3 consecutive failures")
	}
	mustRefuse()
	c.Add(1999 * time.Millisecond)
	mustRefuse()
	c.Add(time.Millisecond)
	mustAdmit(true) // one probe…
	mustRefuse()    // …at a time
	b.done(true, failed, 5*time.Second)
	c.Add(2 * time.Second)
	mustRefuse() // the probe's Retry-After holds the next one
	c.Add(3 * time.Second)
	mustAdmit(true)
	b.done(true, cut, 0) // a probe cut short by a shutdown keeps the schedule
	mustRefuse()
	c.Add(2 * time.Second)
	mustAdmit(true)
	b.done(true, answered, 0)
	if b.State() != BreakerClosed {
		t.Fatal("an answered probe did not close it")
	}
	// A Retry-After while closed holds the probe schedule once it opens.
	mustAdmit(false)
	b.done(false, failed, 10*time.Second)
	mustAdmit(false)
	b.done(false, refused, 0) // refused credentials open it at once
	c.Add(2 * time.Second)
	mustRefuse()
	c.Add(8 * time.Second)
	mustAdmit(true)
	want := "closed>open,open>half-open,half-open>open,open>half-open,half-open>open,open>half-open,half-open>closed,closed>open,open>half-open"
	if got := fmt.Sprint(changes); got != "["+stringsReplace(want)+"]" {
		t.Fatalf("changes %s, want %s", got, want)
	}
}

func stringsReplace(s string) string {
	out := []byte(s)
	for i := range out {
		if out[i] == ',' {
			out[i] = ' '
		}
	}
	return string(out)
}

// staysFor checks cond over a stretch of real time in which nothing should
// happen (the clock does not move, so the breaker must not let a call out).
func staysFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if !cond() {
			t.Fatal(what)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, what, cond)
}

// docs/events.md: the breaker trips within 20 consecutive transient failures
// however many calls succeeded before; while open, one probe at a time, at
// most one every 2 s. Over real HTTP to partnersim, on the injected clock.
func TestBreakerTripsWithin20FailuresAfterManySuccesses(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Breaker = BreakerConfig{PollInterval: time.Millisecond} })
	ctx := context.Background()
	for i := range 300 {
		if r := f.sink.Send(ctx, ev(fmt.Sprint("ok", i), "x", fmt.Sprint("k", i), 1, `{}`)); r.Class != delivery.Delivered {
			t.Fatal(r)
		}
	}
	f.faults(t, partnersim.Faults{Outage: true})
	failures := func() int64 { return f.sim.Snapshot("").Stats.ByStatus["503"] }
	for i := range 19 {
		if r := f.sink.Send(ctx, ev(fmt.Sprint("down", i), "x", "k", 2, `{}`)); r.Class != delivery.Transient || r.Calls != 1 {
			t.Fatalf("failure %d: %+v", i+1, r)
		}
	}
	if st := f.sink.Health().Breaker; st != BreakerClosed {
		t.Fatalf("open after 19 failures: %s", st)
	}
	// The 20th failure opens it: that delivery and ten more wait, none spending an attempt.
	results := make(chan delivery.Answer, 11)
	send := func(i int) { results <- f.sink.Send(ctx, ev(fmt.Sprint("wait", i), "x", fmt.Sprint("w", i), 1, `{}`)) }
	go send(0)
	waitUntil(t, "the breaker to open", func() bool { return f.sink.Health().Breaker == BreakerOpen })
	for i := 1; i < 11; i++ {
		go send(i)
	}
	staysFor(t, 100*time.Millisecond, "calls went out while the breaker was open", func() bool { return failures() == 20 })
	for probe := int64(1); probe <= 3; probe++ {
		f.clock.Add(1999 * time.Millisecond)
		staysFor(t, 50*time.Millisecond, "a probe before 2 s had passed", func() bool { return failures() == 20+probe-1 })
		f.clock.Add(time.Millisecond)
		waitUntil(t, "a probe", func() bool { return failures() == 20+probe && f.sink.Health().Breaker == BreakerOpen })
		staysFor(t, 50*time.Millisecond, "more than one probe", func() bool { return failures() == 20+probe })
	}
	f.faults(t, partnersim.Faults{})
	f.clock.Add(2 * time.Second)
	for range 11 {
		r := <-results
		if r.Class != delivery.Delivered || r.Calls != 1 {
			t.Fatalf("after the outage: %+v (only the answered call counts)", r)
		}
	}
	if n := failures(); n != 23 {
		t.Fatalf("%d failed calls during the outage, want 20 and 3 probes", n)
	}
}

// A Retry-After holds the probe schedule: on a probe's answer, and on an
// answer before the breaker opened.
func TestRetryAfterHoldsTheProbes(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Breaker = BreakerConfig{TripAfter: 3, PollInterval: time.Millisecond} })
	ctx := context.Background()
	if r := f.sink.Send(ctx, ev("first", "x", "k0", 1, `{}`)); r.Class != delivery.Delivered {
		t.Fatal(r)
	}
	calls := func() int64 { st := f.sim.Snapshot("").Stats; return st.ByStatus["429"] + st.ByStatus["503"] }
	// Two 503s, then a 429 Retry-After: 10 that opens the breaker.
	f.faults(t, partnersim.Faults{Outage: true})
	for i := range 2 {
		if r := f.sink.Send(ctx, ev(fmt.Sprint("d", i), "x", "k", 2, `{}`)); r.Class != delivery.Transient {
			t.Fatal(r)
		}
	}
	f.faults(t, partnersim.Faults{Rate429: 1, RetryAfter: partnersim.Duration(10 * time.Second)})
	done := make(chan delivery.Answer, 1)
	go func() { done <- f.sink.Send(ctx, ev("held", "x", "k", 3, `{}`)) }()
	waitUntil(t, "the breaker to open", func() bool { return f.sink.Health().Breaker == BreakerOpen })
	f.clock.Add(9 * time.Second)
	staysFor(t, 100*time.Millisecond, "a probe before the Retry-After of 10 s", func() bool { return calls() == 3 })
	// The probe at 10 s gets 429 Retry-After: 5 — no probe for 5 s more, though 2 s is the usual spacing.
	f.faults(t, partnersim.Faults{Rate429: 1, RetryAfter: partnersim.Duration(5 * time.Second)})
	f.clock.Add(time.Second)
	waitUntil(t, "the probe at 10 s", func() bool { return calls() == 4 && f.sink.Health().Breaker == BreakerOpen })
	f.clock.Add(4 * time.Second)
	staysFor(t, 100*time.Millisecond, "a probe before the probe's Retry-After of 5 s", func() bool { return calls() == 4 })
	f.faults(t, partnersim.Faults{})
	f.clock.Add(time.Second)
	select {
	case r := <-done:
		if r.Class != delivery.Delivered || r.Calls != 1 {
			t.Fatalf("%+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no probe once the Retry-After had passed")
	}
}

// After an outage the waiting deliveries do not all reach the partner at
// once: two calls at a time, one more per answer, then no limit.
func TestBreakerSlowStart(t *testing.T) {
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	b := newBreaker(BreakerConfig{TripAfter: 1, OpenFor: time.Second}, c.Now, nil)
	b.admit()
	b.done(false, failed, 0)
	c.Add(time.Second)
	if probe, ok := b.admit(); !probe || !ok {
		t.Fatal("no probe")
	}
	b.done(true, answered, 0)
	admitted := 0
	for range 3 {
		if _, ok := b.admit(); ok {
			admitted++
		}
	}
	if admitted != 2 {
		t.Fatalf("%d calls at once right after the outage, want 2", admitted)
	}
	b.done(false, answered, 0)
	for range 2 {
		if _, ok := b.admit(); !ok {
			t.Fatal("the limit did not grow with an answer")
		}
	}
	if _, ok := b.admit(); ok {
		t.Fatal("more than 3 at once after one answer")
	}
	for range rampMax {
		b.done(false, answered, 0)
		b.admit()
	}
	for range 5000 {
		if _, ok := b.admit(); !ok {
			t.Fatal("still limited after the ramp")
		}
	}
}
