package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"golang.org/x/sync/errgroup"
)

// AttemptsTable is the attempt log's table (docs/operations.md).
const AttemptsTable = "attempts"

// recentRef is one record delivered in the window, with the account of its
// latest row.
type recentRef struct{ entity, key, account string }

// recent loads, for every record with a delivered step in the last
// cfg.Recent (attempt log), both sides by point reads (GET one, or the
// ledger's entry) into reconcile_items; it returns the entities seen. The
// cost follows the traffic of the window, not the size of the data.
func (r *Reconciler) recent(ctx context.Context, runID string) ([]string, error) {
	cfg := r.cfg
	since := cfg.Now().Add(-cfg.Recent)
	q := fmt.Sprintf("SELECT entity, key, argMax(account, ts) FROM `%s`.`%s` WHERE step = 'delivered' AND ts >= ?", cfg.Database, AttemptsTable)
	args := []any{since.UTC()}
	if len(cfg.Entities) > 0 {
		q += " AND entity IN ?"
		args = append(args, clickhouse.GroupSet{Value: toAny(cfg.Entities)})
	}
	if len(cfg.Accounts) > 0 {
		q += " AND account IN ?"
		args = append(args, clickhouse.GroupSet{Value: toAny(cfg.Accounts)})
	}
	q += " GROUP BY entity, key"
	rows, err := r.deps.CH.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("--recent: read the attempt log: %w", err)
	}
	defer rows.Close()

	ours := &itemWriter{conn: r.deps.CH, db: cfg.Database, runID: runID, side: SideOurs, batchSize: cfg.BatchSize, noHash: cfg.noContent}
	theirs := &itemWriter{conn: r.deps.CH, db: cfg.Database, runID: runID, side: SideTheirs, batchSize: cfg.BatchSize, noHash: cfg.noContent}
	var mu sync.Mutex // guards the writers and entities
	var entities []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Concurrency)
	for rows.Next() {
		var ref recentRef
		if err := rows.Scan(&ref.entity, &ref.key, &ref.account); err != nil {
			return nil, fmt.Errorf("--recent: read the attempt log: %w", err)
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			o, oFound, err := r.pointOurs(gctx, ref)
			if err != nil {
				return err
			}
			t, tFound, err := r.deps.Theirs.Get(gctx, ref.entity, ref.key)
			if err != nil {
				return fmt.Errorf("the partner's %s/%s: %w", ref.entity, ref.key, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Contains(entities, ref.entity) {
				entities = append(entities, ref.entity)
			}
			if oFound {
				if err := ours.add(ctx, o); err != nil { // batches keep ctx, not the group's
					return err
				}
			}
			if tFound && (len(cfg.Accounts) == 0 || slices.Contains(cfg.Accounts, t.Account)) {
				if err := theirs.add(ctx, itemOf(t, false, cfg.Hash)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		ours.abort()
		theirs.abort()
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("--recent: read the attempt log: %w", err)
	}
	if err := ours.flush(); err != nil {
		return nil, err
	}
	if err := theirs.flush(); err != nil {
		return nil, err
	}
	slices.Sort(entities)
	r.log.Info("reconcile: recent records read", "run_id", runID, "window", cfg.Recent, "ours", ours.total, "theirs", theirs.total)
	return entities, nil
}

// pointOurs reads our side of one record: the source's GET, or the ledger
// (an entry that keeps no account takes the attempt log's).
func (r *Reconciler) pointOurs(ctx context.Context, ref recentRef) (item, bool, error) {
	if r.cfg.Against == AgainstLedger {
		e, err := r.deps.Ledger.Get(ctx, ref.entity, ref.key)
		if err != nil || !e.Found {
			return item{}, false, err
		}
		if e.Account == "" {
			e.Account = ref.account
		}
		return ledgerItem(ref.entity, ref.key, e), true, nil
	}
	rec, found, err := r.deps.Ours.Get(ctx, ref.entity, ref.key)
	if err != nil {
		return item{}, false, fmt.Errorf("our %s/%s: %w", ref.entity, ref.key, err)
	}
	if !found {
		return item{}, false, nil
	}
	return itemOf(rec, r.cfg.Repair, r.cfg.Hash), true, nil
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
