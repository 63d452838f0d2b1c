package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// sentinelRun is a `streamsync run` on the test Sentinel (every client a
// failover client) with its ingest, delivering to partnersim, and a
// producer that sends one event per account per batch, resending a batch
// until the ingest answers 202 (as a producer does).
type sentinelRun struct {
	ss   *testenv.SentinelSet
	keys layout.Keys
	sim  *partnersim.Server
	p    *process
	url  string

	mu      sync.Mutex
	sent    map[string][]string // by account, the ids answered 202, in order
	refused int                 // answers other than 202
}

const sentinelAccounts = 10

func startSentinelRun(t *testing.T, extraEnv ...string) *sentinelRun {
	t.Helper()
	ss := testenv.Sentinel(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(ss.Client, prefix) })
	keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	addr := freeAddr(t)
	env := append([]string{
		"STREAMSYNC_REDIS__SENTINEL_MASTER=" + ss.Master, "STREAMSYNC_REDIS__ADDRS=" + strings.Join(ss.Addrs, ","),
		"STREAMSYNC_STREAM__EVENTS=" + keys.Events, "STREAMSYNC_STREAM__GROUP=g", "STREAMSYNC_STREAM__DEAD=" + keys.Dead,
		"STREAMSYNC_STREAM__DELAYED=" + keys.Delayed, "STREAMSYNC_STREAM__RETRY=" + keys.Retry, "STREAMSYNC_STREAM__CONSUMER=failover",
		"STREAMSYNC_ADMIN__ADDR=", "STREAMSYNC_LOG__LEVEL=warn", "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_INGEST__ADDR=" + addr,
		"STREAMSYNC_SINK__BASE_URL=" + hs.URL, "STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET=sec",
		"STREAMSYNC_RETRY__INITIAL=20ms", "STREAMSYNC_RETRY__MAX=500ms",
	}, extraEnv...)
	r := &sentinelRun{ss: ss, keys: keys, sim: sim, url: "http://" + addr + "/v1/events", sent: map[string][]string{}}
	r.p = startProcess(t, env)
	t.Cleanup(r.p.kill)
	testenv.WaitFor(t, 20*time.Second, "the ingest to answer", func() bool {
		resp, err := http.Post(r.url, "application/json", strings.NewReader(`[]`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return r
}

// produce sends batches until stop is closed, and returns when the last
// batch was answered 202 (or after 40 s of refusals).
func (r *sentinelRun) produce(t *testing.T, stop <-chan struct{}) {
	for b := 0; ; b++ {
		select {
		case <-stop:
			return
		default:
		}
		var items []string
		ids := make([]string, sentinelAccounts)
		for a := range sentinelAccounts {
			ids[a] = fmt.Sprintf("b%d-a%d", b, a)
			items = append(items, fmt.Sprintf(`{"id":%q,"account":"acct-%d","entity":"order","key":%q,"op":"upsert","version":1,"data":{"n":%d}}`,
				ids[a], a, ids[a], b))
		}
		body := "[" + strings.Join(items, ",") + "]"
		deadline := time.Now().Add(40 * time.Second)
		for {
			resp, err := http.Post(r.url, "application/json", strings.NewReader(body))
			st := 0
			if err == nil {
				st = resp.StatusCode
				resp.Body.Close()
			}
			if st == http.StatusAccepted {
				break
			}
			r.mu.Lock()
			r.refused++
			r.mu.Unlock()
			if time.Now().After(deadline) {
				t.Errorf("batch %d refused for 40 s (last: %d %v)", b, st, err)
				return
			}
			time.Sleep(20 * time.Millisecond) // a producer's pause before resending
		}
		r.mu.Lock()
		for a, id := range ids {
			acct := fmt.Sprintf("acct-%d", a)
			r.sent[acct] = append(r.sent[acct], id)
		}
		r.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// check waits until the partner has every event answered 202, then checks
// that each account's events were applied in the order they were sent,
// that none was applied twice or overlapped, and that there are no dead
// letters.
func (r *sentinelRun) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	total := 0
	for _, ids := range r.sent {
		total += len(ids)
	}
	has := func() int {
		n := 0
		for _, rec := range r.sim.Snapshot("").Records {
			if rec.Version == 1 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(40 * time.Second)
	for has() < total {
		if time.Now().After(deadline) {
			t.Fatalf("the partner has %d of the %d events answered 202; streamsync said:\n%s", has(), total, tail(r.p.out.String(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// In order per account: the first 2xx of each key, by arrival.
	applied := map[string][]string{}
	seen := map[string]bool{}
	for _, e := range r.sim.Log(0, 1<<30) {
		if e.Method != http.MethodPut || e.Status/100 != 2 || seen[e.Key] {
			continue
		}
		seen[e.Key] = true
		applied[e.Account] = append(applied[e.Account], e.Key)
	}
	for acct, ids := range r.sent {
		if got, want := strings.Join(applied[acct], " "), strings.Join(ids, " "); got != want {
			t.Errorf("account %s: applied in the order\n%s\nwant\n%s", acct, got, want)
		}
	}
	st := r.sim.Snapshot("").Stats
	if st.Overlaps != 0 {
		t.Errorf("the partner saw %d overlapping requests of one account", st.Overlaps)
	}
	if n, err := r.ss.Client.XLen(context.Background(), r.keys.Dead).Result(); err != nil || n != 0 {
		t.Errorf("%d dead letters (%v), want none", n, err)
	}
	t.Logf("%d events answered 202, %d answers refused and resent; partner: %v, %d idempotent replays", total, r.refused, st.ByStatus, st.IdempotentReplays)
}

// A Sentinel failover while events flow through the ingest and the
// pipeline: with redis.wait_replicas 1 every event the ingest answered 202
// reaches the partner, once and in order per account, and none is
// dead-lettered; delivery resumes on the promoted replica by itself
// (docs/reliability.md, "Redis Sentinel and failover").
func TestRunRidesThroughSentinelFailover(t *testing.T) {
	r := startSentinelRun(t, "STREAMSYNC_REDIS__WAIT_REPLICAS=1", "STREAMSYNC_REDIS__WAIT_TIMEOUT=500ms")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); r.produce(t, stop) }()
	time.Sleep(2 * time.Second) // events flowing
	from, _ := r.ss.MasterAddr()
	to := r.ss.Failover(t)
	t.Logf("failed over from %s to %s", from, to)
	time.Sleep(3 * time.Second) // and flowing on after it
	close(stop)
	<-done
	r.check(t)
}

// SCRIPT FLUSH while streamsync runs: every script call, the pipelined
// ones included, sends the whole script again, and nothing is lost.
func TestRunAfterScriptFlush(t *testing.T) {
	r := startSentinelRun(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); r.produce(t, stop) }()
	for range 5 {
		time.Sleep(400 * time.Millisecond)
		if err := r.ss.Client.ScriptFlush(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-done
	r.check(t)
}

// Through a Sentinel, the start-up line "streamsync running" names
// redis.sentinel_master and the master's address as the sentinels give it
// (docs/operations.md, "Running under Redis Sentinel").
func TestRunLogsTheSentinelMaster(t *testing.T) {
	r := startSentinelRun(t, "STREAMSYNC_LOG__LEVEL=info")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); r.produce(t, stop) }()
	testenv.WaitFor(t, 20*time.Second, "a batch answered 202", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.sent) > 0
	})
	close(stop)
	<-done
	r.check(t) // delivered: the process is past its start-up line
	master, err := r.ss.MasterAddr()
	if err != nil {
		t.Fatal(err)
	}
	r.p.kill() // its output is read once it has ended
	var line string
	for l := range strings.Lines(r.p.out.String()) {
		if strings.Contains(l, `msg="streamsync running"`) {
			line = l
		}
	}
	for _, want := range []string{"redis_sentinel_master=" + r.ss.Master, "redis_master=" + master} {
		if !strings.Contains(line, want) {
			t.Errorf("the start-up line does not say %s:\n%s", want, tail(r.p.out.String(), 3000))
		}
	}
}
