-- How long did partner calls take, minute by minute in the last hour (@since)? Percentiles of latency_us over steps that made a call, per partner; @partner: one partner's, '' for all.
SELECT
    partner,
    toStartOfMinute(ts) AS minute,
    count() AS calls,
    quantiles(0.5, 0.9, 0.99)(latency_us) AS p50_p90_p99_us,
    max(latency_us) AS max_us
FROM streamsync.attempts FINAL
WHERE ts >= (now() - 3600)/*@since*/ AND attempt > 0 AND http_status > 0 AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
GROUP BY partner, minute
ORDER BY minute, partner
