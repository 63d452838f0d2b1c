-- How many chains failed per partner and account in the last hour (@since), and how many of those were dead letters of each reason?
-- @partner: one partner's, '' for all.
-- How: the dead and invalid rows of the window come from streamsync.failures (the failure and wait rows of
-- attempts, kept by a materialized view, sorted by step and time, so only those two steps' rows are read); each
-- such chain's latest dead or invalid row decides its step, error and status (copies of a row cannot change an
-- argMax), and streamsync.chain_ends (each chain's latest step, kept by a materialized view) tells whether a later
-- step of any kind followed it: the chain counts when its latest row of all is that row (chain_ends' ver: the
-- row's time in ms, doubled, plus one for a failing or waiting step). In the same millisecond a step of another
-- kind counts as earlier than a failure or wait, and a failure or wait as earlier than dead or invalid.
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
        argMax(http_status, (ts, ts_ms, row_id)) AS last_http_status,
        max((toUInt64(ts) * 1000 + ts_ms) * 2 + 1) AS fail_ver
    FROM streamsync.failures
    WHERE step IN ('dead', 'invalid') AND ts >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
    GROUP BY partner, chain_id
)
ANY INNER JOIN
(
    SELECT partner, chain_id, max(ver) AS end_ver
    FROM streamsync.chain_ends
    PREWHERE chain_id IN (SELECT chain_id FROM streamsync.failures
        WHERE step IN ('dead', 'invalid') AND ts >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/))
    WHERE last_ts >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
    GROUP BY partner, chain_id
) USING (partner, chain_id)
WHERE end_ver = fail_ver
GROUP BY partner, account
ORDER BY failed_chains DESC, partner, account
