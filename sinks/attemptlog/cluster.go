package attemptlog

import (
	"context"
	"fmt"
	"regexp"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The attempt log past one ClickHouse (docs/operations.md, "Growing past
// one ClickHouse"): with clickhouse.cluster set, every server of that
// cluster (its remote_servers) holds the rows of some accounts in local
// tables — attempts_local, and <derived>_local with its view — and a
// Distributed table under each name the questions read (attempts, each
// derived table's) that spreads inserts by cityHash64(account) and gathers
// reads from every shard. An account's rows, so its chains, their children
// (a child is of its parent's account) and every row a derived table keeps
// of them, lie on one shard: the questions' IN-subqueries and JOINs read
// the shard's local tables (distributed_product_mode = 'local') and answer
// as one server does. 18.16 has no ON CLUSTER without ZooKeeper, so the
// tables are made by a connection to each server.

// Cluster says over which ClickHouse cluster the attempt log is sharded.
// The zero value is one server.
type Cluster struct {
	// Name is a cluster of the servers' remote_servers (clickhouse.cluster);
	// empty for one server.
	Name string
	// Dial connects to one server of the cluster (host:port as
	// system.clusters lists it) with the credentials and TLS of the first;
	// the caller closes it. Options.Sharding gives one.
	Dial func(addr string) (driver.Conn, error)
}

// Enabled reports whether the attempt log is sharded.
func (c Cluster) Enabled() bool { return c.Name != "" }

// ShardKey is the Distributed tables' sharding expression: an account's
// rows go to one shard.
const ShardKey = "cityHash64(account)"

// LocalSuffix names a shard's own table behind a Distributed one:
// attempts_local behind attempts.
const LocalSuffix = "_local"

// clusterRe is a cluster name as remote_servers may spell it.
var clusterRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`)

// CheckCluster reports a cluster name that cannot be one of
// remote_servers' ([A-Za-z_][A-Za-z0-9_.-]*, at most 128); empty is one
// server and fine.
func CheckCluster(name string) error {
	if name != "" && !clusterRe.MatchString(name) {
		return fmt.Errorf("clickhouse.cluster %q: not a cluster name ([A-Za-z_][A-Za-z0-9_.-]*)", name)
	}
	return nil
}

// clusterSettings are the settings of every query on a connection of a
// sharded attempt log: an insert into a Distributed table returns once
// every shard has its rows (so the exporter's ack means they are there).
// Its SELECTs read local tables in their subqueries (clusterconn.go).
var clusterSettings = map[string]any{"insert_distributed_sync": 1}

// ClusterHosts lists the servers (host:port, the native port) of cluster
// name as system.clusters of conn's server knows them, every replica of
// every shard, shard by shard. A name it does not know is an error naming
// clickhouse.cluster.
func ClusterHosts(ctx context.Context, conn driver.Conn, name string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", name)
	if err != nil {
		return nil, fmt.Errorf("clickhouse.cluster %s: read system.clusters: %w", name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			return nil, fmt.Errorf("clickhouse.cluster %s: read system.clusters: %w", name, err)
		}
		out = append(out, fmt.Sprintf("%s:%d", host, port))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse.cluster %s: read system.clusters: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("clickhouse.cluster %s: no such cluster in the server's remote_servers (system.clusters)", name)
	}
	return out, nil
}

// forEachHost runs fn on a connection to every server of the cluster, one
// after the other, and last on conn itself when its server is not one of
// them (it answers the questions through its Distributed tables).
func forEachHost(ctx context.Context, conn driver.Conn, c Cluster, fn func(host string, hc driver.Conn) error) error {
	hosts, err := ClusterHosts(ctx, conn, c.Name)
	if err != nil {
		return err
	}
	var member uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = ? AND is_local", c.Name).Scan(&member); err != nil {
		return fmt.Errorf("clickhouse.cluster %s: read system.clusters: %w", c.Name, err)
	}
	for _, h := range hosts {
		hc, err := c.Dial(h)
		if err != nil {
			return fmt.Errorf("clickhouse.cluster %s: server %s: %w", c.Name, h, err)
		}
		err = fn(h, hc)
		_ = hc.Close()
		if err != nil {
			return fmt.Errorf("clickhouse.cluster %s: server %s: %w", c.Name, h, err)
		}
	}
	if member == 0 {
		if err := fn("the server streamsync connects to", conn); err != nil {
			return fmt.Errorf("clickhouse.cluster %s: %w", c.Name, err)
		}
	}
	return nil
}
