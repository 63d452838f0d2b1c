package main

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/demo"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// The size of TestManyProcessesOnCluster: `go test -run ManyProcesses
// ./cmd/streamsync -scale.events=20000 -scale.accounts=2000` runs the full
// one (about 20,000 entries); the default keeps make test quick.
var (
	scaleEvents   = flag.Int("scale.events", 6000, "TestManyProcessesOnCluster: story events")
	scaleAccounts = flag.Int("scale.accounts", 600, "TestManyProcessesOnCluster: accounts")
)

// Three `streamsync run` processes on the test Redis Cluster, six shards,
// 5% partner 503s and expiring tokens; one process is SIGKILLed and
// restarted twice. At the end every event has one terminal step, only
// invalid entries are dead letters, the partner holds exactly the newest
// version of every record, and no account ever had two requests at the
// partner at once.
func TestManyProcessesOnCluster(t *testing.T) {
	rdb := testenv.RedisCluster(t)
	addrs := testenv.RedisClusterAddrs(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	const nShards = 6
	shards := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", nShards, true)

	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec", TokenTTL: 3 * time.Second,
		Faults: partnersim.Faults{ErrorRate: 0.05, Latency: partnersim.Duration(time.Millisecond)}, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	story := demo.Story(demo.StoryConfig{Seed: 11, Accounts: *scaleAccounts, Events: *scaleEvents})
	conn, db := testenv.ClickHouse(t)
	env := []string{
		"STREAMSYNC_REDIS__ADDRS=" + strings.Join(addrs, ","), "STREAMSYNC_STREAM__SHARDS=" + fmt.Sprint(nShards),
		"STREAMSYNC_STREAM__EVENTS=" + prefix + "events", "STREAMSYNC_STREAM__GROUP=g", "STREAMSYNC_STREAM__DEAD=" + prefix + "dead",
		"STREAMSYNC_STREAM__DELAYED=" + prefix + "delayed", "STREAMSYNC_STREAM__RETRY=" + prefix + "retry",
		"STREAMSYNC_ADMIN__ADDR=", "STREAMSYNC_LOG__LEVEL=warn",
		"STREAMSYNC_CLICKHOUSE__ADDR=" + testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE=" + db,
		"STREAMSYNC_SINK__BASE_URL=" + hs.URL, "STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET=sec",
		// A partner timeout ends the call on our side only: the partner may still be working on it when
		// the account's next event goes. 5s (and a lease of 10s) keeps that out of a loaded test machine.
		"STREAMSYNC_RETRY__INITIAL=20ms", "STREAMSYNC_RETRY__MAX=500ms", "STREAMSYNC_SINK__TIMEOUT=5s",
	}
	ctx := context.Background()
	add := func(entries []demo.Entry) {
		pipe := rdb.Pipeline()
		for _, e := range entries {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: shards.Stream(e.Get("account")), Values: e.Values()})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	half := len(story) / 2
	add(story[:half])

	procs := make([]*process, 3)
	start := func(i int) {
		procs[i] = startProcess(t, append(env, fmt.Sprintf("STREAMSYNC_STREAM__CONSUMER=c%d", i),
			"STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+t.TempDir()))
	}
	for i := range procs {
		start(i)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
		}
	})
	delivered := func() int64 {
		st, _ := inspect.ReadShardsStatus(ctx, rdb, shards)
		return st.Steps["delivered"]
	}
	total := int64(len(story))
	for i, at := range []int64{total / 10, total / 4} {
		testenv.WaitFor(t, 2*time.Minute, fmt.Sprintf("%d delivered before kill %d", at, i+1), func() bool { return delivered() >= at })
		procs[0].kill()
		if i == 0 {
			add(story[half:])
		}
		start(0)
	}

	ids := make([]string, len(story))
	for i, e := range story {
		ids[i] = e.Get("id")
	}
	steps := waitAllTerminal(t, conn, db, ids, 4*time.Minute, procs[0])
	assertNoRowMissing(t, rdb, shards, conn, db)
	st, err := inspect.ReadShardsStatus(ctx, rdb, shards)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		p.kill()
	}
	checkOutcome(t, story, steps, inspect.DeadOps{RDB: rdb, Shards: shards}, sim)
	for i, sh := range st.Shards {
		if sh.Steps["delivered"] == 0 || sh.Pending != 0 || sh.Lag != 0 {
			t.Errorf("shard %d: %+v", i, sh)
		}
	}
	instances := map[string]bool{}
	rows, err := conn.Query(ctx, "SELECT DISTINCT instance FROM "+db+".attempts")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		instances[s] = true
	}
	rows.Close()
	if len(instances) != 3 {
		t.Errorf("rows written by %v: want all three processes", instances)
	}
	t.Logf("%d entries over %d accounts, %d shards, 3 processes: partner answered %v", len(story), *scaleAccounts, nShards, sim.Snapshot("").Stats.ByStatus)
}
