package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// Operations are what the admin API does; inspect.Inspector implements them.
type Operations interface {
	Status(ctx context.Context) (inspect.Status, error)
	ListDead(ctx context.Context, f inspect.DeadFilter, cursor string, limit int) ([]inspect.DeadLetter, string, error)
	ReplayDead(ctx context.Context, f inspect.DeadFilter) ([]string, error)
	DropDead(ctx context.Context, f inspect.DeadFilter) ([]string, error)
}

// PartnerStatusReader reads one partner's counters. An Operations that
// implements it serves GET /api/v1/status?partner=NAME; without it a
// partner there is answered 400.
type PartnerStatusReader interface {
	PartnerStatus(ctx context.Context, partner string) (inspect.Status, error)
}

// partnerParam reads partner= (a query parameter or a body field): empty
// for every partner, else a partner name ([a-z0-9_-]{1,64}, docs/partners.md).
func partnerParam(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if err := attemptlog.CheckPartner(v); err != nil {
		return "", err
	}
	return v, nil
}

// partnersHandler answers GET /api/v1/partners: the configured partners'
// names, for the console's switch.
func partnersHandler(names []string) http.HandlerFunc {
	if names == nil {
		names = []string{}
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"partners": names})
	}
}

// ChainLister finds failed and stuck chains in the attempt log: at most
// f.Limit, and whether more matched.
type ChainLister interface {
	Chains(ctx context.Context, f attemptlog.ChainFilter) ([]attemptlog.Chain, bool, error)
}

// FamilyFinder finds a chain's family in the attempt log;
// attemptlog.ChainSource implements it.
type FamilyFinder interface {
	Family(ctx context.Context, id, partner string) ([]attemptlog.Family, error)
}

// familyHandler answers GET /api/v1/chains/{id}[?partner=NAME] with
// {"families":[…]}: the chain, the children that waited on it and all
// their steps on one timeline, at each partner; 404 {"error":…} when the
// attempt log has no such chain (at that partner); 503 when chains cannot
// find families (the attempt log is off).
func familyHandler(chains ChainLister) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ff, ok := chains.(FamilyFinder)
		if !ok {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the attempt log is off (clickhouse.addr is empty)"})
			return
		}
		partner, err := partnerParam(r.URL.Query().Get("partner"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		fams, err := ff.Family(r.Context(), r.PathValue("id"), partner)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		if len(fams) == 0 {
			msg := "no chain " + r.PathValue("id") + " in the attempt log"
			if partner != "" {
				msg = "no chain " + r.PathValue("id") + " at partner " + partner + " in the attempt log"
			}
			writeJSON(w, http.StatusNotFound, map[string]string{"error": msg})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"families": fams})
	}
}

// statusHandler answers GET /api/v1/status: the pipeline's counters, one
// partner's with partner=NAME.
func statusHandler(ops Operations) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		partner, err := partnerParam(r.URL.Query().Get("partner"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		var s inspect.Status
		if partner == "" {
			s, err = ops.Status(r.Context())
		} else if ps, ok := ops.(PartnerStatusReader); ok {
			s, err = ps.PartnerStatus(r.Context(), partner)
		} else {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "partner: this streamsync counts no status per partner"})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, s)
	}
}

// deadListHandler answers GET /api/v1/dead: a page of dead letters.
func deadListHandler(ops Operations) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := 100
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be 1 to 1000"})
				return
			}
			limit = n
		}
		if len(q["id"]) > MaxIDs {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("at most %d ids a call", MaxIDs)})
			return
		}
		cursor, err := deadCursor(q.Get("cursor"), q.Get("since"), time.Now())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "since: " + err.Error()})
			return
		}
		partner, err := partnerParam(q.Get("partner"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		items, next, err := ops.ListDead(r.Context(), inspect.DeadFilter{Reason: q.Get("reason"), Account: q.Get("account"), Partner: partner, IDs: q["id"]}, cursor, limit)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		if items == nil {
			items = []inspect.DeadLetter{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	}
}

// deadActHandler answers POST /api/v1/dead/replay and /drop: do on the dead
// letters the body names, the ids done answered under name.
func deadActHandler(name string, do func(context.Context, inspect.DeadFilter) ([]string, error), logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			IDs     []string `json:"ids"`
			Reason  string   `json:"reason"`
			Account string   `json:"account"`
			Partner string   `json:"partner"`
			All     bool     `json:"all"`
			// Take settles conflict dead letters with ours or theirs
			// (replay only; docs/partners.md, "Conflicts").
			Take string `json:"take"`
		}
		if err := decodeBody(w, r, &body); err != nil {
			writeJSON(w, bodyStatus(err), map[string]string{"error": err.Error()})
			return
		}
		if _, err := partnerParam(body.Partner); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if len(body.IDs) > MaxIDs {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("at most %d ids a call", MaxIDs)})
			return
		}
		if body.Take != "" && (name != "replayed" || body.Take != "ours" && body.Take != "theirs") {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "take is ours or theirs, and only for a replay"})
			return
		}
		ids, err := do(r.Context(), inspect.DeadFilter{IDs: body.IDs, Reason: body.Reason, Account: body.Account, Partner: body.Partner, All: body.All, Max: MaxPerCall, Take: body.Take})
		if errors.Is(err, inspect.ErrNoFilter) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": err.Error(), name: ids})
			return
		}
		if ids == nil {
			ids = []string{}
		}
		logger.Info("dead letters "+name, "count", len(ids), "reason", body.Reason, "account", body.Account, "partner", body.Partner, "all", body.All)
		// "more": the call stopped at MaxPerCall; the same call again
		// handles the next ones.
		writeJSON(w, http.StatusOK, map[string]any{name: ids, "count": len(ids), "more": len(ids) >= MaxPerCall})
	}
}

// chainsHandler answers GET /api/v1/chains: failed and stuck chains (one
// partner's with partner=NAME, each naming its partner), 503 when chains
// is nil (the attempt log is off).
func chainsHandler(chains ChainLister) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if chains == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the attempt log is off (clickhouse.addr is empty)"})
			return
		}
		q := r.URL.Query()
		since, err := sinceParam(q.Get("since"), time.Hour)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "since: " + err.Error()})
			return
		}
		stuck, err := durationParam(q.Get("stuck"), 5*time.Minute)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "stuck: " + err.Error()})
			return
		}
		limit := DefaultChains
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxChains {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("limit must be 1 to %d", MaxChains)})
				return
			}
			limit = n
		}
		partner, err := partnerParam(q.Get("partner"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		f := attemptlog.ChainFilter{Account: q.Get("account"), Partner: partner, Since: time.Now().Add(-since), Stuck: stuck, Limit: limit}
		list, truncated, err := chains.Chains(r.Context(), f)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		if list == nil {
			list = []attemptlog.Chain{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"chains": list, "truncated": truncated})
	}
}

// deadCursor is where a dead-letter page starts: the cursor when there is
// one, else just before the dead letters of the last `since` (a duration;
// a dead-letter entry's id starts with the unix ms it was written).
func deadCursor(cursor, since string, now time.Time) (string, error) {
	if cursor != "" || since == "" {
		return cursor, nil
	}
	d, err := durationParam(since, 0)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d-18446744073709551615", now.Add(-d).UnixMilli()-1), nil
}

// durationParam reads a query parameter such as "1h"; empty gives def.
func durationParam(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("want a duration such as 1h")
	}
	return d, nil
}
