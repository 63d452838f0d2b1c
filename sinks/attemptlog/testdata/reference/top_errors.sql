-- Which errors come up most in the last hour (@since), at which partner, on which steps, in how many chains and accounts? @partner: one partner's, '' for all.
-- Errors are failures (a failed partner call, a dead letter, an invalid event), not a child parked waiting for its parent.
SELECT
    partner,
    error,
    step,
    count() AS rows,
    uniqExact(chain_id) AS chains,
    uniqExact(account) AS accounts,
    max(ts) AS last_seen
FROM streamsync.attempts FINAL
WHERE ts >= (now() - 3600)/*@since*/ AND error != '' AND step IN ('retry_scheduled', 'dead', 'invalid') AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
GROUP BY partner, error, step
ORDER BY rows DESC, last_seen DESC, partner, error, step
LIMIT 20
