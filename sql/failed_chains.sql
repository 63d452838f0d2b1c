-- Which chains failed or are stuck, with every step of each?
-- Failed: the chain's last step is dead or invalid. Stuck: its last step is parked, released,
-- retry_scheduled, prepared or confirmed and older than 5 minutes (@stuck_seconds). Only chains with a step in the last hour (@since); @account: one account's, '' for all; @partner: one partner's, '' for all.
-- A chain is one partner's: the same event delivered to two partners makes two chains with the same chain_id.
-- How: the 1001 most recent candidates come from streamsync.chain_ends (each chain's latest step, kept by a
-- materialized view, a few rows per chain); the answer is decided from those chains' own rows in
-- streamsync.attempts, copies of a row (same row_id) counted once. A candidate whose chain moved on in a row
-- chain_ends has not merged yet is dropped there, so a page can hold fewer chains than the limit while older
-- ones match.
SELECT
    partner,
    chain_id,
    any(account) AS account,
    any(entity) AS entity,
    any(key) AS key,
    argMax(step, (ts, ts_ms, row_id)) AS last_step,
    max(ts) AS last_ts,
    arraySort(groupArray((ts, ts_ms, step, attempt, http_status, error))) AS steps
FROM (
    SELECT partner, chain_id, account, entity, key, step, ts, ts_ms, row_id, attempt, http_status, error
    FROM streamsync.attempts
    PREWHERE chain_id IN (SELECT chain_id FROM streamsync.chain_ends
        WHERE last_ts >= (now() - 3600)/*@since*/
            AND (last_step IN ('dead', 'invalid') OR (last_step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed') AND last_ts < now() - 300/*@stuck_seconds*/))
            AND (''/*@account*/ = '' OR account = ''/*@account*/)
            AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
        ORDER BY last_ts DESC
        LIMIT 1001)
    WHERE (''/*@partner*/ = '' OR partner = ''/*@partner*/)
    LIMIT 1 BY partner, account, chain_id, row_id
)
GROUP BY partner, chain_id
HAVING last_ts >= (now() - 3600)/*@since*/
    AND (last_step IN ('dead', 'invalid')
        OR (last_step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed') AND last_ts < now() - 300/*@stuck_seconds*/))
ORDER BY last_ts DESC
LIMIT 1000
