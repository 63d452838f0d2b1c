-- Which errors come up most in the last hour (@since), at which partner, on which steps, in how many chains and accounts? @partner: one partner's, '' for all.
-- Errors are failures (a failed partner call, a dead letter, an invalid event), not a child parked waiting for its parent.
-- How: from streamsync.failures (the failure and wait rows of attempts, kept by a materialized view, sorted by
-- step and time); rows, chains and accounts are exact counts of distinct row_id, chain_id and account (by their
-- 64-bit hashes), so a copy of a row counts once.
SELECT partner, err AS error, step, rows, chains, accounts, last_seen
FROM
(
    SELECT
        partner,
        any(error) AS err,
        step,
        uniqExact(row_hash) AS rows,
        uniqExact(chain_hash) AS chains,
        uniqExact(cityHash64(account)) AS accounts,
        max(ts) AS last_seen
    FROM streamsync.failures
    WHERE step IN ('retry_scheduled', 'dead', 'invalid') AND ts >= (now() - 3600)/*@since*/ AND error != ''
        AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
    GROUP BY partner, cityHash64(error) AS eh, step
)
ORDER BY rows DESC, last_seen DESC, partner, error, step
LIMIT 20
