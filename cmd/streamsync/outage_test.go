package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// ClickHouse stopped for 15 s in the middle of 2,000 events: delivery goes
// on meanwhile, and afterwards every step's row is in ClickHouse.
func TestClickHouseOutage(t *testing.T) {
	rdb, keys, env := streams(t, "outage")
	ctx := context.Background()
	server := testenv.NewClickHouseServer(t, 19120)
	server.Start()
	conn, err := attemptlog.Open(attemptlog.Options{Addr: server.Addr, Username: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	db := "outage_" + fmt.Sprint(time.Now().UnixNano())
	t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })

	sim, _ := partnersim.New(partnersim.Options{Faults: partnersim.Faults{Latency: partnersim.Duration(time.Millisecond)}})
	hs := httptest.NewServer(sim)
	defer hs.Close()
	env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL,
		"STREAMSYNC_CLICKHOUSE__ADDR="+server.Addr, "STREAMSYNC_CLICKHOUSE__DATABASE="+db, "STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+t.TempDir())
	p := startProcess(t, env)
	t.Cleanup(func() { p.kill() }) // the p of the moment: a restart replaces it

	const n = 2000
	ids := make([]string, n)
	add := func(from, to int) {
		pipe := rdb.Pipeline()
		for i := from; i < to; i++ {
			ids[i] = fmt.Sprint("e", i)
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: []any{"id", ids[i], "account", fmt.Sprint("a", i%50),
				"entity", "x", "key", fmt.Sprint("k", i), "op", "upsert", "version", "1", "data", "{}"}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	add(0, 500)
	testenv.WaitFor(t, 30*time.Second, "first rows in ClickHouse", func() bool { return len(chSteps(t, conn, db)) > 0 })

	server.Stop()
	outageStart := time.Now()
	before := len(sim.Snapshot("").Records)
	add(500, n)
	testenv.WaitFor(t, 30*time.Second, "delivery during the outage", func() bool { return len(sim.Snapshot("").Records) == n })
	if before == n {
		t.Fatal("everything was delivered before ClickHouse stopped: the test proves nothing")
	}
	if backlog, _ := rdb.XLen(ctx, keys.Attempts).Result(); backlog == 0 {
		t.Fatal("no rows waiting in Redis during the outage")
	}
	time.Sleep(time.Until(outageStart.Add(15 * time.Second))) // the outage lasts 15 s, as the issue asks
	server.Start()

	steps := waitAllTerminal(t, conn, db, ids, 2*time.Minute, p)
	for _, id := range ids {
		if s := steps[id]; len(s) != 1 || s[0] != "delivered" {
			t.Fatalf("%s: %v", id, s)
		}
	}
	assertNoRowMissing(t, rdb, layout.Shards{keys}, conn, db)
}
