//go:build measure

package layout

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/streams"
	"github.com/streamsync/streamsync/internal/testenv"
)

// go test -tags measure -run MeasureRoundTrips -v ./internal/layout
//
// What the lookup and commit of a delivered event cost Redis, as the peer
// benchmark's work has them (upserts over 2,000 accounts, about three per
// record, no parents): the events are read into the group, then 256
// callers each look up and commit one event after the other through shared
// round trips. Prints Redis' CPU (INFO cpu) and the commands (INFO
// commandstats, those inside scripts included) per event. Best on a Redis
// of its own (STREAMSYNC_TEST_REDIS_ADDR): the CPU is the whole server's.
func TestMeasureRoundTrips(t *testing.T) {
	for _, rows := range []bool{false, true} {
		t.Run(fmt.Sprintf("rows=%v", rows), func(t *testing.T) { measureRoundTrips(t, 50000, rows) })
	}
}

func measureRoundTrips(t *testing.T, n int, rows bool) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	k := NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	if err := streams.EnsureGroup(ctx, rdb, k.Events, k.Group); err != nil {
		t.Fatal(err)
	}
	events := make([]event.Event, n)
	pipe := rdb.Pipeline()
	for i := range n {
		acc := i % 2000
		events[i] = event.Event{ID: fmt.Sprintf("ev-%07d", i), Account: fmt.Sprintf("acct-%04d", acc), Entity: "contact",
			Key: fmt.Sprintf("c-%04d-%d", acc, (i/2000)%8), Op: event.OpUpsert, Version: int64(i + 1),
			Data: []byte(`{"name":"n` + strconv.Itoa(i) + `","n":` + strconv.Itoa(i) + `}`)}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: k.Events, Values: []any{"id", events[i].ID, "account", events[i].Account}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, n)
	for len(ids) < n {
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: k.Group, Consumer: "c", Streams: []string{k.Events, ">"}, Count: 1000}).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res[0].Messages {
			ids = append(ids, m.ID)
		}
	}
	cpu0, stats0 := redisCPU(t, rdb), commandStats(t, rdb)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	trips := NewRoundTrips(rdb)
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range 256 {
		wg.Go(func() {
			for i := range next {
				e := events[i]
				if _, err := trips.Lookup(ctx, k, e, "run-1", 30*time.Second); err != nil {
					t.Error(err)
					return
				}
				now := time.Now()
				c := Commit{Event: e, StreamID: ids[i], Now: now, Step: handlers.StepDelivered,
					Ledger: "set", LedgerValue: handlers.LedgerWithHash(e, handlers.ContentHash(e)).String(),
					State: "clear_any", ReleaseChildren: true, WaitOnParent: "0", LeaseHolder: "run-1"}
				if rows {
					c.Row = RowFields(ids[i], e, handlers.Outcome{Step: handlers.StepDelivered, HTTPStatus: 200}, now, "peers")
				}
				if got, err := trips.Commit(ctx, k, c); err != nil || got != 1 {
					t.Errorf("commit %d: %d, %v", i, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	runtime.ReadMemStats(&m1)
	cpu1, stats1 := redisCPU(t, rdb), commandStats(t, rdb)
	t.Logf("%d events in %v: Redis CPU %.1f µs/event; this process allocated %.1f times, %.0f B per event (lookup and commit)",
		n, took.Round(time.Millisecond), (cpu1-cpu0)*1e6/float64(n), float64(m1.Mallocs-m0.Mallocs)/float64(n), float64(m1.TotalAlloc-m0.TotalAlloc)/float64(n))
	var lines []string
	total := 0.0
	for name, c := range stats1 {
		d := c - stats0[name]
		if d > 0 && name != "info" {
			lines = append(lines, fmt.Sprintf("%s %.3f", name, d/float64(n)))
			if name != "evalsha" {
				total += d / float64(n)
			}
		}
	}
	t.Logf("commands per event: %s; inside scripts %.2f", strings.Join(lines, ", "), total)
}

func redisCPU(t *testing.T, rdb redis.UniversalClient) float64 {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		t.Fatal(err)
	}
	s := 0.0
	for _, l := range strings.Split(info, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			s += f
		}
	}
	return s
}

func commandStats(t *testing.T, rdb redis.UniversalClient) map[string]float64 {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(l, "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		f, _ := strconv.ParseFloat(calls, 64)
		out[name] = f
	}
	return out
}
