package attemptlog

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/sql"
)

// Each sql/*.sql runs as shipped, with no parameter bound, and its inline
// defaults (the last hour, stuck after 5 minutes, every account) answer as
// the CLI's defaults do.
func TestQueriesRunAsShipped(t *testing.T) {
	conn, db := seed(t)
	for _, name := range sql.Names() {
		t.Run(name, func(t *testing.T) {
			text, err := sql.Query(name, db)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := conn.Query(context.Background(), text)
			if err != nil {
				t.Fatalf("as shipped: %v", err)
			}
			var shipped [][]any
			types := rows.ColumnTypes()
			for rows.Next() {
				dest := make([]any, len(types))
				for i, c := range types {
					dest[i] = reflect.New(c.ScanType()).Interface()
				}
				if err := rows.Scan(dest...); err != nil {
					t.Fatal(err)
				}
				row := make([]any, len(dest))
				for i, d := range dest {
					row[i] = reflect.ValueOf(d).Elem().Interface()
				}
				shipped = append(shipped, row)
			}
			rows.Close()
			if len(shipped) == 0 {
				t.Fatal("as shipped: no rows over the seeded last hour")
			}
			values := map[string]any{"since": time.Now().Add(-time.Hour).UTC()}
			if name == "failed_chains" {
				values["stuck_seconds"], values["account"] = uint32(300), ""
			}
			bound := queryWith(t, conn, db, name, values)
			if got, want := fmt.Sprint(render(shipped)), fmt.Sprint(bound); got != want {
				t.Fatalf("as shipped:\n%s\nbound like the CLI's defaults:\n%s", got, want)
			}
		})
	}
}

// clickhouse-client, the tool analysts paste the files into, runs each one.
func TestQueriesRunInClickHouseClient(t *testing.T) {
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		t.Skip("clickhouse-client is not installed")
	}
	_, db := seed(t)
	host, port, err := net.SplitHostPort(testenv.ClickHouseAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sql.Names() {
		text, _ := sql.Query(name, db)
		out, err := exec.Command(client, "--host", host, "--port", port, "--query", text).CombinedOutput()
		if err != nil {
			t.Errorf("clickhouse-client on sql/%s.sql: %v\n%s", name, err, out)
			continue
		}
		if strings.TrimSpace(string(out)) == "" {
			t.Errorf("clickhouse-client on sql/%s.sql: no rows over the seeded last hour", name)
		}
	}
}

// A narrower --since leaves older rows out; a parameter a query does not
// take is refused by name.
func TestRunQueryBindsParameters(t *testing.T) {
	conn, db := seed(t)
	rows := queryWith(t, conn, db, "top_errors", map[string]any{"since": time.Now().Add(-12 * time.Minute).UTC()})
	if len(rows) != 1 || rows[0][1] != "503 Service Unavailable: unavailable" || rows[0][3] != "1" {
		t.Fatalf("top_errors since 12 minutes ago: %v; want chain E's one 503", rows)
	}
	only := queryWith(t, conn, db, "failed_chains", map[string]any{"account": "acc1"})
	if len(only) != 1 || only[0][1] != "B" {
		t.Fatalf("failed_chains for acc1: %v; want B", only)
	}
	_, err := RunQuery(context.Background(), conn, db, "top_errors", map[string]any{"stuck_seconds": uint32(1)})
	if err == nil || !strings.Contains(err.Error(), "takes no stuck_seconds") {
		t.Fatalf("top_errors with stuck_seconds: %v", err)
	}
}

// top_errors counts failures: a child parked waiting for its parent is a
// normal wait, never an error row.
func TestTopErrorsLeavesWaitsOut(t *testing.T) {
	conn, db := seed(t)
	for _, r := range query(t, conn, db, "top_errors") {
		if r[2] != "retry_scheduled" && r[2] != "dead" && r[2] != "invalid" {
			t.Errorf("top_errors row on step %s: %v", r[2], r)
		}
	}
}
