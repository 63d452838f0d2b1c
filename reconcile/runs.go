package reconcile

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/internal/httpserve"
)

// LastRuns reads the latest limit runs from reconcile_runs, newest first,
// each with up to diffs of its differences.
func LastRuns(ctx context.Context, conn driver.Conn, db string, limit, diffs int) ([]Report, error) {
	if err := EnsureSchema(ctx, conn, db); err != nil {
		return nil, err
	}
	q := fmt.Sprintf("SELECT run_id, started, finished, against, ours, theirs, equal, missing, extra, behind, ahead, differs, repaired, "+
		"status, error, entities, accounts FROM `%s`.`%s` ORDER BY started DESC, run_id DESC LIMIT %d", db, RunsTable, limit)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read reconcile_runs: %w", err)
	}
	out := []Report{}
	for rows.Next() {
		var r Report
		var n [9]uint64
		var entities, accounts string
		if err := rows.Scan(&r.RunID, &r.Started, &r.Finished, &r.Against, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &n[7], &n[8],
			&r.Status, &r.Error, &entities, &accounts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read reconcile_runs: %w", err)
		}
		r.Ours, r.Theirs, r.Equal, r.Missing, r.Extra = int64(n[0]), int64(n[1]), int64(n[2]), int64(n[3]), int64(n[4])
		r.Behind, r.Ahead, r.Differs, r.Repaired = int64(n[5]), int64(n[6]), int64(n[7]), int64(n[8])
		r.Entities, r.Accounts, r.Notes = split(entities), split(accounts), []string{}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Differences, err = firstDiffs(ctx, conn, db, out[i].RunID, diffs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func split(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// RunsHandler serves GET /api/v1/reconcile/runs?limit=N (default 10, at most
// 100): {"runs":[…]}, newest first, each run with its counts per class and
// its first 20 differences — for the operators' web page. The admin server
// puts it behind admin.token.
func RunsHandler(conn driver.Conn, db string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := 10
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				httpserve.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be 1 to 100"})
				return
			}
			limit = n
		}
		runs, err := LastRuns(r.Context(), conn, db, limit, DefaultFirstDiffs)
		if err != nil {
			httpserve.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		httpserve.WriteJSON(w, http.StatusOK, map[string]any{"runs": runs})
	})
}
