package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/streamsync/streamsync/internal/cutproxy"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/pipeline/ordered"
	"github.com/streamsync/streamsync/sinks/partner"
)

// leasePartner is a partner API over real HTTP that watches the rule the
// account lease keeps (docs/scaling.md): it notes every call made while
// the account's lease in Redis is not the calling run's, and every call
// that starts while another call of the same account is still being
// worked on — including one the caller gave up waiting for.
type leasePartner struct {
	t     *testing.T
	rdb   redis.UniversalClient
	lease func(account string) string // the account's lease key
	// runs holds the ids of the runs whose calls count as the lease's
	// holder's; set by the test once its pipelines exist.
	mu      sync.Mutex
	runs    []string
	busy    map[string]int // account → calls being worked on
	calls   int
	faults  []string
	logs    *syncBuffer
	handler func(n int, account string, w http.ResponseWriter) // the n-th record call (from 1)
	// whileCut, when set, tells whether the caller's Redis is away now.
	whileCut func() bool
}

func (lp *leasePartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":3600}`))
		return
	}
	var body struct {
		Account string `json:"account"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	holder, _ := lp.rdb.Get(context.Background(), lp.lease(body.Account)).Result()
	lp.mu.Lock()
	lp.calls++
	n := lp.calls
	if !containsString(lp.runs, holder) {
		lp.faults = append(lp.faults, fmt.Sprintf("call %d (%s) made while the lease is held by %q", n, r.Header.Get("Idempotency-Key"), holder))
	}
	if lp.whileCut != nil && n > 1 && lp.whileCut() {
		lp.faults = append(lp.faults, fmt.Sprintf("call %d (%s) made while the caller cannot reach Redis", n, r.Header.Get("Idempotency-Key")))
	}
	if lp.busy[body.Account] > 0 {
		lp.faults = append(lp.faults, fmt.Sprintf("call %d (%s) made while an earlier call of account %s is still at the partner", n, r.Header.Get("Idempotency-Key"), body.Account))
	}
	lp.busy[body.Account]++
	lp.mu.Unlock()
	defer func() {
		lp.mu.Lock()
		lp.busy[body.Account]--
		lp.mu.Unlock()
	}()
	lp.handler(n, body.Account, w)
}

func (lp *leasePartner) allow(runID string) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.runs = append(lp.runs, runID)
}

func (lp *leasePartner) callCount() int {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.calls
}

// check fails the test with every fault the partner saw.
func (lp *leasePartner) check() {
	lp.t.Helper()
	lp.mu.Lock()
	defer lp.mu.Unlock()
	for _, f := range lp.faults {
		lp.t.Error(f)
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// syncBuffer is a log sink the test reads while the pipeline writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) contains(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Contains(b.buf.String(), s)
}

// leaseOptions shape a newLeaseHarness.
type leaseOptions struct {
	ttl, timeout time.Duration // the account lease's TTL; the sink's timeout
	tripAfter    uint32        // the breaker opens after this many failures in a row
	cfg          func(*Config)
	// via, when set, is the pipeline's Redis client (the test's own
	// reads go straight to the test Redis).
	via redis.UniversalClient
}

// newLeaseHarness runs a pipeline against the test Redis and lp over real
// HTTP; its breaker probes every 300 ms.
func newLeaseHarness(t *testing.T, lp *leasePartner, o leaseOptions) *harness {
	t.Helper()
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	shards := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", 1, false)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	lp.t, lp.rdb, lp.lease, lp.busy, lp.logs = t, rdb, shards[0].Lease, map[string]int{}, &syncBuffer{}
	hs := httptest.NewServer(lp)
	t.Cleanup(hs.Close)
	sink, err := partner.New(partner.Config{BaseURL: hs.URL, ClientID: "id", ClientSecret: "sec", Timeout: o.timeout,
		Breaker: partner.BreakerConfig{TripAfter: o.tripAfter, OpenFor: 300 * time.Millisecond, PollInterval: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Now()}
	c := Config{
		Shards: shards, Consumer: "c1", PartnerName: "partner",
		Retry:   handlers.RetryPolicy{Initial: time.Second, Max: 10 * time.Second, MaxAttempts: 5, Jitter: func() float64 { return 0.5 }},
		MaxWait: time.Minute, Recheck: 10 * time.Second, MoveEvery: 5 * time.Millisecond,
		AttemptLog: true, Clock: clock, LeaseTTL: o.ttl,
		Subscriber: ordered.Config{Block: 50 * time.Millisecond, NackDelay: 20 * time.Millisecond},
		Logger:     slog.New(slog.NewTextHandler(lp.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if o.cfg != nil {
		o.cfg(&c)
	}
	h := &harness{t: t, rdb: rdb, keys: shards[0], shards: shards, clock: clock, sender: sink}
	via := redis.UniversalClient(rdb)
	if o.via != nil {
		via = o.via
	}
	if h.p, err = New(c, via, h.sender); err != nil {
		t.Fatal(err)
	}
	lp.allow(h.p.runID)
	h.run()
	return h
}

// A delivery waiting for the breaker (open after one failure) asks for its account's lease again
// before the probe: the lease was taken from it during the wait (a process
// stalled past it, another one took it), so the probe does not go, and
// the event is delivered once the lease is free again.
func TestLeaseAskedForAfterWaitingOnTheBreaker(t *testing.T) {
	var h *harness
	lp := &leasePartner{handler: func(n int, account string, w http.ResponseWriter) {
		if n == 1 { // the partner fails, and meanwhile another process takes the account
			h.rdb.Set(context.Background(), h.keys.Lease(account), "another-process", time.Minute)
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}}
	h = newLeaseHarness(t, lp, leaseOptions{ttl: 600 * time.Millisecond, timeout: 2 * time.Second, tripAfter: 1})
	h.upsert("e1", "acc", "main", "k1", 1, `{}`)
	testenv.WaitFor(t, 15*time.Second, "the delivery to stop for the lost lease, or a call to go without it", func() bool {
		return lp.logs.contains("delivery cut short") || lp.callCount() > 1
	})
	lp.check()
	h.rdb.Del(context.Background(), h.keys.Lease("acc")) // the other process is done
	h.waitSteps("e1", "delivered")
	lp.check()
}

// Redis not answering while a delivery waits for the breaker: the
// process cannot tell whether it still holds the account's lease, which
// counts as not holding it, so the probe does not go; once Redis answers
// again the event is delivered.
func TestLeaseCannotTellMeansNoCall(t *testing.T) {
	var px *cutproxy.Proxy
	lp := &leasePartner{handler: func(n int, account string, w http.ResponseWriter) {
		if n == 1 {
			px.Cut() // Redis goes away for the pipeline
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}}
	px = newCutProxy(t, testenv.RedisAddr(t))
	via := redis.NewClient(&redis.Options{Addr: px.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { via.Close() })
	lp.whileCut = px.IsCut
	h := newLeaseHarness(t, lp, leaseOptions{ttl: 600 * time.Millisecond, timeout: 2 * time.Second, tripAfter: 1, via: via})
	h.upsert("e1", "acc", "main", "k1", 1, `{}`)
	testenv.WaitFor(t, 15*time.Second, "the delivery to stop, or a call to go while Redis is away", func() bool {
		return lp.logs.contains("delivery cut short") || lp.callCount() > 1
	})
	lp.check()
	px.Restore()
	h.waitSteps("e1", "delivered")
	lp.check()
}

// A 401 makes the sink fetch a new token and call again at once; that
// second call asks for the lease too. The first call took longer than a
// third of the lease, and the lease was another process' by its end.
func TestLeaseAskedForBeforeTheCallAfterA401(t *testing.T) {
	var h *harness
	const ttl = 900 * time.Millisecond
	lp := &leasePartner{handler: func(n int, account string, w http.ResponseWriter) {
		if n == 1 {
			h.rdb.Set(context.Background(), h.keys.Lease(account), "another-process", time.Minute)
			time.Sleep(ttl / 2) // a slow answer
			w.WriteHeader(http.StatusUnauthorized)
		}
	}}
	h = newLeaseHarness(t, lp, leaseOptions{ttl: ttl, timeout: 2 * time.Second, tripAfter: 20})
	h.upsert("e1", "acc", "main", "k1", 1, `{}`)
	testenv.WaitFor(t, 15*time.Second, "the delivery to stop for the lost lease, or a call to go without it", func() bool {
		return lp.logs.contains("delivery cut short") || lp.callCount() > 1
	})
	lp.check()
	h.rdb.Del(context.Background(), h.keys.Lease("acc"))
	h.waitSteps("e1", "delivered")
	lp.check()
}

// A call that timed out on our side may still be worked on by the partner
// (the breaker stays closed: the event's retry is scheduled):
// the account's lease runs out instead of being released, so the account's
// next event reaches the partner only after the partner is done with the
// first one (it works 1.2 s; our timeout is 300 ms, the lease 1.5 s).
func TestTimedOutCallLetsTheLeaseRunOut(t *testing.T) {
	lp := &leasePartner{handler: func(n int, account string, w http.ResponseWriter) {
		if n == 1 {
			time.Sleep(1200 * time.Millisecond) // the partner works on, after we stopped waiting
		}
	}}
	h := newLeaseHarness(t, lp, leaseOptions{ttl: 1500 * time.Millisecond, timeout: 300 * time.Millisecond, tripAfter: 20})
	h.upsert("e1", "acc", "main", "k1", 1, `{}`)
	h.upsert("e2", "acc", "main", "k2", 1, `{}`)
	h.waitSteps("e2", "delivered")
	h.advanceUntilTerminal([]string{"e1"}, time.Second, 20*time.Second)
	if got := h.steps("e1"); strings.Join(got, ",") != "retry_scheduled,delivered" {
		t.Errorf("e1: steps %v, want retry_scheduled,delivered", got)
	}
	if v, _ := h.rdb.Get(context.Background(), h.keys.Lease("acc")).Result(); strings.HasSuffix(v, "(unsettled call)") {
		t.Errorf("lease still %q after the account's next deliveries", v)
	}
	lp.check()
}

// A stop cuts a call short while the partner is working on it: the
// account's lease runs out rather than being released, so the process
// started next does not send the event again while the partner still has
// the first call.
func TestStopMidCallLetsTheLeaseRunOut(t *testing.T) {
	started := make(chan struct{}, 1)
	lp := &leasePartner{handler: func(n int, account string, w http.ResponseWriter) {
		if n == 1 {
			started <- struct{}{}
			time.Sleep(1200 * time.Millisecond)
		}
	}}
	h := newLeaseHarness(t, lp, leaseOptions{ttl: 1500 * time.Millisecond, timeout: 5 * time.Second, tripAfter: 20, cfg: func(c *Config) {
		c.Subscriber.DrainTimeout = 50 * time.Millisecond // the stop cuts the call short
	}})
	h.upsert("e1", "acc", "main", "k1", 1, `{}`)
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatal("no call reached the partner")
	}
	h.stop()
	next, err := New(h.p.cfg, h.rdb, h.sender)
	if err != nil {
		t.Fatal(err)
	}
	lp.allow(next.runID)
	h.p = next
	h.run()
	h.waitSteps("e1", "delivered")
	lp.check()
}
