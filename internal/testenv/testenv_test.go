package testenv

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/redis/go-redis/v9"
)

// The project's scripts bring up a Redis with AOF on and a ClickHouse that
// answers queries.
func TestServersAnswer(t *testing.T) {
	ctx := context.Background()
	rdb := Redis(t)
	key := Prefix(t) + "s"
	t.Cleanup(func() { rdb.Del(context.Background(), key) })
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"a", "1"}}).Err(); err != nil {
		t.Fatalf("XADD: %v", err)
	}
	aof, err := rdb.ConfigGet(ctx, "appendonly").Result()
	if err != nil || aof["appendonly"] != "yes" {
		t.Fatalf("appendonly = %v, %v; the scripts start Redis with AOF on", aof, err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ClickHouseAddr(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var one uint8
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("clickhouse SELECT 1 = %d, %v", one, err)
	}
}
