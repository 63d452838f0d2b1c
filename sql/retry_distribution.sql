-- How many partner attempts did chains need? Chains that ended in the last hour (@since), by the attempts they made and how they ended.
SELECT
    attempts,
    countIf(last_step = 'delivered') AS delivered,
    countIf(last_step = 'dead') AS dead,
    countIf(last_step LIKE 'skipped_%') AS skipped
FROM
(
    SELECT chain_id, max(attempt) AS attempts, argMax(step, (ts, ts_ms, row_id)) AS last_step
    FROM streamsync.attempts FINAL
    WHERE ts >= (now() - 3600)/*@since*/
    GROUP BY chain_id
)
WHERE last_step NOT IN ('parked', 'released', 'retry_scheduled', 'replayed', 'prepared', 'confirmed')
GROUP BY attempts
ORDER BY attempts
