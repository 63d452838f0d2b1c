package attemptlog_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/deadarchive"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/loadtest/chainload"
	"github.com/streamsync/streamsync/sinks/attemptlog"
	"github.com/streamsync/streamsync/sql"
)

// answers runs every question, the sql package's queries and Chains (all
// chains, and one account's), each answer's rows rendered and sorted so
// that rows tied in the ORDER BY compare equal.
func answers(t *testing.T, conn driver.Conn, db string, since time.Time, account string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	for _, name := range sql.Names() {
		ans, err := attemptlog.RunQuery(ctx, conn, db, name, map[string]any{"since": since})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, r := range ans.Rows {
			out[name] = append(out[name], fmt.Sprint(r...))
		}
		slices.Sort(out[name])
	}
	for _, acc := range []string{"", account} {
		chains, _, err := attemptlog.Chains(ctx, conn, db, attemptlog.ChainFilter{Account: acc, Since: since, Stuck: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		key := "chains " + acc
		for _, c := range chains {
			out[key] = append(out[key], fmt.Sprintf("%+v", c))
		}
		slices.Sort(out[key])
	}
	return out
}

func countOf(t *testing.T, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// An attempt log of one server with rows grows into the two-shard cluster
// (clickhouse.cluster set, the next start): every row is kept, each
// account's rows land on one shard, both shards hold some, and every
// question answers as it did on one server. A second start copies nothing
// again.
func TestClusterGrowKeepsRowsAndAnswers(t *testing.T) {
	name, shards, db := testenv.ClickHouseShards(t)
	_, addrs := testenv.ClickHouseCluster(t)
	o := attemptlog.Options{Addr: addrs[0], Database: db, Username: "default", Cluster: name}
	conn, err := attemptlog.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx := context.Background()
	// Rows of two hours ago, so no chain turns stuck while the test runs.
	end := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	since := end.Add(-time.Hour).UTC()
	loaded, err := chainload.Load(ctx, conn, db, chainload.LoadConfig{Rows: 30000, End: end, DuplicateEvery: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := deadarchive.EnsureSchema(ctx, conn, db); err != nil { // archived_dead_letters reads it
		t.Fatal(err)
	}
	var account string
	if err := conn.QueryRow(ctx, "SELECT any(account) FROM `"+db+"`.attempts WHERE step = 'dead'").Scan(&account); err != nil {
		t.Fatal(err)
	}
	distinct := "SELECT uniqExact(row_id) FROM `" + db + "`.attempts"
	rows := countOf(t, conn, distinct)
	if rows != loaded.Rows {
		t.Fatalf("%d distinct rows on one server, loaded %d", rows, loaded.Rows)
	}
	before := answers(t, conn, db, since, account)
	if len(before["chains "]) == 0 || len(before["dead_children"]) == 0 {
		t.Fatalf("no failed chains or dead children to compare: %v", before)
	}

	cl := o.Sharding()
	if err := attemptlog.EnsureSchemaWith(ctx, conn, db, attemptlog.SchemaOptions{Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, conn, distinct); n != rows {
		t.Fatalf("%d distinct rows over the cluster, %d on one server", n, rows)
	}
	if n := countOf(t, conn, "SELECT count() FROM `"+db+"`."+attemptlog.SingleTable); n != rows+loaded.Duplicates {
		t.Fatalf("%s holds %d rows, want the %d of before", attemptlog.SingleTable, n, rows+loaded.Duplicates)
	}
	onShard := map[string]int{}
	for i, s := range shards {
		if n := countOf(t, s, "SELECT count() FROM `"+db+"`.attempts_local"); n == 0 {
			t.Errorf("shard %d holds no rows", i+1)
		}
		accs, err := s.Query(ctx, "SELECT DISTINCT account FROM `"+db+"`.attempts_local")
		if err != nil {
			t.Fatal(err)
		}
		for accs.Next() {
			var a string
			_ = accs.Scan(&a)
			if j, ok := onShard[a]; ok {
				t.Errorf("account %s on shards %d and %d", a, j+1, i+1)
			}
			onShard[a] = i
		}
		accs.Close()
	}
	after := answers(t, conn, db, since, account)
	for q, want := range before {
		if got := after[q]; !slices.Equal(got, want) {
			t.Errorf("%s over the cluster: %d rows, on one server %d\n got %.600v\nwant %.600v", q, len(got), len(want), got, want)
		}
	}
	// The sealer over the cluster: closed minutes answered through the
	// Distributed tables, on the shards, and the same answers.
	sealer, err := attemptlog.NewSealer(attemptlog.SealerConfig{Database: db, Budget: time.Minute}, nil, conn)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := sealer.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range shards {
		if n := countOf(t, s, "SELECT count() FROM `"+db+"`.latency_minutes_local"); n == 0 {
			t.Errorf("shard %d holds no sealed minute", i+1)
		}
	}
	sealed := answers(t, conn, db, since, account)
	for q, want := range before {
		if got := sealed[q]; !slices.Equal(got, want) {
			t.Errorf("%s over the cluster, minutes sealed: %d rows, on one server %d\n got %.600v\nwant %.600v", q, len(got), len(want), got, want)
		}
	}

	all := "SELECT count() FROM `" + db + "`.attempts"
	copies := countOf(t, conn, all)
	if err := attemptlog.EnsureSchemaWith(ctx, conn, db, attemptlog.SchemaOptions{Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, conn, all); n != copies {
		t.Fatalf("a second start copied again: %d rows, %d before it", n, copies)
	}
	// A process without clickhouse.cluster is stopped, naming the setting,
	// and makes no table of one server beside the shards'.
	tables := countOf(t, conn, "SELECT count() FROM system.tables WHERE database = '"+db+"'")
	if err := attemptlog.EnsureSchema(ctx, conn, db); err == nil || !strings.Contains(err.Error(), "clickhouse.cluster") {
		t.Errorf("schema without the cluster setting over a cluster's tables: %v, want an error naming clickhouse.cluster", err)
	}
	if n := countOf(t, conn, "SELECT count() FROM system.tables WHERE database = '"+db+"'"); n != tables {
		t.Errorf("%d tables after a start without the cluster setting, %d before", n, tables)
	}
}
