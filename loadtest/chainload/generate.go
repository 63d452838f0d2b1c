package chainload

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// The shape of the generated traffic. Chains come in groups of four in one
// account: three parents (entity contact) and one child (entity deal) whose
// parent is the group's first chain. Everything a chain is follows from a
// hash of its number c, so a load is the same every time and a slice of it
// can be written twice (an export retried).
//
//	parents: 1 % dead (2–4 retries, then dead), 0.2 % stuck (1–3 retries,
//	         the last one still waiting), the rest 0–4 retries then delivered
//	children: dead when their parent is (parked, then dead "parent … was
//	         dead-lettered"); the child of a stuck parent posted before it
//	         (parked 1 s before the parent's first step, still parked);
//	         0.4 % stuck parked, the rest parked, released, 0–1 retries,
//	         delivered
//
// About 3.1 rows a chain; 2,000 accounts.
const (
	// Accounts is how many accounts the chains spread over.
	Accounts = 2000
	// DeadPerMille is the share of parents that die, in thousandths; their
	// children die with them.
	DeadPerMille = 10
)

// chainColumns computes, per chain number c, what the chain is; rows are
// made from it in rowColumns. Aliases: h (the chain's hash), kind, n (its
// rows), k (its retries).
const chainColumns = `
    c,
    cityHash64(c) AS h,
    c % 4 = 3 AS is_child,
    concat('acc-', toString(intHash64(intDiv(c, 4)) % @accounts)) AS account,
    lower(hex(cityHash64('ev', c))) AS id,
    lower(hex(cityHash64('ev', c - 3))) AS parent_id,
    if(is_child, 'deal', 'contact') AS entity,
    concat(if(is_child, 'd-', 'c-'), toString(c)) AS key,
    if(is_child, 'contact', '') AS parent_entity,
    if(is_child, concat('c-', toString(c - 3)), '') AS parent_key,
    multiIf(
        NOT is_child AND h % 1000 < @dead, 'dead',
        NOT is_child AND h % 1000 < 12, 'stuck',
        NOT is_child, 'ok',
        cityHash64(c - 3) % 1000 < @dead, 'child_dead',
        cityHash64(c - 3) % 1000 < 12, 'child_early',
        h % 1000 < 4, 'child_stuck',
        'child_ok') AS kind,
    intDiv(h, 1000) AS h2,
    multiIf(kind = 'ok', h2 % 5, kind = 'dead', 2 + h2 % 3, kind = 'stuck', 1 + h2 % 3, kind = 'child_ok', h2 % 2, 0) AS k,
    multiIf(kind IN ('ok', 'dead'), k + 1, kind = 'stuck', k, kind = 'child_ok', k + 3, kind = 'child_dead', 2, 1) AS n,
    toUInt64(@end_ms - @span_ms + intDiv(if(kind = 'child_early', toUInt64(c - 3), c) * @span_ms, @chains) - if(kind = 'child_early', 1000, 0)) AS start_ms`

// rowColumns makes one row per step i of a chain, in attemptlog.Columns
// order (checked by a test).
const rowColumns = `
    toDateTime(intDiv(row_ms, 1000)) AS ts,
    toUInt16(row_ms % 1000) AS ts_ms,
    id AS event_id,
    concat(stream_id, ':', step, ':', toString(attempt)) AS row_id,
    concat(toString(row_ms), '-', toString(c % 1000)) AS stream_id,
    account,
    entity,
    key,
    parent_entity,
    parent_key,
    id AS chain_id,
    if(intDiv(h2, 7) % 50 = 0, 'delete', 'upsert') AS op,
    toInt64(1 + h % 20) AS version,
    multiIf(NOT is_child, toUInt16(i + 1), i < 2 OR kind != 'child_ok', toUInt16(0), toUInt16(i - 1)) AS attempt,
    multiIf(
        kind = 'ok', if(i < n - 1, 'retry_scheduled', 'delivered'),
        kind = 'dead', if(i < n - 1, 'retry_scheduled', 'dead'),
        kind = 'stuck', 'retry_scheduled',
        kind = 'child_ok', multiIf(i = 0, 'parked', i = 1, 'released', i < n - 1, 'retry_scheduled', 'delivered'),
        kind = 'child_dead', if(i = 0, 'parked', 'dead'),
        'parked') AS step,
    (intDiv(h, 1000000) + i) % 4 AS err_no,
    toUInt16(multiIf(
        step = 'delivered', 200,
        step = 'retry_scheduled', [429, 503, 500, 0][err_no + 1],
        step = 'dead' AND NOT is_child, 422,
        0)) AS http_status,
    toUInt32(multiIf(
        attempt = 0, 0,
        step = 'retry_scheduled' AND err_no = 3, 10000000,
        20000 + intHash64(c * 8 + i) % 400000)) AS latency_us,
    multiIf(
        step = 'retry_scheduled', ['partner answered 429 Too Many Requests', 'partner answered 503 Service Unavailable',
            'partner answered 500 Internal Server Error', 'Post "https://partner.example/v1/records": context deadline exceeded'][err_no + 1],
        step = 'dead' AND NOT is_child, 'partner answered 422 Unprocessable Entity: email is not an address',
        step = 'dead', concat('parent ', parent_entity, '/', parent_key, ' was dead-lettered (event ', parent_id, ')'),
        step = 'parked', concat('parent ', parent_entity, '/', parent_key, ' not at the partner yet'),
        '') AS error,
    concat('streamsync-', toString(h % 3)) AS instance,
    'partner' AS partner,
    'out' AS direction`

// rowTime is a step's unix milliseconds: retries back off 1 s, 2 s, 4 s…
// after the chain's first step, plus a little per step; a child dies 16 s
// after it parked, once its parent (at most 4 retries) has died.
const rowTime = `start_ms + 1000 * (bitShiftLeft(toUInt64(1), i) - 1) + (h % 200) * i + if(kind = 'child_dead' AND i = 1, 15000, 0) AS row_ms`

// Plan is one load: Chains chains, numbered 0…Chains-1, their first steps
// spread evenly over the SpanMS milliseconds before EndMS (unix ms).
type Plan struct {
	Chains uint64
	EndMS  uint64
	SpanMS uint64
}

// chainsSQL selects the chains [lo, lo+count) of p where where holds (a
// condition on c; "1" for all), one row each, with chainColumns.
func (p Plan) chainsSQL(lo, count uint64, where string) string {
	cols := strings.NewReplacer("@end_ms", strconv.FormatUint(p.EndMS, 10), "@span_ms", strconv.FormatUint(p.SpanMS, 10),
		"@chains", strconv.FormatUint(max(p.Chains, 1), 10),
		"@accounts", strconv.Itoa(Accounts), "@dead", strconv.Itoa(DeadPerMille)).Replace(chainColumns)
	return fmt.Sprintf("SELECT %s\nFROM (SELECT number + %d AS c FROM system.numbers LIMIT %d)\nWHERE %s", cols, lo, count, where)
}

// insertSQL is the INSERT … SELECT of the rows of chainsSQL(lo, count,
// where), at most limit of them.
func (p Plan) insertSQL(database string, lo, count, limit uint64, where string) string {
	names := make([]string, len(attemptlog.Columns))
	for i, c := range attemptlog.Columns {
		names[i] = "`" + c.Name + "`"
	}
	list := strings.Join(names, ", ")
	return fmt.Sprintf("INSERT INTO `%s`.`%s` (%s)\nSELECT %s FROM (\nSELECT %s\nFROM (SELECT *, %s FROM (SELECT *, arrayJoin(range(n)) AS i FROM (\n%s\n)))\n)\nLIMIT %d",
		database, attemptlog.Table, list, list, rowColumns, rowTime, p.chainsSQL(lo, count, where), limit)
}
