package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/proof"
	"github.com/streamsync/streamsync/internal/testenv"
)

func cli(t *testing.T, environ []string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := dispatch(context.Background(), args, &out, environ)
	return out.String(), err
}

func TestBadSettingStopsStartUpNamingIt(t *testing.T) {
	tests := []struct {
		args    []string
		environ []string
		want    string
	}{
		{[]string{"run"}, nil, "sink.base_url: required"},
		{[]string{"run", "--sink.base_url=http://x", "--stream.batch=0"}, nil, "stream.batch: must be 1 to 10000"},
		{[]string{"status"}, []string{"STREAMSYNC_REDIS__DB=two"}, "redis.db: want a whole number"},
		{[]string{"status", "--format", "xml"}, nil, "--format: must be table or json"},
		{[]string{"nope"}, nil, `unknown command "nope"`},
	}
	for _, tt := range tests {
		_, err := cli(t, tt.environ, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestStatusAndDeadCommands(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	ctx := context.Background()
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	env := []string{"STREAMSYNC_REDIS__ADDR=" + testenv.RedisAddr(t), "STREAMSYNC_STREAM__EVENTS=" + prefix + "events",
		"STREAMSYNC_STREAM__DEAD=" + prefix + "dead", "STREAMSYNC_STREAM__DELAYED=" + prefix + "delayed", "STREAMSYNC_STREAM__RETRY=" + prefix + "retry"}
	for _, d := range [][]any{
		{"id", "e1", "account", "a", "entity", "x", "key", "k", "op", "upsert", "version", "1", "data", "{}", "dead_reason", "rejected", "dead_error", "422", "dead_attempts", "1", "dead_at", "1700000000000"},
		{"id", "e2", "account", "b", "op", "merge", "dead_reason", "invalid", "dead_error", "op: bad", "dead_attempts", "0", "dead_at", "1700000000000"},
	} {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "dead", Values: d})
	}
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "events", Values: []any{"id", "e3"}})
	rdb.XGroupCreate(ctx, prefix+"events", "streamsync", "0")

	out, err := cli(t, env, "status", "--format", "json")
	var st map[string]any
	if err != nil || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status: %v %s", err, out)
	}
	for _, k := range []string{"stream_length", "pending", "lag", "delayed", "retrying", "dead"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status --format json lacks %s", k)
		}
	}
	if st["dead"] != float64(2) || st["stream_length"] != float64(1) || st["lag"] != float64(1) {
		t.Fatalf("status %v", st)
	}
	if out, _ := cli(t, env, "status"); !strings.Contains(out, "dead              2") {
		t.Fatalf("status table:\n%s", out)
	}

	out, err = cli(t, env, "dead", "list", "--reason", "invalid")
	if err != nil || !strings.Contains(out, "e2") || strings.Contains(out, "e1") {
		t.Fatalf("dead list --reason invalid: %v\n%s", err, out)
	}
	if _, err := cli(t, env, "dead", "list", "--limit", "100000000"); err == nil || !strings.Contains(err.Error(), "--limit must be 1 to 1000") {
		t.Fatalf("dead list --limit 100000000: %v", err)
	}
	if _, err := cli(t, env, "dead", "drop"); err == nil {
		t.Fatal("dead drop without a filter must fail")
	}
	if out, err := cli(t, env, "dead", "drop", "--id", "e2", "--format", "json"); err != nil || !strings.Contains(out, `"count":1`) {
		t.Fatalf("dead drop: %v %s", err, out)
	}
	if out, err := cli(t, env, "dead", "replay", "--all"); err != nil || !strings.Contains(out, "replay: 1") {
		t.Fatalf("dead replay: %v %s", err, out)
	}
	entries, _ := rdb.XRange(ctx, prefix+"events", "-", "+").Result()
	last := entries[len(entries)-1].Values
	if last["id"] != "e1" || last["_ss_replay"] != "1" || last["dead_reason"] != nil || last["data"] != "{}" {
		t.Fatalf("replayed entry %v", last)
	}
	key, err := proof.Load(ctx, rdb, layout.NewKeys(prefix+"events", "", "", "", "").ProofKey)
	if err != nil {
		t.Fatal(err)
	}
	replayed := map[string]string{}
	for k, v := range last {
		replayed[k] = v.(string)
	}
	if key.Verify(replayed[proof.Field], replayed) != proof.Replay {
		t.Fatalf("the replayed entry has no valid replay proof: %v", last)
	}
	if n, _ := rdb.XLen(ctx, prefix+"dead").Result(); n != 0 {
		t.Fatalf("%d dead letters left", n)
	}
	for _, action := range []string{"replay", "drop"} {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "dead", Values: []any{"id", "e4", "account", "a", "dead_reason", "rejected"}})
		out, err := cli(t, env, "dead", action, "--id", "nosuch", "--id", "e4", "--id", "gone")
		if err == nil || !strings.Contains(err.Error(), "no dead letter with id nosuch, gone") || !strings.Contains(out, action+": 1") {
			t.Fatalf("dead %s of unknown ids: %v\n%s", action, err, out)
		}
	}
	if _, err := cli(t, env, "dead", "undo"); err == nil || !strings.Contains(err.Error(), "want list, replay or drop") {
		t.Fatalf("dead undo: %v", err)
	}
}

func TestProduceAppendsTheStory(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, prefix+"events") })
	env := []string{"STREAMSYNC_REDIS__ADDR=" + testenv.RedisAddr(t), "STREAMSYNC_STREAM__EVENTS=" + prefix + "events"}
	if _, err := cli(t, env, "produce", "--events", "90", "--rate", "0", "--seed", "3"); err != nil {
		t.Fatal(err)
	}
	entries, _ := rdb.XRange(ctx, prefix+"events", "-", "+").Result()
	if len(entries) < 30 {
		t.Fatalf("%d entries", len(entries))
	}
	flat := 0
	for _, e := range entries {
		if _, ok := e.Values["account"]; ok && e.Values["payload"] == nil {
			flat++
		}
	}
	if flat < len(entries)-2 {
		t.Fatalf("entries are not flat contract fields: %v", entries[0].Values)
	}
}
