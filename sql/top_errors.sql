-- Which errors come up most in the last hour (@since), at which partner, on which steps, in how many chains and accounts? @partner: one partner's, '' for all.
-- Errors are failures (a failed partner call, a dead letter, an invalid event), not a child parked waiting for its parent.
-- How: from streamsync.failures (the failure and wait rows of attempts, kept by a materialized view, sorted by
-- step and time); rows and chains are exact counts of distinct row_id and chain_id (by their hashes), summed over
-- 64 disjoint slices of the chains so that both cores count.
SELECT
    partner,
    any(err) AS error,
    step,
    sum(r) AS rows,
    sum(c) AS chains,
    uniqExactMerge(a) AS accounts,
    max(l) AS last_seen
FROM
(
    SELECT partner, cityHash64(error) AS eh, any(error) AS err, step, chain_hash % 64 AS slice,
        uniqExact(row_hash) AS r, uniqExact(chain_hash) AS c, uniqExactState(account) AS a, max(ts) AS l
    FROM streamsync.failures
    WHERE step IN ('retry_scheduled', 'dead', 'invalid') AND ts >= (now() - 3600)/*@since*/ AND error != ''
        AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
    GROUP BY partner, eh, step, slice
)
GROUP BY partner, eh, step
ORDER BY rows DESC, last_seen DESC, partner, error, step
LIMIT 20
