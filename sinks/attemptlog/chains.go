package attemptlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/sql"
)

// ChainFilter picks chains for Chains.
type ChainFilter struct {
	Account string // empty for all
	// Partner is the partner whose chains ([a-z0-9_-]{1,64}); empty for
	// every partner's, each chain naming its own.
	Partner string
	Since   time.Time     // chains with a step since then
	Stuck   time.Duration // a chain waiting longer than this is stuck
	// Limit is the most chains returned, the most recent first (1 to
	// MaxChains; 0: MaxChains).
	Limit int
}

// MaxChains bounds the chains one Chains call returns, and MaxChainSteps
// the steps listed per chain (its last ones; Chain.StepsTotal counts them
// all): one call's answer stays bounded however wide its window.
const (
	MaxChains     = 1000
	MaxChainSteps = 200
)

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
	// Partner is the partner the chain's event went to: the same event
	// delivered to two partners makes two chains with one ChainID.
	Partner  string    `json:"partner"`
	ChainID  string    `json:"chain_id"`
	Account  string    `json:"account"`
	Entity   string    `json:"entity"`
	Key      string    `json:"key"`
	LastStep string    `json:"last_step"`
	LastTS   time.Time `json:"last_ts"`
	Steps    []Step    `json:"steps"`
	// StepsTotal is how many steps the chain has when Steps holds only its
	// last MaxChainSteps (Chains only); 0 when Steps holds them all.
	StepsTotal int `json:"steps_total,omitempty"`
	// Stranded is how many children of the chain's record at its partner
	// still wait (last step parked, whenever they parked) or were
	// dead-lettered for it (last step dead, error "parent …" naming the
	// chain's event, or naming none and at or after the chain's first
	// step): Chains by sql/failed_chains.sql, FindFamily for its Parent by
	// the same rule, docs/operations.md "A chain's family".
	Stranded int `json:"stranded"`
}

// Chains runs sql/failed_chains.sql, at most f.Limit chains (the most
// recent) and the last MaxChainSteps steps of each; truncated reports that
// more chains matched than were returned. A Partner that is not a partner
// name is an error.
func Chains(ctx context.Context, conn driver.Conn, database string, f ChainFilter) (chains []Chain, truncated bool, err error) {
	if f.Partner != "" {
		if err := CheckPartner(f.Partner); err != nil {
			return nil, false, err
		}
	}
	if f.Limit <= 0 || f.Limit > MaxChains {
		f.Limit = MaxChains
	}
	values := map[string]any{"since": f.Since.UTC(), "account": f.Account, "partner": f.Partner, "stuck_seconds": uint32(f.Stuck.Seconds())}
	var out []Chain
	run := func(bindCandidates bool) func(sets []any) (int, time.Time, error) {
		return func(sets []any) (int, time.Time, error) {
			var err error
			out, err = chainsPage(ctx, conn, database, values, f.Limit, bindCandidates, sets)
			if err != nil || len(out) <= f.Limit {
				return len(out), time.Time{}, err
			}
			return len(out), out[f.Limit].LastTS, nil
		}
	}
	err = narrowCandidates(ctx, conn, database, values, f.Limit+1, run(true), func() error {
		_, _, err := run(false)(nil)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}

// chainsPage runs sql/failed_chains.sql for Chains: at most limit+1 chains,
// the last MaxChainSteps steps of each; with bindCandidates, sets binds its
// @candidate_* sets (narrowCandidates).
func chainsPage(ctx context.Context, conn driver.Conn, database string, values map[string]any, limit int, bindCandidates bool, sets []any) ([]Chain, error) {
	q, _, err := sql.Parameterized("failed_chains", database, func(p string) bool { return bindCandidates || !isCandidateParam(p) })
	if err != nil {
		return nil, err
	}
	// The file ends with its own LIMIT for analysts; here the limit is the
	// caller's, one more to tell whether there were more.
	body := strings.TrimRight(strings.TrimSpace(q), ";")
	i := strings.LastIndex(body, "\nLIMIT ")
	if i < 0 {
		return nil, errors.New("sql/failed_chains.sql: no LIMIT at its end")
	}
	q = fmt.Sprintf("SELECT partner, chain_id, account, entity, key, last_step, last_ts, arraySlice(steps, -%[2]d), length(steps), stranded\nFROM (\n%[1]s\n)\nORDER BY last_ts DESC\nLIMIT %[3]d",
		body[:i], MaxChainSteps, limit+1)
	args := append([]any{}, sets...)
	for k, v := range values {
		args = append(args, clickhouse.Named(k, v))
	}
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("failed chains: %w", err)
	}
	defer rows.Close()
	var out []Chain
	for rows.Next() {
		var c Chain
		var steps [][]any
		var total uint64
		var stranded uint32
		if err := rows.Scan(&c.Partner, &c.ChainID, &c.Account, &c.Entity, &c.Key, &c.LastStep, &c.LastTS, &steps, &total, &stranded); err != nil {
			return nil, fmt.Errorf("failed chains: %w", err)
		}
		c.Stranded = int(stranded)
		if int(total) > len(steps) {
			c.StepsTotal = int(total)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("failed chains: %w", err)
	}
	return out, nil
}

// ChainSource runs Chains on one connection and database.
type ChainSource struct {
	Conn     driver.Conn
	Database string
}

// Chains runs Chains on the source's connection and database.
func (c ChainSource) Chains(ctx context.Context, f ChainFilter) ([]Chain, bool, error) {
	return Chains(ctx, c.Conn, c.Database, f)
}
