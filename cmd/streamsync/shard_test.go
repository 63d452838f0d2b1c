package main

import (
	"context"
	"encoding/json"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// `streamsync shard ACCOUNT` prints the account's stream alone on one line:
// the configured name with one shard, the shard's tagged name with more.
func TestShardCommand(t *testing.T) {
	out, err := cli(t, nil, "shard", "acc-7")
	if err != nil || out != "streamsync:events\n" {
		t.Fatalf("one shard: %q %v", out, err)
	}
	out, err = cli(t, []string{"STREAMSYNC_STREAM__SHARDS=6"}, "shard", "acc-7")
	want := layout.NewShards("streamsync:events", "streamsync", "streamsync:dead", "streamsync:delayed", "streamsync:retry", 6, true)[crc32.ChecksumIEEE([]byte("acc-7"))%6].Events
	if err != nil || out != want+"\n" || strings.Count(out, "\n") != 1 {
		t.Fatalf("six shards: %q %v, want %q", out, err, want)
	}
	if _, err := cli(t, nil, "shard"); err == nil {
		t.Fatal("shard without an account: no error")
	}
	if _, err := cli(t, nil, "shard", ""); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("shard of an empty account: %v, want an error", err)
	}
}

// `streamsync shard ACCOUNT --format json` prints account, shard and stream.
func TestShardCommandJSON(t *testing.T) {
	out, err := cli(t, []string{"STREAMSYNC_STREAM__SHARDS=6"}, "shard", "acc-7", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Account string `json:"account"`
		Shard   *int   `json:"shard"`
		Stream  string `json:"stream"`
	}
	n := int(crc32.ChecksumIEEE([]byte("acc-7")) % 6)
	want := layout.NewShards("streamsync:events", "streamsync", "streamsync:dead", "streamsync:delayed", "streamsync:retry", 6, true)[n].Events
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Account != "acc-7" || got.Shard == nil || *got.Shard != n || got.Stream != want {
		t.Fatalf("json: %q %v, want shard %d stream %q", out, err, n, want)
	}
}

// status reports every shard and their sums.
func TestStatusPerShard(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	ctx := context.Background()
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	env := []string{"STREAMSYNC_REDIS__ADDR=" + testenv.RedisAddr(t), "STREAMSYNC_STREAM__EVENTS=" + prefix + "events",
		"STREAMSYNC_STREAM__DEAD=" + prefix + "dead", "STREAMSYNC_STREAM__DELAYED=" + prefix + "delayed", "STREAMSYNC_STREAM__RETRY=" + prefix + "retry",
		"STREAMSYNC_STREAM__SHARDS=3"}
	shards := layout.NewShards(prefix+"events", "streamsync", prefix+"dead", prefix+"delayed", prefix+"retry", 3, true)
	for _, acc := range []string{"a", "b", "c", "d", "e"} {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: shards.Stream(acc), Values: []any{"id", acc, "account", acc}})
	}
	out, err := cli(t, env, "status", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var s inspect.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.StreamLength != 5 || len(s.Shards) != 3 {
		t.Fatalf("status %s", out)
	}
	for i, sh := range s.Shards {
		n, _ := rdb.XLen(ctx, shards[i].Events).Result()
		if sh.Stream != shards[i].Events || sh.StreamLength != n {
			t.Errorf("shard %d: %+v, stream has %d", i, sh, n)
		}
	}
	table, err := cli(t, env, "status")
	if err != nil || !strings.Contains(table, shards[2].Events) {
		t.Fatalf("table: %v\n%s", err, table)
	}
}
