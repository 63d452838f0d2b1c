package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Classes of docs/reconcile.md. Equal records are counted, not listed.
const (
	ClassMissing = "missing" // ours only
	ClassExtra   = "extra"   // theirs only
	ClassBehind  = "behind"  // their version lower, data differ
	ClassAhead   = "ahead"   // their version higher, data differ
	ClassDiffers = "differs" // same version, data differ
	ClassEqual   = "equal"
)

// DiffClasses are the classes listed in reconcile_diffs, in report order.
var DiffClasses = []string{ClassMissing, ClassExtra, ClassBehind, ClassAhead, ClassDiffers}

// sideQuery is one side of an entity, one row per key (the highest version
// wins when a side lists a key twice); p is the column prefix (o_ or t_).
func sideQuery(db, p string) string {
	return fmt.Sprintf("SELECT key, toUInt8(count() > 0) AS %[2]spresent, argMax(account, version) AS %[2]sacc, "+
		"max(version) AS %[2]sver, argMax(hash, version) AS %[2]shash, argMax(deleted, version) AS %[2]sdel "+
		"FROM `%[1]s`.`%[3]s` WHERE run_id = ? AND entity = ? AND side = ? GROUP BY key", db, p, ItemsTable)
}

// classExpr classifies one joined row. Absent sides read as defaults (0,
// ”), so presence is a column of its own. Our tombstone against an absent
// record is agreement ("gone", neither listed nor counted); our tombstone
// against a present record is behind, ahead or differs by version, repaired
// with a delete. A partner that keeps no versions (noVersions) has only
// differs: its version 0 says nothing of behind or ahead.
func classExpr(noVersions bool) string {
	byVersion := `
  t_ver < o_ver, 'behind',
  t_ver > o_ver, 'ahead',`
	if noVersions {
		byVersion = ""
	}
	return `multiIf(
  t_present = 0 AND (o_present = 0 OR o_del = 1), 'gone',
  t_present = 0, 'missing',
  o_present = 0, 'extra',
  o_del = 0 AND o_hash = t_hash, 'equal',` + byVersion + `
  'differs')`
}

// classify compares the two sides of one entity with one FULL OUTER JOIN
// (USING: 18.16 cannot select the right key of a FULL JOIN ON) of the items
// of itemsRun and writes every difference to reconcile_diffs under diffRun,
// each with its record's account: ours, else the attempt log's
// (SideAccount), else the partner's. accounts, when set, keeps the records
// of those accounts only (for the ledger, which holds every account's);
// lookup reads the SideAccount rows (fillAccounts).
func classify(ctx context.Context, conn driver.Conn, db, diffRun, itemsRun, entity string, ts time.Time, accounts []string, lookup, noVersions bool) error {
	sel, args := differences(db, itemsRun, entity, accounts, lookup, noVersions)
	q := fmt.Sprintf("INSERT INTO `%s`.`%s` (%s) SELECT ?, class, ?, key, d_acc, o_ver, t_ver, o_hash, t_hash, ? FROM (%s)",
		db, DiffsTable, cols(diffColumns), sel)
	if err := conn.Exec(ctx, q, append([]any{diffRun, entity, ts}, args...)...); err != nil {
		return fmt.Errorf("classify %s: %w", entity, err)
	}
	return nil
}

// differences is the query of one entity's differences among the items of
// itemsRun (key, d_acc, o_ver, o_hash, t_ver, t_hash, class), and its
// arguments.
func differences(db, itemsRun, entity string, accounts []string, lookup, noVersions bool) (string, []any) {
	filter := "class NOT IN ('equal', 'gone')"
	args := joinedArgs(itemsRun, entity, lookup)
	if len(accounts) > 0 {
		filter += " AND d_acc IN ?"
		args = append(args, clickhouse.GroupSet{Value: toAny(accounts)})
	}
	return fmt.Sprintf("SELECT key, d_acc, o_ver, o_hash, t_ver, t_hash, class FROM ("+
		"SELECT key, d_acc, o_ver, o_hash, t_ver, t_hash, %s AS class FROM (%s)) WHERE %s",
		classExpr(noVersions), joined(db, lookup), filter), args
}

// countOurs is our side's live records of one entity that belong to
// accounts, each record's account found as classify finds it.
func countOurs(ctx context.Context, conn driver.Conn, db, runID, entity string, accounts []string, lookup bool) (int64, error) {
	var n int64
	q := fmt.Sprintf("SELECT toInt64(count()) FROM (%s) WHERE o_present = 1 AND o_del = 0 AND d_acc IN ?", joined(db, lookup))
	args := append(joinedArgs(runID, entity, lookup), clickhouse.GroupSet{Value: toAny(accounts)})
	if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", entity, err)
	}
	return n, nil
}

// counts are one entity's numbers of a run.
type counts struct {
	Ours, Theirs, Equal                    int64
	Missing, Extra, Behind, Ahead, Differs int64
}

func (c *counts) add(o counts) {
	c.Ours += o.Ours
	c.Theirs += o.Theirs
	c.Equal += o.Equal
	c.Missing += o.Missing
	c.Extra += o.Extra
	c.Behind += o.Behind
	c.Ahead += o.Ahead
	c.Differs += o.Differs
}

// count reads one entity's numbers: the sides' distinct live keys and the
// differences per class; equal is every partner record that is no
// difference (the partner's side lists no tombstones).
func count(ctx context.Context, conn driver.Conn, db, runID, entity string) (counts, error) {
	var c counts
	q := fmt.Sprintf("SELECT side, toInt64(countIf(d = 0)) FROM (SELECT side, key, argMax(deleted, version) AS d FROM `%s`.`%s` "+
		"WHERE run_id = ? AND entity = ? GROUP BY side, key) GROUP BY side", db, ItemsTable)
	rows, err := conn.Query(ctx, q, runID, entity)
	if err != nil {
		return c, fmt.Errorf("count %s: %w", entity, err)
	}
	for rows.Next() {
		var side string
		var n int64
		if err := rows.Scan(&side, &n); err != nil {
			rows.Close()
			return c, err
		}
		switch side {
		case SideOurs:
			c.Ours = n
		case SideTheirs:
			c.Theirs = n
		}
	}
	rows.Close()
	q = fmt.Sprintf("SELECT class, toInt64(count()) FROM `%s`.`%s` WHERE run_id = ? AND entity = ? GROUP BY class", db, DiffsTable)
	rows, err = conn.Query(ctx, q, runID, entity)
	if err != nil {
		return c, fmt.Errorf("count %s differences: %w", entity, err)
	}
	defer rows.Close()
	for rows.Next() {
		var class string
		var n int64
		if err := rows.Scan(&class, &n); err != nil {
			return c, err
		}
		switch class {
		case ClassMissing:
			c.Missing = n
		case ClassExtra:
			c.Extra = n
		case ClassBehind:
			c.Behind = n
		case ClassAhead:
			c.Ahead = n
		case ClassDiffers:
			c.Differs = n
		}
	}
	c.Equal = max(0, c.Theirs-c.Extra-c.Behind-c.Ahead-c.Differs)
	return c, rows.Err()
}

// Diff is one listed difference (a row of reconcile_diffs).
type Diff struct {
	Class        string `json:"class"`
	Entity       string `json:"entity"`
	Key          string `json:"key"`
	Account      string `json:"account"`
	OurVersion   int64  `json:"our_version"`
	TheirVersion int64  `json:"their_version"`
	OurHash      string `json:"our_hash"`
	TheirHash    string `json:"their_hash"`
}

// firstDiffs reads up to limit differences of a run, by class then entity and key.
func firstDiffs(ctx context.Context, conn driver.Conn, db, runID string, limit int) ([]Diff, error) {
	q := fmt.Sprintf("SELECT class, entity, key, account, our_version, their_version, our_hash, their_hash FROM `%s`.`%s` "+
		"WHERE run_id = ? ORDER BY class, entity, key LIMIT %d", db, DiffsTable, limit)
	rows, err := conn.Query(ctx, q, runID)
	if err != nil {
		return nil, fmt.Errorf("read differences: %w", err)
	}
	defer rows.Close()
	out := []Diff{}
	for rows.Next() {
		var d Diff
		if err := rows.Scan(&d.Class, &d.Entity, &d.Key, &d.Account, &d.OurVersion, &d.TheirVersion, &d.OurHash, &d.TheirHash); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
