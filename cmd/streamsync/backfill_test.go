package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// captureStderr runs fn with os.Stderr going to a pipe and returns what it wrote.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	defer func() { os.Stderr = old }()
	fn()
	_ = w.Close()
	return <-done
}

// `streamsync backfill --format json` (docs/backfill.md): the first stderr line
// names the run, the summary is one JSON object, and every record is in the
// events stream; without a source it stops naming source.kind.
func TestBackfillCommand(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	ctx := context.Background()
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	var lines bytes.Buffer
	for i := range 25 {
		fmt.Fprintf(&lines, `{"entity":"sub","key":"k%d","account":"a","version":%d,"data":{"i":%d}}`+"\n", i, i+1, i)
	}
	lines.WriteString("not a record\n")
	path := filepath.Join(t.TempDir(), "dump.jsonl")
	if err := os.WriteFile(path, lines.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"STREAMSYNC_REDIS__ADDR=" + testenv.RedisAddr(t), "STREAMSYNC_STREAM__EVENTS=" + prefix + "events",
		"STREAMSYNC_STREAM__DEAD=" + prefix + "dead", "STREAMSYNC_LOG__LEVEL=error"}

	stderr := captureStderr(t, func() {
		if _, err := cli(t, env, "backfill"); err == nil || !strings.Contains(err.Error(), "source.kind") {
			t.Errorf("backfill without a source: %v", err)
		}
	})
	if strings.Contains(stderr, "started") {
		t.Fatalf("backfill without a source said it started: %q", stderr)
	}

	var out string
	var err error
	stderr = captureStderr(t, func() {
		out, err = cli(t, append(env, "STREAMSYNC_SOURCE__KIND=file", "STREAMSYNC_SOURCE__FILE="+path), "backfill", "--format", "json", "--rate", "0")
	})
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		RunID    string   `json:"run_id"`
		Records  int      `json:"records"`
		Appended int      `json:"appended"`
		BadLines int      `json:"bad_lines"`
		Notes    []string `json:"notes"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.RunID == "" || sum.Records != 25 || sum.Appended != 25 ||
		sum.BadLines != 1 || len(sum.Notes) != 1 || !strings.Contains(sum.Notes[0], "1 lines") {
		t.Fatalf("summary %q: %+v %v", out, sum, err)
	}
	if first, _, _ := strings.Cut(stderr, "\n"); first != "backfill "+sum.RunID+" started" {
		t.Fatalf("first stderr line %q", first)
	}
	if n, _ := rdb.XLen(ctx, prefix+"events").Result(); n != 25 {
		t.Fatalf("%d entries appended, want 25", n)
	}
}

// A backfill whose source.entities the file does not hold completes with a
// note and a WARN line saying it read no record.
func TestBackfillNoRecordsNote(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	path := filepath.Join(t.TempDir(), "dump.jsonl")
	if err := os.WriteFile(path, []byte(`{"entity":"sub","key":"k1","account":"a","version":1,"data":{}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"STREAMSYNC_REDIS__ADDR=" + testenv.RedisAddr(t), "STREAMSYNC_STREAM__EVENTS=" + prefix + "events",
		"STREAMSYNC_STREAM__DEAD=" + prefix + "dead", "STREAMSYNC_SOURCE__KIND=file", "STREAMSYNC_SOURCE__FILE=" + path,
		"STREAMSYNC_SOURCE__ENTITIES=contact"}
	var out string
	var err error
	stderr := captureStderr(t, func() { out, err = cli(t, env, "backfill", "--rate", "0") })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "note: the source yielded no records for entities [contact]") || !strings.Contains(out, "records read: 0") {
		t.Fatalf("summary without the note:\n%s", out)
	}
	if !strings.Contains(stderr, "WARN") || !strings.Contains(stderr, "no records") {
		t.Fatalf("no WARN line on stderr:\n%s", stderr)
	}
}

// `backfill --replay-dead` replays the dead letters of every shard, not only
// of the first.
func TestBackfillReplaysDeadOfEveryShard(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	ctx := context.Background()
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	path := filepath.Join(t.TempDir(), "dump.jsonl")
	if err := os.WriteFile(path, []byte(`{"entity":"sub","key":"k","account":"a","version":1,"data":{}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 3
	shards := layout.NewShards(prefix+"events", "streamsync", prefix+"dead", prefix+"delayed", prefix+"retry", n, false)
	seen := map[int]bool{}
	var ids []string
	for i := 0; len(seen) < n; i++ {
		acc := fmt.Sprintf("acc-%d", i)
		shard := layout.ShardOf(acc, n)
		if seen[shard] {
			continue
		}
		seen[shard] = true
		id := "dead-" + acc
		ids = append(ids, id)
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: shards.For(acc).Dead, Values: []any{"id", id, "account", acc, "entity", "sub",
			"key", "c-" + acc, "op", "upsert", "version", "1", "data", "{}", "dead_reason", "parent_missing", "dead_error", "x",
			"dead_attempts", "0", "dead_at", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli())}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"STREAMSYNC_REDIS__ADDR=" + testenv.RedisAddr(t), "STREAMSYNC_STREAM__EVENTS=" + prefix + "events",
		"STREAMSYNC_STREAM__DEAD=" + prefix + "dead", "STREAMSYNC_STREAM__DELAYED=" + prefix + "delayed",
		"STREAMSYNC_STREAM__RETRY=" + prefix + "retry", "STREAMSYNC_STREAM__SHARDS=3", "STREAMSYNC_LOG__LEVEL=error",
		"STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_SOURCE__KIND=file", "STREAMSYNC_SOURCE__FILE=" + path}
	captureStderr(t, func() {
		if _, err := cli(t, env, "backfill", "--format", "json", "--rate", "0", "--replay-dead"); err != nil {
			t.Error(err)
		}
	})
	for s := range n {
		if left, _ := rdb.XLen(ctx, shards[s].Dead).Result(); left != 0 {
			t.Errorf("shard %d: %d dead letters left after --replay-dead", s, left)
		}
	}
	for _, id := range ids {
		acc := strings.TrimPrefix(id, "dead-")
		entries, err := rdb.XRange(ctx, shards.For(acc).Events, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range entries {
			found = found || e.Values["id"] == id
		}
		if !found {
			t.Errorf("%s was not replayed into its shard's events stream", id)
		}
	}
}
