-- How many chains failed per partner and account in the last hour (@since), and how many of those were dead letters of each reason?
-- @partner: one partner's, '' for all.
-- Steps of a chain in the same millisecond: another step counts as earlier than a failure or wait, and a failure or
-- wait as earlier than dead or invalid (the question's text before chain_ends took row_id's text alone; changed on
-- purpose, see sql/failed_chains_per_account.sql).
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
        argMax(step, (ts, ts_ms, multiIf(step IN ('dead', 'invalid'), 2, step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed'), 1, 0), row_id)) AS last_step,
        argMax(error, (ts, ts_ms, multiIf(step IN ('dead', 'invalid'), 2, step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed'), 1, 0), row_id)) AS last_error,
        argMax(http_status, (ts, ts_ms, multiIf(step IN ('dead', 'invalid'), 2, step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed'), 1, 0), row_id)) AS last_http_status
    FROM streamsync.attempts FINAL
    WHERE ts >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
    GROUP BY partner, chain_id
)
WHERE last_step IN ('dead', 'invalid')
GROUP BY partner, account
ORDER BY failed_chains DESC, partner, account
