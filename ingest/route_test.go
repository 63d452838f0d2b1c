package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// With shards, every event lands in its account's shard stream
// (crc32(account) mod N, docs/scaling.md), a batch spread over shards included.
func TestIngestRoutesByShard(t *testing.T) { ingestRoutes(t, testenv.Redis(t)) }

// The same on the test Redis Cluster, where a batch's shards live in
// different slots.
func TestIngestRoutesByShardOnCluster(t *testing.T) { ingestRoutes(t, testenv.RedisCluster(t)) }

func ingestRoutes(t *testing.T, rdb redis.UniversalClient) {
	prefix := testenv.Prefix(t)
	shards := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", 4, true)
	t.Cleanup(func() {
		for _, k := range shards {
			rdb.Del(context.Background(), k.Events)
		}
	})
	s, err := New(Config{Addr: "127.0.0.1:0", Route: shards.Stream, Limits: event.Limits{MaxBytes: 2048},
		Now: func() time.Time { return time.UnixMilli(1) }}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	var items []string
	for i := range 40 {
		items = append(items, fmt.Sprintf(`{"id":"e%d","account":"acc-%d","entity":"main","key":"k%d","op":"upsert","version":1,"data":{}}`, i, i, i))
	}
	if st, body := post(t, "http://"+s.Addr()+"/v1/events", "["+strings.Join(items, ",")+"]"); st != 202 || body["accepted"] != float64(40) {
		t.Fatalf("batch: %d %v", st, body)
	}
	seen, used := 0, 0
	for i, k := range shards {
		entries, err := rdb.XRange(context.Background(), k.Events, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) > 0 {
			used++
		}
		for _, e := range entries {
			acc := e.Values["account"].(string)
			if got := layout.ShardOf(acc, len(shards)); got != i {
				t.Errorf("%s of shard %d is in stream %s (shard %d)", e.Values["id"], got, k.Events, i)
			}
			seen++
		}
	}
	if seen != 40 || used < 2 {
		t.Fatalf("%d entries over %d shard streams, want 40 over several", seen, used)
	}
}
