package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// SideSuspect rows of reconcile_items (under the run's re-check id) name the
// keys the lists found different, to be re-read.
const SideSuspect = "suspect"

// recheckBatch is the suspects read into memory at a time.
const recheckBatch = 5000

// recheckRun is the id, in reconcile_items, of the re-read items of a run:
// a partition of its own, dropped with the run's.
func recheckRun(runID string) string { return runID + "~recheck" }

// recheck classifies one entity in two steps (docs/reconcile.md, "Re-check"):
// the lists' differences are only suspects; each is read again by point
// reads of both sides (GET one record, or the ledger's entry), with
// cfg.Concurrency reads in flight, and classified again from those reads
// alone. Only what the point reads still find different is written to
// reconcile_diffs: a list whose order is unstable, or that changed while it
// was read, makes no false missing or extra, and an extra is never
// deleted on its absence from our list alone. It returns the suspects read
// again; none costs one query.
func (r *Reconciler) recheck(ctx context.Context, runID, entity string, ts time.Time, filter []string, lookup bool) (int64, error) {
	cfg := r.cfg
	rc := recheckRun(runID)
	sel, args := differences(cfg.Database, runID, entity, filter, lookup, cfg.NoVersions)
	q := fmt.Sprintf("INSERT INTO `%s`.`%s` (run_id, side, entity, key, account, version, hash, deleted, data, parent_entity, parent_key) "+
		"SELECT ?, ?, ?, key, d_acc, 0, '', 0, '', '', '' FROM (%s)", cfg.Database, ItemsTable, sel)
	if err := r.deps.CH.Exec(ctx, q, append([]any{rc, SideSuspect, entity}, args...)...); err != nil {
		return 0, fmt.Errorf("suspects of %s: %w", entity, err)
	}
	ours := &itemWriter{conn: r.deps.CH, db: cfg.Database, runID: rc, side: SideOurs, batchSize: cfg.BatchSize, noHash: cfg.noContent}
	theirs := &itemWriter{conn: r.deps.CH, db: cfg.Database, runID: rc, side: SideTheirs, batchSize: cfg.BatchSize, noHash: cfg.noContent}
	var n int64
	after := ""
	for {
		refs, err := r.suspects(ctx, rc, entity, after)
		if err != nil {
			return n, err
		}
		if len(refs) == 0 {
			break
		}
		after = refs[len(refs)-1].key
		n += int64(len(refs))
		if err := r.reread(ctx, refs, ours, theirs); err != nil {
			ours.abort()
			theirs.abort()
			return n, err
		}
	}
	if n == 0 {
		return 0, nil
	}
	if err := ours.flush(); err != nil {
		return n, err
	}
	if err := theirs.flush(); err != nil {
		return n, err
	}
	if err := classify(ctx, r.deps.CH, cfg.Database, runID, rc, entity, ts, filter, false, cfg.NoVersions); err != nil {
		return n, err
	}
	r.log.Info("reconcile: differences re-checked", "run_id", runID, "entity", entity, "suspects", n)
	return n, nil
}

// suspects reads up to recheckBatch suspects of entity after key after.
func (r *Reconciler) suspects(ctx context.Context, rc, entity, after string) ([]recentRef, error) {
	q := fmt.Sprintf("SELECT key, account FROM `%s`.`%s` WHERE run_id = ? AND side = ? AND entity = ? AND key > ? ORDER BY key LIMIT %d",
		r.cfg.Database, ItemsTable, recheckBatch)
	rows, err := r.deps.CH.Query(ctx, q, rc, SideSuspect, entity, after)
	if err != nil {
		return nil, fmt.Errorf("suspects of %s: %w", entity, err)
	}
	defer rows.Close()
	var out []recentRef
	for rows.Next() {
		ref := recentRef{entity: entity}
		if err := rows.Scan(&ref.key, &ref.account); err != nil {
			return nil, fmt.Errorf("suspects of %s: %w", entity, err)
		}
		out = append(out, ref)
	}
	return out, rows.Err()
}

// reread point-reads both sides of refs into the writers.
func (r *Reconciler) reread(ctx context.Context, refs []recentRef, ours, theirs *itemWriter) error {
	var mu sync.Mutex // guards the writers
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.Concurrency)
	for _, ref := range refs {
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
			if oFound {
				if err := ours.add(ctx, o); err != nil {
					return err
				}
			}
			if tFound && (len(r.cfg.Accounts) == 0 || slices.Contains(r.cfg.Accounts, t.Account) || t.Account == "") {
				if err := theirs.add(ctx, itemOf(t, false, r.cfg.Hash)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}
