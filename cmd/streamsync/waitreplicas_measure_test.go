//go:build measure

package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// `make bench-wait` = go test -tags measure -run MeasureWaitReplicas -v ./cmd/streamsync
var (
	waitRate     = flag.Int("wait.rate", 500, "TestMeasureWaitReplicas: requests a second offered to each of the two ingests")
	waitDuration = flag.Duration("wait.duration", 20*time.Second, "TestMeasureWaitReplicas: how long both are offered events")
)

// TestMeasureWaitReplicas offers the same load at the same time to two
// `streamsync run` on the test Sentinel (a primary, one replica, on this
// machine), one with redis.wait_replicas 0 and one with 1, one event per
// request, and prints the ingest's latency percentiles of each side by side
// (docs/benchmarks.md, "Waiting for replicas").
func TestMeasureWaitReplicas(t *testing.T) {
	ss := testenv.Sentinel(t)
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	type side struct {
		wait    int
		url     string
		metrics vegeta.Metrics
	}
	sides := []*side{{wait: 0}, {wait: 1}}
	for _, s := range sides {
		prefix := testenv.Prefix(t) + fmt.Sprintf("w%d:", s.wait)
		t.Cleanup(func() { testenv.DeleteKeys(ss.Client, prefix) })
		addr := freeAddr(t)
		p := startProcess(t, []string{
			"STREAMSYNC_REDIS__SENTINEL_MASTER=" + ss.Master, "STREAMSYNC_REDIS__ADDRS=" + strings.Join(ss.Addrs, ","),
			fmt.Sprintf("STREAMSYNC_REDIS__WAIT_REPLICAS=%d", s.wait), "STREAMSYNC_REDIS__WAIT_TIMEOUT=1s",
			"STREAMSYNC_STREAM__EVENTS=" + prefix + "events", "STREAMSYNC_STREAM__GROUP=g", "STREAMSYNC_STREAM__DEAD=" + prefix + "dead",
			"STREAMSYNC_STREAM__DELAYED=" + prefix + "delayed", "STREAMSYNC_STREAM__RETRY=" + prefix + "retry",
			"STREAMSYNC_ADMIN__ADDR=", "STREAMSYNC_LOG__LEVEL=warn", "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_INGEST__ADDR=" + addr,
			"STREAMSYNC_SINK__BASE_URL=" + hs.URL, "STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET=sec",
		})
		t.Cleanup(p.kill)
		s.url = "http://" + addr + "/v1/events"
		testenv.WaitFor(t, 20*time.Second, "the ingest to answer", func() bool {
			resp, err := http.Post(s.url, "application/json", strings.NewReader(`[]`))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return true
		})
	}
	var wg sync.WaitGroup
	for _, s := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n atomic.Int64
			targeter := func(tg *vegeta.Target) error {
				i := n.Add(1)
				tg.Method, tg.URL = http.MethodPost, s.url
				tg.Body = fmt.Appendf(nil, `{"id":"w%d-%d","account":"acct-%d","entity":"order","key":"k-%d","op":"upsert","version":1,"data":{"n":%d}}`,
					s.wait, i, i%100, i, i)
				return nil
			}
			atk := vegeta.NewAttacker(vegeta.Timeout(10*time.Second), vegeta.KeepAlive(true))
			for r := range atk.Attack(targeter, vegeta.ConstantPacer{Freq: *waitRate, Per: time.Second}, *waitDuration, fmt.Sprintf("wait%d", s.wait)) {
				s.metrics.Add(r)
			}
			s.metrics.Close()
		}()
	}
	wg.Wait()
	var b strings.Builder
	fmt.Fprintf(&b, "\n| redis.wait_replicas | requests | 202 | other | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range sides {
		m := s.metrics
		ok := m.StatusCodes["202"]
		fmt.Fprintf(&b, "| %d | %d | %d | %d | %s | %s | %s | %s |\n", s.wait, m.Requests, ok, int(m.Requests)-ok,
			ms(m.Latencies.P50), ms(m.Latencies.P90), ms(m.Latencies.P99), ms(m.Latencies.Max))
	}
	t.Log(b.String())
}
