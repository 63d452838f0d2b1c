-- How many partner attempts did chains need? Chains that ended in the last hour (@since), by partner, the attempts they made and how they ended; @partner: one partner's, '' for all.
-- Two steps of a chain in the same millisecond: the later is the one with the higher 19 bits of cityHash64(row_id)
-- (the question's text before chain_minutes took row_id's text; changed on purpose, see sql/retry_distribution.sql).
SELECT
    partner,
    attempts,
    countIf(last_step = 'delivered') AS delivered,
    countIf(last_step = 'dead') AS dead,
    countIf(last_step LIKE 'skipped_%') AS skipped
FROM
(
    SELECT partner, chain_id, max(attempt) AS attempts, argMax(step, (ts, ts_ms, cityHash64(row_id) % 524288)) AS last_step
    FROM streamsync.attempts FINAL
    WHERE ts >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
    GROUP BY partner, chain_id
)
WHERE last_step NOT IN ('parked', 'released', 'retry_scheduled', 'replayed', 'prepared', 'confirmed')
GROUP BY partner, attempts
ORDER BY partner, attempts
