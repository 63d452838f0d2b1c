package main

import (
	"fmt"
	"strings"

	"github.com/streamsync/streamsync/config"
)

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
