package attemptlog

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/sql"
)

// ChainFilter picks chains for Chains.
type ChainFilter struct {
	Account string        // empty for all
	Since   time.Time     // chains with a step since then
	Stuck   time.Duration // a chain waiting longer than this is stuck
}

// Step is one row of a chain.
type Step struct {
	TS         time.Time `json:"ts"`
	Step       string    `json:"step"`
	Attempt    uint16    `json:"attempt"`
	HTTPStatus uint16    `json:"http_status"`
	Error      string    `json:"error"`
	// Filled in by Timeline only.
	LatencyUS uint32 `json:"latency_us"`
	StreamID  string `json:"stream_id,omitempty"`
	Instance  string `json:"instance,omitempty"`
}

// Chain is a failed or stuck chain with every step.
type Chain struct {
	ChainID  string    `json:"chain_id"`
	Account  string    `json:"account"`
	Entity   string    `json:"entity"`
	Key      string    `json:"key"`
	LastStep string    `json:"last_step"`
	LastTS   time.Time `json:"last_ts"`
	Steps    []Step    `json:"steps"`
}

// Chains runs sql/failed_chains.sql.
func Chains(ctx context.Context, conn driver.Conn, database string, f ChainFilter) ([]Chain, error) {
	q, _, err := sql.Parameterized("failed_chains", database, nil)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, q, clickhouse.Named("since", f.Since.UTC()), clickhouse.Named("account", f.Account),
		clickhouse.Named("stuck_seconds", uint32(f.Stuck.Seconds())))
	if err != nil {
		return nil, fmt.Errorf("failed chains: %w", err)
	}
	defer rows.Close()
	var out []Chain
	for rows.Next() {
		var c Chain
		var steps [][]any
		if err := rows.Scan(&c.ChainID, &c.Account, &c.Entity, &c.Key, &c.LastStep, &c.LastTS, &steps); err != nil {
			return nil, fmt.Errorf("failed chains: %w", err)
		}
		for _, s := range steps {
			st := Step{}
			if len(s) == 6 {
				ts, _ := s[0].(time.Time)
				ms, _ := s[1].(uint16)
				st.TS = ts.Add(time.Duration(ms) * time.Millisecond)
				st.Step, _ = s[2].(string)
				st.Attempt, _ = s[3].(uint16)
				st.HTTPStatus, _ = s[4].(uint16)
				st.Error, _ = s[5].(string)
			}
			c.Steps = append(c.Steps, st)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ChainSource runs Chains on one connection and database.
type ChainSource struct {
	Conn     driver.Conn
	Database string
}

// Chains runs sql/failed_chains.sql.
func (c ChainSource) Chains(ctx context.Context, f ChainFilter) ([]Chain, error) {
	return Chains(ctx, c.Conn, c.Database, f)
}
