-- How many chains failed per partner and account in the last hour (@since), and how many of those were dead letters of each reason?
-- @partner: one partner's, '' for all.
-- How: the candidates (chains whose latest step is dead or invalid) come from streamsync.chain_ends (each chain's
-- latest step, kept by a materialized view); each is decided from its own rows of the window in streamsync.attempts,
-- copies of a row (same row_id) counted once.
SELECT
    partner,
    account,
    count() AS failed_chains,
    countIf(last_step = 'invalid') AS invalid,
    countIf(last_error LIKE 'parent %' OR last_error LIKE '%parent_missing%') AS parent_missing,
    countIf(last_step = 'dead' AND last_http_status BETWEEN 400 AND 499) AS rejected,
    countIf(last_step = 'dead' AND NOT (last_http_status BETWEEN 400 AND 499) AND NOT (last_error LIKE 'parent %')) AS exhausted
FROM
(
    SELECT
        partner,
        chain_id,
        any(account) AS account,
        argMax(step, (ts, ts_ms, row_id)) AS last_step,
        argMax(error, (ts, ts_ms, row_id)) AS last_error,
        argMax(http_status, (ts, ts_ms, row_id)) AS last_http_status
    FROM
    (
        SELECT partner, chain_id, account, step, error, http_status, ts, ts_ms, row_id
        FROM streamsync.attempts
        PREWHERE chain_id IN (SELECT chain_id FROM streamsync.chain_ends
            WHERE last_ts >= (now() - 3600)/*@since*/ AND last_step IN ('dead', 'invalid')
                AND (''/*@partner*/ = '' OR partner = ''/*@partner*/))
        WHERE ts >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
        LIMIT 1 BY partner, account, chain_id, row_id
    )
    GROUP BY partner, chain_id
)
WHERE last_step IN ('dead', 'invalid')
GROUP BY partner, account
ORDER BY failed_chains DESC, partner, account
