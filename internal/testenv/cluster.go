package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/keyslot"
)

// RedisClusterAddrsEnv lists the nodes of the test Redis Cluster
// (comma-separated host:port), exported by `scripts/infra.sh env` while the
// Cluster of `scripts/infra.sh up cluster` runs.
const RedisClusterAddrsEnv = "STREAMSYNC_TEST_REDIS_CLUSTER_ADDRS"

// RedisClusterAddrs are the test Cluster's nodes. The test is skipped with
// -short, and when the variable is not set (the Cluster is optional outside
// `make test`, which starts it).
func RedisClusterAddrs(tb testing.TB) []string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: skipped with -short")
	}
	v := os.Getenv(RedisClusterAddrsEnv)
	if v == "" {
		tb.Skipf("%s is not set: `scripts/infra.sh up cluster` and `eval \"$(scripts/infra.sh env)\"` (make test does both)", RedisClusterAddrsEnv)
	}
	return strings.Split(v, ",")
}

// RedisCluster returns a Cluster client of the test Cluster that answered
// PING on every master, closed when the test ends. Every script call it
// makes is checked by CheckScriptSlots.
func RedisCluster(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	addrs := RedisClusterAddrs(tb)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	tb.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }); err != nil {
		tb.Fatalf("redis cluster at %v: %v", addrs, err)
	}
	CheckScriptSlots(tb, rdb)
	return rdb
}

// DeleteKeys deletes every key that starts with prefix, on every master of
// a Cluster or on one Redis.
func DeleteKeys(rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	del := func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, prefix+"*").Result()
		for _, k := range keys {
			c.Del(ctx, k) // one by one: keys of several slots
		}
		return err
	}
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		_ = c.ForEachMaster(ctx, del)
	case *redis.Client:
		_ = del(ctx, c)
	}
}

// CheckScriptSlots makes the test fail when rdb runs a Lua script (EVAL,
// EVALSHA, their _RO forms, FCALL) whose keys lie in more than one Redis
// Cluster hash slot: such a call fails on a Cluster (CROSSSLOT), so a
// script's keys must share a hash tag (docs/scaling.md).
func CheckScriptSlots(tb testing.TB, rdb redis.UniversalClient) {
	rdb.AddHook(&slotHook{tb: tb})
}

type slotHook struct {
	tb     testing.TB
	mu     sync.Mutex
	failed int
}

func (h *slotHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *slotHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.check(cmd)
		return next(ctx, cmd)
	}
}

func (h *slotHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.check(c)
		}
		return next(ctx, cmds)
	}
}

func (h *slotHook) check(cmd redis.Cmder) {
	if err := ScriptSlotError(cmd.Args()); err != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.failed++; h.failed <= 10 {
			h.tb.Errorf("%v", err)
		}
	}
}

// ScriptSlotError reports a script call (command arguments as go-redis
// holds them) whose keys lie in more than one slot; nil for anything else.
func ScriptSlotError(args []any) error {
	if len(args) < 3 {
		return nil
	}
	switch strings.ToLower(fmt.Sprint(args[0])) {
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
	default:
		return nil
	}
	var n int
	if _, err := fmt.Sscan(fmt.Sprint(args[2]), &n); err != nil || n < 2 || 3+n > len(args) {
		return nil
	}
	keys := args[3 : 3+n]
	first := fmt.Sprint(keys[0])
	for _, k := range keys[1:] {
		if ks := fmt.Sprint(k); keyslot.Of(ks) != keyslot.Of(first) {
			return fmt.Errorf("script called with keys of two slots: %s (slot %d) and %s (slot %d)", first, keyslot.Of(first), ks, keyslot.Of(ks))
		}
	}
	return nil
}
