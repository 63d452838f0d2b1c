package attemptlog

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Table is the attempt log's table name within the database.
const Table = "attempts"

// SchemaOptions are the choices EnsureSchemaWith makes for a table.
type SchemaOptions struct {
	// OldRowsPartner is the partner rows written before the partner column
	// existed read as: the column is added with this name as its default,
	// so those rows, and rows a not yet upgraded process still inserts
	// without the column, are the single partner's of the old settings
	// (sink.partner_name). [a-z0-9_-]{1,64}; DefaultPartner when empty.
	OldRowsPartner string
	// Cluster, when enabled, shards the attempt log over a ClickHouse
	// cluster (cluster.go): local tables on every server, Distributed
	// tables under the questions' names, and an attempts table of one
	// server from before moved onto the shards (ensureCluster).
	Cluster Cluster
}

// EnsureSchema is EnsureSchemaWith with DefaultPartner as the old rows'
// partner.
func EnsureSchema(ctx context.Context, conn driver.Conn, database string) error {
	return EnsureSchemaWith(ctx, conn, database, SchemaOptions{})
}

// EnsureSchemaWith creates the database and the attempts table when
// missing, and adds the columns an older table lacks, keeping its rows
// (ALTER TABLE … ADD COLUMN after a look at system.columns). It works on
// ClickHouse 18.16 (no TTL, codecs, DateTime64, ADD COLUMN IF NOT EXISTS)
// and on current releases, where the error text is stored with a ZSTD
// codec. An OldRowsPartner that is not a partner name is an error.
//
// Duplicates of a row (an export retried after a crash) have the same
// row_id and collapse: ReplacingMergeTree with row_id last in the sort key.
// Queries that must be exact count distinct row_id or use FINAL.
//
// It also creates the tables derived from attempts (DerivedTables) and the
// materialized views that fill them, and fills them from an existing
// table's rows (ensureDerived, derived.go).
func EnsureSchemaWith(ctx context.Context, conn driver.Conn, database string, o SchemaOptions) error {
	if o.OldRowsPartner == "" {
		o.OldRowsPartner = DefaultPartner
	}
	if err := CheckPartner(o.OldRowsPartner); err != nil {
		return fmt.Errorf("attempt log schema: %w", err)
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+database+"`"); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	modern, err := modernServer(conn)
	if err != nil {
		return err
	}
	if o.Cluster.Enabled() {
		return ensureCluster(ctx, conn, database, o)
	}
	// A database grown into a cluster, read by a process without the
	// setting: its questions would be refused ("Double-distributed IN/JOIN
	// subqueries"), and tables of one server would be made beside the
	// shards' ones.
	if engine, err := tableEngine(ctx, conn, database, Table); err != nil {
		return err
	} else if engine == "Distributed" {
		return fmt.Errorf("%s.%s is a Distributed table: this database's attempt log is sharded over a cluster; set clickhouse.cluster to the cluster's name (docs/operations.md, \"Growing past one ClickHouse\")", database, Table)
	}
	if err := ensureAttempts(ctx, conn, database, Table, modern, o); err != nil {
		return err
	}
	// After the columns: the view reads partner and ts_ms, which an older
	// table gets only above.
	return ensureDerived(ctx, conn, database)
}

// attemptsEngine is the attempts table's engine and keys (a shard's
// attempts_local has the same).
const attemptsEngine = "ENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMMDD(ts)\nORDER BY (account, chain_id, row_id)"

// ensureAttempts creates table (attempts, or a shard's attempts_local) when
// missing and adds the columns it lacks.
func ensureAttempts(ctx context.Context, conn driver.Conn, database, table string, modern bool, o SchemaOptions) error {
	cols := make([]string, len(Columns))
	for i, c := range Columns {
		cols[i] = columnDDL(c, modern, o)
	}
	ddl := fmt.Sprintf("CREATE TABLE IF NOT EXISTS `%s`.`%s` (\n  %s\n) %s",
		database, table, strings.Join(cols, ",\n  "), attemptsEngine)
	if err := conn.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("create table %s.%s: %w", database, table, err)
	}
	return addColumns(ctx, conn, database, table, modern, o)
}

// addColumns adds to table the columns of Columns it lacks.
func addColumns(ctx context.Context, conn driver.Conn, database, table string, modern bool, o SchemaOptions) error {
	have, err := existingColumns(ctx, conn, database, table)
	if err != nil {
		return err
	}
	for _, c := range Columns {
		if have[c.Name] {
			continue
		}
		alter := fmt.Sprintf("ALTER TABLE `%s`.`%s` ADD COLUMN %s", database, table, columnDDL(c, modern, o))
		if err := conn.Exec(ctx, alter); err != nil {
			// Several exporters (one per partner and shard) start at once:
			// another may have added it between the look and the ALTER.
			if now, err2 := existingColumns(ctx, conn, database, table); err2 == nil && now[c.Name] {
				continue
			}
			return fmt.Errorf("add column %s to %s.%s: %w", c.Name, database, table, err)
		}
	}
	return nil
}

func columnDDL(c Column, modern bool, o SchemaOptions) string {
	d := "`" + c.Name + "` " + c.Type
	switch {
	case modern && c.Name == "error":
		d += " CODEC(ZSTD(1))"
	case c.Name == PartnerColumn:
		d += " DEFAULT '" + o.OldRowsPartner + "'" // checked: [a-z0-9_-] only
	case c.Name == DirectionColumn:
		d += " DEFAULT '" + DirectionOut + "'"
	}
	return d
}

// modernServer reports whether the server knows codecs (19.11 and later).
func modernServer(conn driver.Conn) (bool, error) {
	v, err := conn.ServerVersion()
	if err != nil {
		return false, fmt.Errorf("clickhouse version: %w", err)
	}
	return v.Version.Major > 19 || v.Version.Major == 19 && v.Version.Minor >= 11, nil
}

func existingColumns(ctx context.Context, conn driver.Conn, database, table string) (map[string]bool, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", database, table)
	if err != nil {
		return nil, fmt.Errorf("read %s.%s columns: %w", database, table, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		have[name] = true
	}
	return have, rows.Err()
}

// Options says how to reach ClickHouse.
type Options struct {
	Addr     string
	Database string
	Username string
	Password string
	// TLS, when set, is the TLS of the native protocol (the server's
	// tcp_port_secure, usually 9440; docs/security.md, "Transport").
	TLS *tls.Config
	// Cluster is clickhouse.cluster: the remote_servers cluster the
	// attempt log is sharded over, empty for one server. With it every
	// insert runs with insert_distributed_sync = 1 and every SELECT with
	// distributed_product_mode = 'local' (cluster.go, clusterconn.go).
	Cluster string
	// MaxOpenConns bounds the connections open at once
	// (DefaultMaxOpenConns); a query or a batch waits DialTimeout (2s) at
	// most for one.
	MaxOpenConns int
}

// DefaultMaxOpenConns is Options.MaxOpenConns when it is not set.
const DefaultMaxOpenConns = 4

// String never shows the password.
func (o Options) String() string {
	return fmt.Sprintf("{Addr:%s Database:%s Username:%s Password:%s TLS:%t Cluster:%s}", o.Addr, o.Database, o.Username, redacted(o.Password), o.TLS != nil, o.Cluster)
}

// GoString is String: %#v never shows the password either.
func (o Options) GoString() string { return "attemptlog.Options" + o.String() }

func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "<redacted>"
}

// Sharding is the Cluster of o.Cluster: its Dial connects to a server of
// the cluster as o says (one connection at most).
func (o Options) Sharding() Cluster {
	if o.Cluster == "" {
		return Cluster{}
	}
	return Cluster{Name: o.Cluster, Dial: func(addr string) (driver.Conn, error) {
		s := o
		s.Addr, s.MaxOpenConns = addr, 1
		return Open(s)
	}}
}

// Open connects (lazily: the first query dials).
func Open(o Options) (driver.Conn, error) {
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = DefaultMaxOpenConns
	}
	if err := CheckCluster(o.Cluster); err != nil {
		return nil, err
	}
	var settings clickhouse.Settings
	if o.Cluster != "" {
		settings = clickhouse.Settings(clusterSettings)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{o.Addr},
		Auth:        clickhouse.Auth{Database: "default", Username: o.Username, Password: o.Password},
		TLS:         o.TLS,
		DialTimeout: 2 * time.Second, ReadTimeout: time.Minute,
		MaxOpenConns: o.MaxOpenConns,
		Settings:     settings,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse.addr %s: %w", o.Addr, err)
	}
	if o.Cluster != "" {
		return clusterConn{conn}, nil
	}
	return conn, nil
}
