package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/proof"
)

// OriginReconcile is the origin of repair events (docs/reconcile.md). It names
// them for operators and analysts; what lets the ledger pass a repair
// without its stale and unchanged checks is the repair proof the AppendFunc
// adds, never this origin (docs/security.md).
const OriginReconcile = "reconcile"

// AppendFunc appends repair events to the events stream through the
// project's one append path (ingest.Append), all of them or none; wrapped
// in SignRepairs, each with a repair proof.
type AppendFunc func(ctx context.Context, events []event.Event) error

// SignRepairs wraps next so that every repair it appends carries a repair
// proof made with streamsync's key, stored in Redis under keyName
// (layout.Keys.ProofKey; made there on first use, see proof.Load): only a
// proven repair passes the ledger's stale and unchanged checks and sets the
// ledger to its version once delivered (docs/security.md).
func SignRepairs(rdb redis.Cmdable, keyName string, next AppendFunc) AppendFunc {
	return func(ctx context.Context, events []event.Event) error {
		key, err := proof.Load(ctx, rdb, keyName)
		if err != nil {
			return err
		}
		for i := range events {
			events[i].Proof = key.SignEvent(proof.Repair, events[i])
		}
		return next(ctx, events)
	}
}

// repairBatch is the events appended per call.
const repairBatch = 500

// repairer turns differences into events, numbering them rc-<run_id>-<n>.
type repairer struct {
	conn  driver.Conn
	db    string
	runID string
	// itemsRun is where our records' data are read: the re-check's
	// items, or the run's own (--recent).
	itemsRun   string
	noVersions bool
	append     AppendFunc
	nowMS      int64

	n     int64
	batch []event.Event
	// skipped counts the records no repair event could be made for (an
	// invalid record, a partner version with no higher one); skippedEg
	// names the first few, for the report's notes.
	skipped   int64
	skippedEg []string
}

// maxSkippedExamples bounds the records a report names as not repaired.
const maxSkippedExamples = 5

// skip records a difference no repair event can put right, and why.
func (r *repairer) skip(entity, key, why string) {
	r.skipped++
	if len(r.skippedEg) < maxSkippedExamples {
		r.skippedEg = append(r.skippedEg, fmt.Sprintf("%s/%s (%s)", entity, key, why))
	}
}

// note is the report's line about skipped records; "" when there were none.
func (r *repairer) note() string {
	if r.skipped == 0 {
		return ""
	}
	return fmt.Sprintf("%d differences could not be repaired, e.g. %s: mend them by hand", r.skipped, strings.Join(r.skippedEg, "; "))
}

// above is the version a repair needs to outrun the partner's theirs; ok is
// false when theirs is already the highest version there is.
func above(theirs int64) (int64, bool) {
	if theirs == math.MaxInt64 {
		return 0, false
	}
	return theirs + 1, true
}

func (r *repairer) add(ctx context.Context, e event.Event) error {
	e.Origin = OriginReconcile
	e.TS = r.nowMS
	e.ID = "rc-" + r.runID + "-" + strconv.FormatInt(r.n+1, 10)
	if err := event.Validate(e); err != nil {
		// One record that cannot be an event (a key our source holds but
		// no partner path can carry) must not stop the other repairs.
		r.skip(e.Entity, e.Key, err.Error())
		return nil
	}
	r.n++
	r.batch = append(r.batch, e)
	if len(r.batch) >= repairBatch {
		return r.flush(ctx)
	}
	return nil
}

func (r *repairer) flush(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	if err := r.append(ctx, r.batch); err != nil {
		return fmt.Errorf("append repairs: %w", err)
	}
	r.batch = r.batch[:0]
	return nil
}

// repairEntity appends one event per missing, behind and differs record of
// entity — our record, at our version, or at the partner's version + 1 when
// theirs is not lower (differs); a delete for our tombstone — and, with
// extra, a delete at the partner's version + 1 per extra record. Ahead
// records are never touched.
func (r *repairer) repairEntity(ctx context.Context, entity string, extra bool) error {
	q := fmt.Sprintf("SELECT key, class, their_version, o_acc, o_ver, o_data, o_pe, o_pk, o_del FROM ("+
		"SELECT key, argMax(account, version) AS o_acc, max(version) AS o_ver, argMax(data, version) AS o_data, "+
		"argMax(parent_entity, version) AS o_pe, argMax(parent_key, version) AS o_pk, argMax(deleted, version) AS o_del "+
		"FROM `%[1]s`.`%[2]s` WHERE run_id = ? AND entity = ? AND side = 'ours' AND key IN ("+
		"SELECT key FROM `%[1]s`.`%[3]s` WHERE run_id = ? AND entity = ? AND class IN ('missing', 'behind', 'differs')) GROUP BY key"+
		") ALL INNER JOIN (SELECT key, class, their_version FROM `%[1]s`.`%[3]s` "+
		"WHERE run_id = ? AND entity = ? AND class IN ('missing', 'behind', 'differs')) USING key ORDER BY key",
		r.db, ItemsTable, DiffsTable)
	rows, err := r.conn.Query(ctx, q, r.itemsRun, entity, r.runID, entity, r.runID, entity)
	if err != nil {
		return fmt.Errorf("read repairs of %s: %w", entity, err)
	}
	for rows.Next() {
		var key, class, account, data, pe, pk string
		var theirs, ours int64
		var deleted uint8
		if err := rows.Scan(&key, &class, &theirs, &account, &ours, &data, &pe, &pk, &deleted); err != nil {
			rows.Close()
			return fmt.Errorf("read repairs of %s: %w", entity, err)
		}
		version := ours
		if r.noVersions {
			// The partner keeps no version to outrun: ours is re-sent as it is.
			version = max(ours, 1)
		} else if class == ClassDiffers || theirs >= ours {
			v, ok := above(theirs)
			if !ok {
				r.skip(entity, key, fmt.Sprintf("the partner holds version %d, and none is higher", theirs))
				continue
			}
			version = v
		}
		e := event.Event{Account: account, Entity: entity, Key: key, Version: version, ParentEntity: pe, ParentKey: pk}
		if deleted == 1 {
			e.Op = event.OpDelete
			e.ParentEntity, e.ParentKey = "", ""
		} else {
			e.Op, e.Data = event.OpUpsert, json.RawMessage(data)
		}
		if err := r.add(ctx, e); err != nil {
			rows.Close()
			return err
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("read repairs of %s: %w", entity, err)
	}
	if extra {
		q := fmt.Sprintf("SELECT key, account, their_version FROM `%s`.`%s` WHERE run_id = ? AND entity = ? AND class = 'extra' ORDER BY key", r.db, DiffsTable)
		rows, err := r.conn.Query(ctx, q, r.runID, entity)
		if err != nil {
			return fmt.Errorf("read extra records of %s: %w", entity, err)
		}
		defer rows.Close()
		for rows.Next() {
			var key, account string
			var theirs int64
			if err := rows.Scan(&key, &account, &theirs); err != nil {
				return fmt.Errorf("read extra records of %s: %w", entity, err)
			}
			v, ok := above(theirs)
			if !ok {
				r.skip(entity, key, fmt.Sprintf("the partner holds version %d, and none is higher", theirs))
				continue
			}
			if err := r.add(ctx, event.Event{Account: account, Entity: entity, Key: key, Op: event.OpDelete, Version: v}); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read extra records of %s: %w", entity, err)
		}
	}
	return r.flush(ctx)
}
