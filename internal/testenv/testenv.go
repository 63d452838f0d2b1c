package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Environment variables that point tests at servers.
const (
	RedisAddrEnv      = "STREAMSYNC_TEST_REDIS_ADDR"
	ClickHouseAddrEnv = "STREAMSYNC_TEST_CLICKHOUSE_ADDR"
)

// addr returns the address in env. With -short the test is skipped; without
// it a missing address fails the test, so that a run meant to be complete
// cannot pass by skipping.
func addr(tb testing.TB, env string) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: skipped with -short")
	}
	a := os.Getenv(env)
	if a == "" {
		tb.Fatalf("%s is not set: run `make test`, or `make up` and `eval \"$(scripts/infra.sh env)\"`, or point it at your own server", env)
	}
	return a
}

// RedisAddr is the test Redis' host:port.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	return addr(tb, RedisAddrEnv)
}

// ClickHouseAddr is the test ClickHouse's native-protocol host:port.
func ClickHouseAddr(tb testing.TB) string {
	tb.Helper()
	return addr(tb, ClickHouseAddrEnv)
}

// Redis returns a client of the test Redis that answered PING, closed when
// the test ends.
func Redis(tb testing.TB) *redis.Client {
	tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: RedisAddr(tb)})
	tb.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redis at %s: %v", RedisAddr(tb), err)
	}
	return rdb
}

// Prefix returns a key prefix no other test uses, so that tests of several
// packages share one Redis without touching each other's keys.
func Prefix(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", ":", " ", "_").Replace(tb.Name())
	return "test:" + name + ":" + hex.EncodeToString(b) + ":"
}

// WaitFor polls cond every few milliseconds until it is true or the
// deadline passes, then fails the test with what.
func WaitFor(tb testing.TB, deadline time.Duration, what string, cond func() bool) {
	tb.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			tb.Fatalf("timed out after %s waiting for %s", deadline, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
