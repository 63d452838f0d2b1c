package attemptlog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// sql/failed_chains.sql takes its candidates — the chains with a failing or
// waiting row in chain_waits — as three sets, @candidate_accounts,
// @candidate_chains and @candidate_keys, each defaulting to every candidate
// of the window. Run by streamsync, the sets hold the most recent candidate
// rows only, so that the question reads a page's worth of chains from
// attempts (by its primary key) instead of every candidate's: over
// 100,000,000 rows the window holds hundreds of thousands of candidates and
// a page a thousand (docs/operations.md, "Tables derived from the attempts").

// candidateParams are the sets narrowCandidates binds.
var candidateParams = []string{"candidate_accounts", "candidate_chains", "candidate_keys"}

// Candidate rows taken at first (per chain wanted), and the most the sets may
// hold in bytes of SQL: ClickHouse refuses a query longer than
// max_query_size (262,144 bytes by default). Past that the file's own sets
// (every candidate) are used.
const (
	candidateRowsPerChain = 2
	maxCandidateBytes     = 200 << 10
)

// candidateSets is one narrowing of failed_chains' candidates.
type candidateSets struct {
	accounts, chains, keys clickhouse.GroupSet
	// all: the sets hold every candidate of the window. Otherwise cutoff is
	// the last_ts of the oldest candidate row taken: a chain left out has
	// no failing or waiting row after it.
	all    bool
	cutoff time.Time
	bytes  int
}

// candidateSQL selects failed_chains' candidate rows from chain_waits, the
// most recent first (a wait counts a minute before it is stuck: the question
// runs a moment later, and a chain stuck by then is among them); %[1]s is
// the database, the other verbs a parameter each (since, stuck_seconds,
// account, partner): @name or the file's default.
const candidateSQL = `SELECT account, chain_id, key, last_ts FROM ` + "`%[1]s`" + `.chain_waits
WHERE last_ts >= %[2]s
    AND (last_step IN ('dead', 'invalid') OR (last_step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed') AND last_ts < now() + 60 - %[3]s))
    AND (%[4]s = '' OR account = %[4]s)
    AND (%[5]s = '' OR partner = %[5]s)
ORDER BY last_ts DESC
LIMIT %[6]d`

// findCandidates takes the rows most recent candidate rows of the window
// (values bind since, stuck_seconds, account and partner as in RunQuery;
// those not given take the file's defaults).
func findCandidates(ctx context.Context, conn driver.Conn, database string, values map[string]any, rows int) (candidateSets, error) {
	expr, args, err := boundParams("failed_chains", values, "since", "stuck_seconds", "account", "partner")
	if err != nil {
		return candidateSets{}, err
	}
	q := fmt.Sprintf(candidateSQL, database, expr["since"], expr["stuck_seconds"], expr["account"], expr["partner"], rows)
	res, err := conn.Query(ctx, q, args...)
	if err != nil {
		return candidateSets{}, fmt.Errorf("failed chains: candidates: %w", err)
	}
	defer res.Close()
	var c candidateSets
	seen := map[string]bool{}
	add := func(set *clickhouse.GroupSet, kind, v string) {
		if seen[kind+"\x00"+v] {
			return
		}
		seen[kind+"\x00"+v] = true
		set.Value = append(set.Value, v)
		c.bytes += len(v) + 4
	}
	n := 0
	for res.Next() {
		var account, chain, key string
		var ts time.Time
		if err := res.Scan(&account, &chain, &key, &ts); err != nil {
			return candidateSets{}, fmt.Errorf("failed chains: candidates: %w", err)
		}
		add(&c.accounts, "a", account)
		add(&c.chains, "c", chain)
		add(&c.keys, "k", key)
		c.cutoff = ts
		n++
	}
	if err := res.Err(); err != nil {
		return candidateSets{}, fmt.Errorf("failed chains: candidates: %w", err)
	}
	c.all = n < rows
	return c, nil
}

// narrowCandidates runs failed_chains with the candidate sets bound:
// run(args) runs the question's text (its @candidate_* placeholders bound
// by args) and reports how many chains it answered and the last_ts of the
// want-th (zero when fewer; the answer is sorted by last_ts, newest first). The sets start at candidateRowsPerChain rows
// a chain wanted and widen fourfold until the answer is the one every
// candidate gives: the sets held them all, or the want-th chain is newer
// than every candidate left out. Past maxCandidateBytes the placeholders
// take the file's own sets (withDefaults: the question's text without
// them bound).
func narrowCandidates(ctx context.Context, conn driver.Conn, database string, values map[string]any, want int,
	run func(args []any) (int, time.Time, error), withDefaults func() error) error {
	rows := candidateRowsPerChain * want
	for {
		c, err := findCandidates(ctx, conn, database, values, rows)
		if err != nil {
			return err
		}
		if c.bytes > maxCandidateBytes || len(c.chains.Value) == 0 {
			// Too many to send, or none: the file's sets (an empty window's
			// are quick).
			return withDefaults()
		}
		args := []any{
			clickhouse.Named("candidate_accounts", c.accounts),
			clickhouse.Named("candidate_chains", c.chains),
			clickhouse.Named("candidate_keys", c.keys),
		}
		n, wantTS, err := run(args)
		if err != nil {
			return err
		}
		if c.all || (n >= want && wantTS.After(c.cutoff)) {
			return nil
		}
		rows *= 4
	}
}

// isCandidateParam reports whether name is one of the sets narrowCandidates
// binds.
func isCandidateParam(name string) bool { return slices.Contains(candidateParams, name) }
