package main

import (
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// openClickHouse connects to the attempt log's ClickHouse as clickhouse.*
// says, over TLS when clickhouse.tls or a clickhouse.tls_*_file asks for it
// (docs/security.md, "Transport"). It dials lazily; the error names a TLS
// file that cannot be used.
func openClickHouse(ch config.ClickHouseConfig) (driver.Conn, error) {
	tc, err := tlsFor("clickhouse", ch.TLSFiles())
	if err != nil {
		return nil, err
	}
	return attemptlog.Open(attemptlog.Options{Addr: ch.Addr, Database: ch.Database, Username: ch.Username, Password: ch.Password, TLS: tc})
}

// withClickHouseHint adds a hint naming the clickhouse.* settings to an
// error of a ClickHouse connection refused for its credentials or its TLS;
// other errors (and nil) are returned as they are.
func withClickHouseHint(err error, ch config.ClickHouseConfig) error {
	if err == nil || ch.Addr == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, "clickhouse") || strings.Contains(msg, "\nhint: ") {
		return err
	}
	h := tlsHint("clickhouse", ch.TLSFiles(), msg)
	if h == "" && (strings.Contains(msg, "Authentication failed") || strings.Contains(msg, "Wrong password") || strings.Contains(msg, "Unknown user")) {
		h = "ClickHouse refused the credentials: check clickhouse.username and clickhouse.password (or clickhouse.password_file)"
	}
	if h == "" {
		return err
	}
	return fmt.Errorf("%w\nhint: %s", err, h)
}
