package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SideAccount rows of reconcile_items name the account of a ledger record
// whose entry keeps none (written before the ledger kept accounts), as the
// attempt log knows it. They are no side of the comparison: only the account
// of "ours" is read from them.
const SideAccount = "account"

// ledgerItem is our side of one record as the ledger has it.
func ledgerItem(entity, key string, e LedgerEntry) item {
	it := item{Entity: entity, Key: key, Account: e.Account, Version: e.Version, Hash: e.Hash, Deleted: e.Deleted}
	if e.Deleted {
		it.Hash = ""
	}
	return it
}

// keepLedger says whether a ledger entry of account belongs to a run over
// accounts (every account when empty). An entry that keeps no account is
// kept: its account is looked up after loading (fillAccounts, else the
// partner's record), and the comparison drops it when that is not one of
// accounts.
func keepLedger(account string, accounts []string) bool {
	return len(accounts) == 0 || account == "" || slices.Contains(accounts, account)
}

// fillAccounts writes, for every record of entity that our side has
// without an account, the account the attempt log has for it (the one of
// its latest row) as a SideAccount row. Without an attempt log table it
// does nothing.
func fillAccounts(ctx context.Context, conn driver.Conn, db, runID, entity string) error {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db, AttemptsTable).Scan(&n); err != nil {
		return fmt.Errorf("accounts of %s from the attempt log: %w", entity, err)
	}
	if n == 0 {
		return nil
	}
	q := fmt.Sprintf("INSERT INTO `%[1]s`.`%[2]s` (%[4]s) SELECT ?, ?, entity, key, argMax(account, ts), toInt64(0), '', toUInt8(0), '', '', '' "+
		"FROM `%[1]s`.`%[3]s` WHERE entity = ? AND account != '' AND key IN ("+
		"SELECT key FROM `%[1]s`.`%[2]s` WHERE run_id = ? AND entity = ? AND side = ? AND account = '') GROUP BY entity, key",
		db, ItemsTable, AttemptsTable, cols(itemColumns))
	if err := conn.Exec(ctx, q, runID, SideAccount, entity, runID, entity, SideOurs); err != nil {
		return fmt.Errorf("accounts of %s from the attempt log: %w", entity, err)
	}
	return nil
}

// oursQuery is our side of an entity as sideQuery has it (columns o_…), the
// account of a record whose entry keeps none taken from its SideAccount row.
func oursQuery(db string) string {
	return fmt.Sprintf("SELECT key, l_present AS o_present, if(l_acc != '', l_acc, a_acc) AS o_acc, l_ver AS o_ver, l_hash AS o_hash, l_del AS o_del "+
		"FROM (%s) ALL LEFT JOIN (SELECT key, any(account) AS a_acc FROM `%s`.`%s` WHERE run_id = ? AND entity = ? AND side = ? GROUP BY key) USING key",
		sideQuery(db, "l_"), db, ItemsTable)
}

// joined is both sides of an entity, one row per key, with the account of
// each record (ours, else theirs) as d_acc; lookup takes our account from
// SideAccount rows where ours has none (only worth its join when fillAccounts
// wrote some). Its arguments are joinedArgs.
func joined(db string, lookup bool) string {
	ours := sideQuery(db, "o_")
	if lookup {
		ours = oursQuery(db)
	}
	return fmt.Sprintf("SELECT key, if(o_acc != '', o_acc, t_acc) AS d_acc, o_present, o_ver, o_hash, o_del, t_present, t_ver, t_hash "+
		"FROM (%s) ALL FULL OUTER JOIN (%s) USING key", ours, sideQuery(db, "t_"))
}

func joinedArgs(runID, entity string, lookup bool) []any {
	if !lookup {
		return []any{runID, entity, SideOurs, runID, entity, SideTheirs}
	}
	return []any{runID, entity, SideOurs, runID, entity, SideAccount, runID, entity, SideTheirs}
}
