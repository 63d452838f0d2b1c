-- How long did partner calls take, minute by minute in the last hour (@since)? Percentiles of latency_us over steps that made a call, per partner; @partner: one partner's, '' for all.
-- How: from streamsync.calls (each call's time, partner and latency, kept by a materialized view, sorted by time),
-- copies of a row (same row_id) counted once. streamsync (the CLI, the API) binds @sealed_until to the first whole
-- minute of the window that its sealer has not answered since the minute last changed, and takes the minutes before
-- it from streamsync.latency_minutes, the answers the sealer stored (docs/operations.md, "Tables derived from the
-- attempts"); run as it is, this file reads every minute from calls: the same answer, slower.
SELECT partner, minute, calls, p50_p90_p99_us, max_us
FROM
(
    SELECT partner, minute, argMax(calls, inserted) AS calls, argMax(quantiles, inserted) AS p50_p90_p99_us, argMax(max_us, inserted) AS max_us
    FROM streamsync.latency_minutes
    WHERE minute >= (now() - 3600)/*@since*/ AND minute < (toDateTime(0, 'UTC'))/*@sealed_until*/
        AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
    GROUP BY partner, minute
    UNION ALL
    SELECT
        partner,
        toStartOfMinute(ts) AS minute,
        count() AS calls,
        quantiles(0.5, 0.9, 0.99)(latency_us) AS p50_p90_p99_us,
        max(latency_us) AS max_us
    FROM streamsync.calls FINAL
    WHERE ts >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
        AND (toStartOfMinute(ts) < (now() - 3600)/*@since*/ OR ts >= (toDateTime(0, 'UTC'))/*@sealed_until*/)
    GROUP BY partner, minute
)
ORDER BY minute, partner
