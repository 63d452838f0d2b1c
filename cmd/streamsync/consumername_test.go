package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// Two `streamsync run` on one host with the default stream.consumer (the
// host name), as a systemd template or `docker compose --scale` on one VM
// starts them: the second runs under host-2 instead of refusing to start.
// The first, killed with SIGKILL while delivering and started again, takes
// its own name back (not host-3); every event ends delivered and nothing
// stays pending.
func TestTwoProcessesWithTheDefaultConsumerName(t *testing.T) {
	rdb, keys, env := streams(t, "") // no stream.consumer: the default
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec",
		Faults: partnersim.Faults{Latency: partnersim.Duration(20 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET=sec",
		"STREAMSYNC_SINK__TIMEOUT=1s", "STREAMSYNC_CLICKHOUSE__ADDR=")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	holder := func(name string) string { return rdb.Get(ctx, keys.ConsumerName(name)).Val() }
	heldBy := func(name string, p *process) bool {
		return strings.HasPrefix(holder(name), fmt.Sprintf("%s:%d:", host, p.cmd.Process.Pid))
	}
	n := 0
	add := func(count int) {
		for range count {
			n++
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: []any{"id", fmt.Sprintf("e%d", n), "account", "acc" + strconv.Itoa(n%20),
				"entity", "main", "key", "k" + strconv.Itoa(n), "op", "upsert", "version", "1", "data", `{}`}})
		}
	}
	delivered := func() int64 { v, _ := rdb.HGet(ctx, keys.Steps, "delivered").Int64(); return v }

	first := startProcess(t, env)
	t.Cleanup(func() { first.kill() })
	testenv.WaitFor(t, 15*time.Second, "the first process to hold the host name", func() bool { return heldBy(host, first) })
	second := startProcess(t, env)
	t.Cleanup(func() { second.kill() })
	testenv.WaitFor(t, 15*time.Second, "the second process to hold "+host+"-2", func() bool { return heldBy(host+"-2", second) })

	add(200)
	testenv.WaitFor(t, time.Minute, "some events delivered", func() bool { return delivered() >= 40 })
	first.kill() // mid-delivery: entries stay pending under its name
	first = startProcess(t, env)
	testenv.WaitFor(t, 30*time.Second, "the restarted process to take its own name back", func() bool { return heldBy(host, first) })
	add(100)
	testenv.WaitFor(t, 2*time.Minute, "every event delivered", func() bool { return delivered() == int64(n) })
	testenv.WaitFor(t, 30*time.Second, "nothing pending", func() bool {
		p, err := rdb.XPending(ctx, keys.Events, keys.Group).Result()
		return err == nil && p.Count == 0
	})
	if !heldBy(host+"-2", second) {
		second.kill()
		t.Fatalf("the second process no longer holds %s-2 (%q):\n%s", host, holder(host+"-2"), tail(second.out.String(), 2000))
	}
	consumers, err := rdb.XInfoConsumers(ctx, keys.Events, keys.Group).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		if c.Name != host && c.Name != host+"-2" {
			t.Errorf("consumer %q in the group; want only %s and %s-2", c.Name, host, host)
		}
	}
	if st := sim.Snapshot("").Stats; st.Overlaps != 0 {
		t.Errorf("partner saw %d overlapping requests of one account", st.Overlaps)
	}
}
