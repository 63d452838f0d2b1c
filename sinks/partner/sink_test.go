package partner

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/partnersim"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	sim   *partnersim.Server
	url   string
	clock *clock
	sink  *Sink
}

// newFixture runs partnersim over real HTTP and a sink against it; both
// share one clock, so tests expire tokens by moving it.
func newFixture(tb testing.TB, mutate func(*Config)) *fixture {
	tb.Helper()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec", TokenTTL: 10 * time.Second, Now: c.Now})
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	tb.Cleanup(hs.Close)
	cfg := Config{BaseURL: hs.URL, ClientID: "id", ClientSecret: "sec", Timeout: 2 * time.Second, Now: c.Now,
		Breaker: BreakerConfig{TripAfter: 5, OpenFor: 30 * time.Millisecond, PollInterval: 5 * time.Millisecond}}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return &fixture{sim: sim, url: hs.URL, clock: c, sink: s}
}

func (f *fixture) faults(tb testing.TB, fl partnersim.Faults) {
	tb.Helper()
	if err := f.sim.SetFaults(fl); err != nil {
		tb.Fatal(err)
	}
}

func ev(id, entity, key string, version int64, data string) event.Event {
	return event.Event{ID: id, Account: "acc", Entity: entity, Key: key, Op: event.OpUpsert, Version: version, Data: json.RawMessage(data)}
}

func TestSendUpsertAndDelete(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	parent := ev("e1", "main_registration", "m/1 #x", 1, `{"n":1}`)
	child := ev("e2", "sub_registration", "s-1", 2, `{"seat":"A3"}`)
	child.ParentEntity, child.ParentKey = parent.Entity, parent.Key

	if r := f.sink.Send(ctx, child); r.Class != delivery.ParentMissing || r.Status != 409 || r.Calls != 1 {
		t.Fatalf("child first: %+v", r)
	}
	if r := f.sink.Send(ctx, parent); r.Class != delivery.Delivered || r.Status != 201 {
		t.Fatalf("parent: %+v", r)
	}
	if r := f.sink.Send(ctx, child); r.Class != delivery.Delivered || r.Latency <= 0 {
		t.Fatalf("child: %+v", r)
	}
	if r := f.sink.Send(ctx, ev("e3", "sub_registration", "s-1", 2, `{"seat":"B"}`)); r.Class != delivery.Stale {
		t.Fatalf("same version again: %+v", r)
	}
	del := event.Event{ID: "e4", Account: "acc", Entity: "sub_registration", Key: "s-1", Op: event.OpDelete, Version: 3}
	if r := f.sink.Send(ctx, del); r.Class != delivery.Delivered || r.Status != 204 {
		t.Fatalf("delete: %+v", r)
	}
	del.ID, del.Version = "e5", 4
	if r := f.sink.Send(ctx, del); r.Class != delivery.Delivered || r.Status != 404 {
		t.Fatalf("delete of a gone record: %+v", r)
	}
	st := f.sim.Snapshot("")
	if len(st.Records) != 2 || st.Records[0].Key != "m/1 #x" || !st.Records[1].Deleted {
		t.Fatalf("partner state %+v", st.Records)
	}
	log := f.sim.Log(0, 0)
	if log[0].IdempotencyKey != "e2" || log[len(log)-1].IdempotencyKey != "e5" {
		t.Fatalf("Idempotency-Key not sent: %+v", log)
	}
	if f.sim.Snapshot("").Stats.TokensIssued != 1 {
		t.Fatal("the token is reused across calls")
	}
}

func TestTokenRefreshedBeforeExpiryAndOn401(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if r := f.sink.Send(ctx, ev("e1", "x", "k", 1, `{}`)); r.Class != delivery.Delivered {
		t.Fatal(r)
	}
	// 9s into a 10s token: within the early-expiry margin, so a new one is fetched first.
	f.clock.Add(9 * time.Second)
	if r := f.sink.Send(ctx, ev("e2", "x", "k", 2, `{}`)); r.Class != delivery.Delivered || r.Calls != 1 {
		t.Fatal(r)
	}
	st := f.sim.Snapshot("").Stats
	if st.TokensIssued != 2 || st.ByStatus["401"] != 0 {
		t.Fatalf("want a refresh before expiry without a 401: %+v", st)
	}
	// The partner forgets every token (as after its restart): one 401, a fresh token, and the same call again.
	f.sim.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/_sim/reset", nil))
	if r := f.sink.Send(ctx, ev("e3", "x", "k", 3, `{}`)); r.Class != delivery.Delivered || r.Calls != 1 {
		t.Fatalf("after the partner forgot the token: %+v", r)
	}
	st = f.sim.Snapshot("").Stats
	if st.ByStatus["401"] != 1 || st.TokensIssued != 1 || st.ByStatus["201"] != 1 {
		t.Fatalf("want one 401 then success with a fresh token: %+v", st)
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name   string
		faults partnersim.Faults
		key    string
		class  delivery.Class
		status int
		check  func(*testing.T, delivery.Answer)
	}{
		{"503", partnersim.Faults{ErrorRate: 1}, "k", delivery.Transient, 503, nil},
		{"429", partnersim.Faults{Rate429: 1, RetryAfter: partnersim.Duration(3 * time.Second)}, "k", delivery.Transient, 429, func(t *testing.T, r delivery.Answer) {
			if r.RetryAfter != 3*time.Second {
				t.Fatalf("RetryAfter %s", r.RetryAfter)
			}
		}},
		{"422", partnersim.Faults{RejectPrefix: "bad"}, "bad-1", delivery.Permanent, 422, func(t *testing.T, r delivery.Answer) {
			if !strings.Contains(r.Detail, "rejected") {
				t.Fatalf("detail %q", r.Detail)
			}
		}},
		{"timeout", partnersim.Faults{Latency: partnersim.Duration(500 * time.Millisecond)}, "k", delivery.Transient, 0, func(t *testing.T, r delivery.Answer) {
			if !strings.Contains(r.Detail, "timeout after 100ms") {
				t.Fatalf("detail %q", r.Detail)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.Timeout = 100 * time.Millisecond })
			f.faults(t, tt.faults)
			r := f.sink.Send(context.Background(), ev("e1", "x", tt.key, 1, `{}`))
			if r.Class != tt.class || r.Status != tt.status || r.Calls != 1 {
				t.Fatalf("got %+v", r)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestConnectionRefusedIsTransient(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	url := hs.URL
	hs.Close()
	s, err := New(Config{BaseURL: url, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Send(context.Background(), ev("e", "x", "k", 1, `{}`)); r.Class != delivery.Transient || r.Calls != 1 {
		t.Fatalf("%+v", r)
	}
}

func TestAbortedOnCancel(t *testing.T) {
	f := newFixture(t, nil)
	f.faults(t, partnersim.Faults{Latency: partnersim.Duration(time.Second)})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for f.sim.Snapshot("").Stats.InFlight == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if r := f.sink.Send(ctx, ev("e", "x", "k", 1, `{}`)); r.Class != delivery.Aborted || r.Calls != 0 {
		t.Fatalf("%+v", r)
	}
}

// While the partner is down the breaker opens, and a delivery waits and
// probes instead of spending its attempts; it completes once the partner is back.
func TestBreakerWaitsOutAnOutage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if r := f.sink.Send(ctx, ev("first", "x", "k0", 1, `{}`)); r.Class != delivery.Delivered {
		t.Fatal(r)
	}
	f.faults(t, partnersim.Faults{Outage: true})
	for i := range 4 {
		if r := f.sink.Send(ctx, ev("e", "x", "k", int64(i+1), `{}`)); r.Class != delivery.Transient || r.Calls != 1 {
			t.Fatalf("call %d while closed: %+v", i, r)
		}
	}
	done := make(chan delivery.Answer, 1)
	go func() { done <- f.sink.Send(ctx, ev("waiter", "x", "k", 9, `{}`)) }() // the fifth failure trips the breaker
	deadline := time.Now().Add(10 * time.Second)
	for f.sim.Snapshot("").Stats.ByStatus["503"] < 8 { // at least three probes failed
		if time.Now().After(deadline) {
			t.Fatal("no probes while open")
		}
		f.clock.Add(30 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	select {
	case r := <-done:
		t.Fatalf("delivery gave up during the outage: %+v", r)
	default:
	}
	f.faults(t, partnersim.Faults{})
	for {
		select {
		case r := <-done:
			if r.Class != delivery.Delivered || r.Calls != 1 {
				t.Fatalf("after the outage: %+v (failed probes must not count)", r)
			}
			return
		case <-time.After(time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("delivery did not resume after the outage")
			}
			f.clock.Add(30 * time.Millisecond)
		}
	}
}
