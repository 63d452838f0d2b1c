-- Which errors come up most since @since, on which steps, in how many chains and accounts?
SELECT
    error,
    step,
    count() AS rows,
    uniqExact(chain_id) AS chains,
    uniqExact(account) AS accounts,
    max(ts) AS last_seen
FROM streamsync.attempts FINAL
WHERE ts >= @since AND error != ''
GROUP BY error, step
ORDER BY rows DESC
LIMIT 20
