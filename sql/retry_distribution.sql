-- How many partner attempts did chains need? Chains that ended in the last hour (@since), by partner, the attempts they made and how they ended; @partner: one partner's, '' for all.
-- A chain's attempts and last step count its steps inside the window only.
-- How: the window's whole minutes come from streamsync.chain_stats (per chain and minute, its last step and
-- highest attempt, kept by a materialized view), its first, partial minute from streamsync.attempts; max and
-- argMax merge the two, and copies of a row cannot change them. Chains are told apart by cityHash64(chain_id).
SELECT
    partner,
    attempts,
    countIf(last_step = 'delivered') AS delivered,
    countIf(last_step = 'dead') AS dead,
    countIf(last_step LIKE 'skipped_%') AS skipped
FROM
(
    SELECT partner, chain_hash, maxMerge(a) AS attempts, argMaxMerge(s) AS last_step
    FROM
    (
        SELECT partner, chain_hash, last_step AS s, attempts AS a
        FROM streamsync.chain_stats
        WHERE minute >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
        UNION ALL
        SELECT partner, cityHash64(chain_id) AS chain_hash, argMaxState(step, (ts, ts_ms, row_id)) AS s, maxState(attempt) AS a
        FROM streamsync.attempts
        WHERE ts >= (now() - 3600)/*@since*/ AND ts < toStartOfMinute((now() - 3600)/*@since*/) + 60
            AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
        GROUP BY partner, chain_hash
    )
    GROUP BY partner, chain_hash
)
WHERE last_step NOT IN ('parked', 'released', 'retry_scheduled', 'replayed', 'prepared', 'confirmed')
GROUP BY partner, attempts
ORDER BY partner, attempts
