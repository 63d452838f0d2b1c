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
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Environment variables naming the test ClickHouse cluster: the servers
// of `scripts/infra.sh up chcluster` (comma-separated host:port, the
// native port) and the cluster their remote_servers define.
const (
	ClickHouseClusterAddrsEnv = "STREAMSYNC_TEST_CLICKHOUSE_CLUSTER_ADDRS"
	ClickHouseClusterEnv      = "STREAMSYNC_TEST_CLICKHOUSE_CLUSTER"
)

// ClickHouseClusterName is the test cluster's name in the servers'
// remote_servers when the environment does not say.
const ClickHouseClusterName = "streamsync_test"

var chClusterOnce struct {
	sync.Once
	err error
}

// ClickHouseCluster is the test ClickHouse cluster: its name and its
// servers, one a shard. Skipped with -short like every ClickHouse test;
// without the environment variables it starts the cluster itself
// (scripts/infra.sh up chcluster, which leaves the ClickHouse of
// STREAMSYNC_TEST_CLICKHOUSE_ADDR alone), and a failure to is the test's.
func ClickHouseCluster(tb testing.TB) (name string, addrs []string) {
	tb.Helper()
	ClickHouseAddr(tb) // skip with -short, fail when unset, like the rest
	if v := os.Getenv(ClickHouseClusterAddrsEnv); v != "" {
		name = os.Getenv(ClickHouseClusterEnv)
		if name == "" {
			name = ClickHouseClusterName
		}
		return name, strings.Split(v, ",")
	}
	chClusterOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "infra.sh")
		out, err := exec.Command("bash", script, "up", "chcluster").CombinedOutput()
		if err != nil {
			chClusterOnce.err = fmt.Errorf("scripts/infra.sh up chcluster: %w\n%s", err, out)
		}
	})
	if chClusterOnce.err != nil {
		tb.Fatal(chClusterOnce.err)
	}
	return ClickHouseClusterName, []string{"127.0.0.1:19020", "127.0.0.1:19030"}
}

// ClickHouseShards returns a connection to each server of the test
// cluster and a database name of the test's own, dropped on every server
// when the test ends.
func ClickHouseShards(tb testing.TB) (name string, conns []driver.Conn, db string) {
	tb.Helper()
	name, addrs := ClickHouseCluster(tb)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db = "test_" + hex.EncodeToString(b)
	for _, a := range addrs {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{a}, DialTimeout: 2 * time.Second})
		if err != nil {
			tb.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = conn.Ping(ctx)
		cancel()
		if err != nil {
			tb.Fatalf("clickhouse of the test cluster at %s: %v", a, err)
		}
		tb.Cleanup(func() {
			_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			_ = conn.Close()
		})
		conns = append(conns, conn)
	}
	return name, conns, db
}
