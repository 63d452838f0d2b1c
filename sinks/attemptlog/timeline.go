package attemptlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TimelineQuery picks the chains whose timelines Timeline returns: by event
// id, by record (entity and key), or by account; exactly one of them, at
// one partner or at every one.
type TimelineQuery struct {
	EventID string
	Entity  string
	Key     string
	Account string
	// Partner is the partner whose chains ([a-z0-9_-]{1,64}); empty for
	// every partner's, each chain naming its own.
	Partner string
	// Since bounds the search to chains with a step since then.
	Since time.Time
	// Limit is the most chains returned, the most recent first (1 to 200; 20).
	Limit int
}

// ErrNoQuery is returned when a TimelineQuery names no event, record or account.
var ErrNoQuery = errors.New("name an event id, a record (entity and key) or an account")

// maxTimelineRows bounds the rows one Timeline call reads.
const maxTimelineRows = 20000

// Timeline returns every step of the chains the query picks, each chain's
// steps in time order, with attempt, HTTP status, latency and error
// (docs/operations.md's columns). Duplicated rows collapse (FINAL). truncated
// reports that more chains matched than q.Limit, or that the chains had
// more than maxTimelineRows steps in all and only those were read.
func Timeline(ctx context.Context, conn driver.Conn, database string, q TimelineQuery) (chains []Chain, truncated bool, err error) {
	cond, args := "", []any{clickhouse.Named("since", q.Since.UTC())}
	switch {
	case q.EventID != "":
		cond = "(event_id = @event_id OR chain_id = @event_id)"
		args = append(args, clickhouse.Named("event_id", q.EventID))
	case q.Entity != "" && q.Key != "":
		cond = "entity = @entity AND key = @key"
		args = append(args, clickhouse.Named("entity", q.Entity), clickhouse.Named("key", q.Key))
	case q.Account != "":
		cond = "account = @account"
		args = append(args, clickhouse.Named("account", q.Account))
	default:
		return nil, false, ErrNoQuery
	}
	if q.Partner != "" {
		if err := CheckPartner(q.Partner); err != nil {
			return nil, false, err
		}
		cond += " AND partner = @partner"
		args = append(args, clickhouse.Named("partner", q.Partner))
	}
	if q.Limit <= 0 {
		q.Limit = 20
	}
	q.Limit = min(q.Limit, 200)
	tbl := fmt.Sprintf("`%s`.`%s`", database, Table)
	// A chain is one partner's: the same event id at two partners is two chains.
	stmt := fmt.Sprintf(`SELECT partner, chain_id, account, entity, key, ts, ts_ms, step, attempt, http_status, latency_us, error, stream_id, instance, row_id
FROM %[1]s FINAL
WHERE (partner, chain_id) IN (SELECT partner, chain_id FROM %[1]s WHERE %[2]s AND ts >= @since GROUP BY partner, chain_id ORDER BY max(ts) DESC LIMIT %[3]d)
ORDER BY partner, chain_id, ts, ts_ms, row_id
LIMIT %[4]d`, tbl, cond, q.Limit+1, maxTimelineRows+1)
	rows, err := conn.Query(ctx, stmt, args...)
	if err != nil {
		return nil, false, fmt.Errorf("chain timeline: %w", err)
	}
	defer rows.Close()
	var out []Chain
	index := map[[2]string]int{} // partner, chain_id
	read := 0
	for rows.Next() {
		if read++; read > maxTimelineRows {
			truncated = true
			break
		}
		var c Chain
		var st Step
		var ts time.Time
		var ms uint16
		var rowID string
		if err := rows.Scan(&c.Partner, &c.ChainID, &c.Account, &c.Entity, &c.Key, &ts, &ms, &st.Step, &st.Attempt, &st.HTTPStatus,
			&st.LatencyUS, &st.Error, &st.StreamID, &st.Instance, &rowID); err != nil {
			return nil, false, fmt.Errorf("chain timeline: %w", err)
		}
		st.TS = ts.Add(time.Duration(ms) * time.Millisecond).UTC()
		i, ok := index[[2]string{c.Partner, c.ChainID}]
		if !ok {
			i = len(out)
			index[[2]string{c.Partner, c.ChainID}] = i
			out = append(out, c)
		}
		ch := &out[i]
		if ch.Entity == "" { // an invalid event's first row may lack them
			ch.Entity, ch.Key = c.Entity, c.Key
		}
		ch.Steps = append(ch.Steps, st)
		ch.LastStep, ch.LastTS = st.Step, st.TS
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("chain timeline: %w", err)
	}
	// Most recent chain first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].LastTS.After(out[j-1].LastTS); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) > q.Limit {
		out, truncated = out[:q.Limit], true
	}
	return out, truncated, nil
}

// Timeline runs Timeline on the source's connection and database.
func (c ChainSource) Timeline(ctx context.Context, q TimelineQuery) ([]Chain, bool, error) {
	return Timeline(ctx, c.Conn, c.Database, q)
}
