-- Which errors come up most in the last hour (@since), on which steps, in how many chains and accounts?
-- Errors are failures (a failed partner call, a dead letter, an invalid event), not a child parked waiting for its parent.
SELECT
    error,
    step,
    count() AS rows,
    uniqExact(chain_id) AS chains,
    uniqExact(account) AS accounts,
    max(ts) AS last_seen
FROM streamsync.attempts FINAL
WHERE ts >= (now() - 3600)/*@since*/ AND error != '' AND step IN ('retry_scheduled', 'dead', 'invalid')
GROUP BY error, step
ORDER BY rows DESC
LIMIT 20
