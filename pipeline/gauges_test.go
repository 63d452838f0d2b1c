package pipeline

import (
	"context"
	"fmt"
	"github.com/streamsync/streamsync/inspect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/streams"
	"github.com/streamsync/streamsync/internal/testenv"
)

// gather returns every sample of reg as "name{label=value}" → value
// (histograms: their _count).
func gather(tb testing.TB, reg *prometheus.Registry) map[string]float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_GAUGE:
				out[name] = m.GetGauge().GetValue()
			case dto.MetricType_COUNTER:
				out[name] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// The gauges read Redis when scraped: each scrape shows the state of that
// moment (lag, pending, delayed, retrying, dead, step counts), not a value
// cached from the events handled.
func TestGaugesReadRedisOnScrape(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	ctx := context.Background()
	for i := range 5 {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: []string{"id", fmt.Sprint(i)}})
	}
	if err := streams.EnsureGroup(ctx, rdb, keys.Events, keys.Group); err != nil {
		t.Fatal(err)
	}
	read, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: keys.Group, Consumer: "c", Streams: []string{keys.Events, ">"}, Count: 2}).Result()
	if err != nil {
		t.Fatal(err)
	}
	rdb.ZAdd(ctx, keys.Delayed, redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"})
	rdb.ZAdd(ctx, keys.Retry, redis.Z{Score: 1, Member: "c"})
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Dead, Values: []string{"id", "d", "dead_reason", "invalid"}})
	rdb.HIncrBy(ctx, keys.Steps, "released", 3)
	rdb.HIncrBy(ctx, keys.Steps, "delivered", 4)

	g, err := inspect.NewGauges(inspect.GaugesConfig{Keys: keys, Prepared: func(context.Context) (int64, error) { return 7, nil }}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(g)
	want := map[string]float64{
		"streamsync_redis_up": 1, "streamsync_stream_length": 5, "streamsync_lag": 3, "streamsync_pending": 2,
		"streamsync_delayed": 2, "streamsync_retrying": 1, "streamsync_dead": 1, "streamsync_consumers": 1, "streamsync_prepared": 7,
		`streamsync_steps_total{step=released}`: 3, `streamsync_steps_total{step=delivered}`: 4,
	}
	check := func(want map[string]float64) {
		t.Helper()
		got := gather(t, reg)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
	}
	check(want)

	// The state moves on; the next scrape says so.
	rdb.XAck(ctx, keys.Events, keys.Group, read[0].Messages[0].ID)
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: []string{"id", "5"}})
	rdb.ZRem(ctx, keys.Delayed, "a")
	rdb.HIncrBy(ctx, keys.Steps, "released", 1)
	want["streamsync_pending"], want["streamsync_lag"], want["streamsync_stream_length"], want["streamsync_delayed"] = 1, 4, 6, 1
	want[`streamsync_steps_total{step=released}`] = 4
	check(want)
	if problems, err := testutil.CollectAndLint(g); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// Redis away: the scrape still answers, with streamsync_redis_up 0.
func TestGaugesRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	g, err := inspect.NewGauges(inspect.GaugesConfig{Keys: layout.NewKeys("x:events", "g", "x:dead", "x:delayed", "x:retry")}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(g)
	got := gather(t, reg)
	if v, ok := got["streamsync_redis_up"]; !ok || v != 0 || len(got) != 1 {
		t.Fatalf("scrape with Redis down = %v, want only streamsync_redis_up 0", got)
	}
}

// A child released from the delayed ZSET counts in streamsync_steps_total as
// `status` counts it, and both events' time from their ts to delivery is in
// the end-to-end histogram.
func TestStepsTotalAndEndToEndFromPipeline(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, options{cfg: func(c *Config) { c.Registerer = reg }})
	g, err := inspect.NewGauges(inspect.GaugesConfig{Keys: h.keys}, h.rdb)
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(g)
	ts := fmt.Sprint(h.clock.Now().Add(-3 * time.Second).UnixMilli())
	h.upsert("c1", "acc", "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "m1", "ts", ts)
	h.waitSteps("c1", "parked")
	h.upsert("p1", "acc", "main", "m1", 1, `{}`, "ts", ts)
	h.waitSteps("c1", "parked", "released", "delivered")
	h.waitSteps("p1", "delivered")

	s, err := inspect.ReadStatus(context.Background(), h.rdb, h.keys)
	if err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	for _, step := range []string{"parked", "released", "delivered"} {
		if m := got["streamsync_steps_total{step="+step+"}"]; m != float64(s.Steps[step]) || m == 0 {
			t.Errorf("streamsync_steps_total{step=%s} = %v, status says %d", step, m, s.Steps[step])
		}
	}
	if n := got["streamsync_end_to_end_seconds{outcome=delivered}"]; n != 2 {
		t.Errorf("end-to-end observations of delivered events = %v, want 2", n)
	}
}

// With several shards every gauge is the sum over the shards, in one scrape:
// the numbers `streamsync status` prints (inspect.ReadShardsStatus), not shard 0's.
// Each shard holds different counts, so reading any one shard alone fails.
func TestGaugesSumEveryShard(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	shards := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", 3, true)
	ctx := context.Background()
	for i, k := range shards {
		n := i + 1 // shard i holds n of everything, 2n entries and 2n steps
		for j := range 2 * n {
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Events, Values: []string{"id", fmt.Sprint(j)}})
		}
		if err := streams.EnsureGroup(ctx, rdb, k.Events, k.Group); err != nil {
			t.Fatal(err)
		}
		if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: k.Group, Consumer: "c", Streams: []string{k.Events, ">"}, Count: int64(n)}).Err(); err != nil {
			t.Fatal(err)
		}
		for j := range n {
			m := fmt.Sprint(j)
			rdb.ZAdd(ctx, k.Delayed, redis.Z{Score: 1, Member: m})
			rdb.ZAdd(ctx, k.Retry, redis.Z{Score: 1, Member: m})
			rdb.ZAdd(ctx, k.PreparedDue, redis.Z{Score: 1, Member: m})
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Dead, Values: []string{"id", m, "dead_reason", "invalid"}})
		}
		rdb.HIncrBy(ctx, k.Steps, "delivered", int64(2*n))
	}

	g, err := inspect.NewGauges(inspect.GaugesConfig{Shards: shards}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(g)
	got := gather(t, reg)
	// 1+2+3 = 6 of each, 12 entries and 12 delivered.
	want := map[string]float64{
		"streamsync_redis_up": 1, "streamsync_stream_length": 12, "streamsync_lag": 6, "streamsync_pending": 6,
		"streamsync_delayed": 6, "streamsync_retrying": 6, "streamsync_dead": 6, "streamsync_consumers": 1, "streamsync_prepared": 6,
		`streamsync_steps_total{step=delivered}`: 12,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (the sum over 3 shards)", k, got[k], v)
		}
	}
	st, err := inspect.ReadShardsStatus(ctx, rdb, shards)
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int64{"streamsync_stream_length": st.StreamLength, "streamsync_lag": st.Lag, "streamsync_pending": st.Pending,
		"streamsync_delayed": st.Delayed, "streamsync_retrying": st.Retrying, "streamsync_dead": st.Dead, "streamsync_prepared": st.Prepared,
		`streamsync_steps_total{step=delivered}`: st.Steps["delivered"]} {
		if got[name] != float64(n) {
			t.Errorf("%s = %v, status says %d", name, got[name], n)
		}
	}
}
