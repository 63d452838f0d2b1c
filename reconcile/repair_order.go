package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// parentsFirst orders entities so that an entity whose records name
// parents of another entity of the run comes before it: a run's repairs of
// parents are appended before their children's, so that, in one account's
// order, a repaired child finds its parent repaired already
// (docs/reconcile.md, "Repair"). Entities that name each other keep their
// order; so do unrelated ones.
func parentsFirst(ctx context.Context, conn driver.Conn, db, runID string, entities []string) ([]string, error) {
	if len(entities) < 2 {
		return entities, nil
	}
	q := fmt.Sprintf("SELECT DISTINCT entity, parent_entity FROM `%s`.`%s` WHERE run_id = ? AND side = ? AND parent_entity != ''", db, ItemsTable)
	rows, err := conn.Query(ctx, q, runID, SideOurs)
	if err != nil {
		return nil, fmt.Errorf("repair order: %w", err)
	}
	defer rows.Close()
	parents := map[string][]string{}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			return nil, fmt.Errorf("repair order: %w", err)
		}
		if child != parent {
			parents[child] = append(parents[child], parent)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("repair order: %w", err)
	}
	return orderParentsFirst(entities, parents), nil
}

// orderParentsFirst is entities with every entity after the parents
// parents names for it (those among entities), stable otherwise; a cycle
// keeps the given order for what remains of it.
func orderParentsFirst(entities []string, parents map[string][]string) []string {
	out := make([]string, 0, len(entities))
	done := map[string]bool{}
	left := slices.Clone(entities)
	for len(left) > 0 {
		progress := false
		for i := 0; i < len(left); i++ {
			e := left[i]
			ready := true
			for _, p := range parents[e] {
				if !done[p] && slices.Contains(left, p) {
					ready = false
					break
				}
			}
			if ready {
				out, done[e] = append(out, e), true
				left = slices.Delete(left, i, i+1)
				progress = true
				break
			}
		}
		if !progress { // a cycle: the rest as given
			return append(out, left...)
		}
	}
	return out
}
