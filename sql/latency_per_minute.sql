-- How long did partner calls take, minute by minute in the last hour (@since)? Percentiles of latency_us over steps that made a call, per partner; @partner: one partner's, '' for all.
-- How: the whole minutes streamsync's sealer has answered already come from streamsync.latency_minutes (each
-- minute's answer, stored with the count of rows streamsync.calls_per_minute had for it, both kept apart from the
-- rows); from the first minute whose count has changed since (a minute still filling, a later insert into an
-- older one) on, and for the window's partial first minute, the answer comes from streamsync.calls (each call's
-- time, partner and latency, kept by a materialized view, sorted by time), copies of a row (same row_id) counted
-- once. The two give the same answer; a minute is never taken from both.
SELECT partner, minute, calls, p50_p90_p99_us, max_us
FROM
(
    SELECT partner, minute, argMax(calls, sealed) AS calls, argMax(quantiles, sealed) AS p50_p90_p99_us, argMax(max_us, sealed) AS max_us
    FROM streamsync.latency_minutes
    WHERE minute >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
        AND minute < (
            SELECT if(count() = 0, toDateTime('2100-01-01 00:00:00', 'UTC'), min(minute))
            FROM (
                SELECT minute, partner, sum(rows) AS counted
                FROM streamsync.calls_per_minute
                WHERE minute >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
                GROUP BY minute, partner
            ) ANY LEFT JOIN (
                SELECT minute, partner, argMax(inserted, sealed) AS answered
                FROM streamsync.latency_minutes
                WHERE minute >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
                GROUP BY minute, partner
            ) USING (minute, partner)
            WHERE answered != counted)
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
        AND (toStartOfMinute(ts) < (now() - 3600)/*@since*/ OR ts >= (
            SELECT if(count() = 0, toDateTime('2100-01-01 00:00:00', 'UTC'), min(minute))
            FROM (
                SELECT minute, partner, sum(rows) AS counted
                FROM streamsync.calls_per_minute
                WHERE minute >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
                GROUP BY minute, partner
            ) ANY LEFT JOIN (
                SELECT minute, partner, argMax(inserted, sealed) AS answered
                FROM streamsync.latency_minutes
                WHERE minute >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
                GROUP BY minute, partner
            ) USING (minute, partner)
            WHERE answered != counted))
    GROUP BY partner, minute
)
ORDER BY minute, partner
