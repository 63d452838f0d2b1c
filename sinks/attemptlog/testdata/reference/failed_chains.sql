-- Which chains failed or are stuck, with every step of each?
-- Failed: the chain's last step is dead or invalid. Stuck: its last step is parked, released,
-- retry_scheduled, prepared or confirmed and older than 5 minutes (@stuck_seconds). Only chains with a step in the last hour (@since); @account: one account's, '' for all; @partner: one partner's, '' for all.
-- A chain is one partner's: the same event delivered to two partners makes two chains with the same chain_id.
SELECT
    partner,
    chain_id,
    any(account) AS account,
    any(entity) AS entity,
    any(key) AS key,
    argMax(step, (ts, ts_ms, row_id)) AS last_step,
    max(ts) AS last_ts,
    arraySort(groupArray((ts, ts_ms, step, attempt, http_status, error))) AS steps
FROM streamsync.attempts FINAL
WHERE (partner, chain_id) IN (SELECT partner, chain_id FROM streamsync.attempts WHERE ts >= (now() - 3600)/*@since*/ AND (''/*@account*/ = '' OR account = ''/*@account*/)
    AND (''/*@partner*/ = '' OR partner = ''/*@partner*/))
GROUP BY partner, chain_id
HAVING last_step IN ('dead', 'invalid')
    OR (last_step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed') AND last_ts < now() - 300/*@stuck_seconds*/)
ORDER BY last_ts DESC
LIMIT 1000
