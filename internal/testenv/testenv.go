package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
)

// Environment variables that point tests at servers.
const (
	RedisAddrEnv      = "STREAMSYNC_TEST_REDIS_ADDR"
	ClickHouseAddrEnv = "STREAMSYNC_TEST_CLICKHOUSE_ADDR"
	PostgresDSNEnv    = "STREAMSYNC_TEST_POSTGRES_DSN"
)

// PostgresDSN is the test PostgreSQL's connection URL (scripts/infra.sh up
// postgres); skipped with -short, a failure when unset otherwise.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	return addr(tb, PostgresDSNEnv)
}

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

// ClickHouse returns a connection to the test ClickHouse and a database of
// the test's own, dropped when the test ends.
func ClickHouse(tb testing.TB) (driver.Conn, string) {
	tb.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ClickHouseAddr(tb)}, DialTimeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db := "test_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		_ = conn.Close()
	})
	return conn, db
}

// ClickHouseServer is a ClickHouse of one test's own, which the test may
// stop and start (scripts/infra.sh on another port).
type ClickHouseServer struct {
	tb   testing.TB
	Port int
	Addr string
}

// NewClickHouseServer prepares a private ClickHouse on port; Start starts it.
// It is stopped when the test ends.
func NewClickHouseServer(tb testing.TB, port int) *ClickHouseServer {
	tb.Helper()
	ClickHouseAddr(tb) // skip with -short like the rest
	s := &ClickHouseServer{tb: tb, Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	tb.Cleanup(func() { _ = s.infra("down") })
	return s
}

// Start starts the server and waits until it answers.
func (s *ClickHouseServer) Start() {
	s.tb.Helper()
	if err := s.infra("up"); err != nil {
		s.tb.Fatal(err)
	}
}

// Stop stops it.
func (s *ClickHouseServer) Stop() {
	s.tb.Helper()
	if err := s.infra("down"); err != nil {
		s.tb.Fatal(err)
	}
}

func (s *ClickHouseServer) infra(action string) error {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "infra.sh")
	cmd := exec.Command("bash", script, action, "clickhouse")
	cmd.Env = append(os.Environ(), fmt.Sprintf("STREAMSYNC_DEV_CLICKHOUSE_PORT=%d", s.Port), fmt.Sprintf("STREAMSYNC_DEV_CLICKHOUSE_HTTP_PORT=%d", s.Port+1))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("infra.sh %s clickhouse on %d: %w\n%s", action, s.Port, err, out)
	}
	return nil
}
