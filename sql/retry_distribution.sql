-- How many partner attempts did chains need? Chains that ended in the last hour (@since), by partner, the attempts they made and how they ended; @partner: one partner's, '' for all.
-- A chain's attempts and last step count its steps inside the window only.
-- How: the window's whole minutes come from streamsync.chain_minutes (per chain and minute, its latest step and
-- highest attempt as two max states over numbers, kept by a materialized view), its first, partial minute from
-- streamsync.attempts; max merges the two, and copies of a row cannot change it. A chain is told apart by
-- cityHash64(partner, chain_id), its partner by cityHash64(partner). The latest step is the row with the highest
-- (time in ms, 19 bits of cityHash64(row_id), class): two steps of one chain in the same millisecond are ordered
-- by that hash; its class, the low 3 bits, is 1 delivered, 2 dead, 3 skipped_*, 4 a wait (a chain that has not
-- ended, left out), 0 another step (counted, in no column).
SELECT
    partner,
    attempts,
    countIf(class = 1) AS delivered,
    countIf(class = 2) AS dead,
    countIf(class = 3) AS skipped
FROM
(
    SELECT chain_hash, any(partner_hash) AS ph, maxMerge(a) AS attempts, maxMerge(l) % 8 AS class
    FROM
    (
        SELECT chain_hash, partner_hash, last AS l, attempts AS a
        FROM streamsync.chain_minutes
        WHERE minute >= (now() - 3600)/*@since*/ AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
        UNION ALL
        SELECT cityHash64(partner, chain_id) AS chain_hash, cityHash64(partner) AS partner_hash,
            maxState(bitShiftLeft(bitShiftLeft(toUInt64(ts) * 1000 + ts_ms, 19) + cityHash64(row_id) % 524288, 3)
                + multiIf(step = 'delivered', 1, step = 'dead', 2, step LIKE 'skipped_%', 3,
                    step IN ('parked', 'released', 'retry_scheduled', 'replayed', 'prepared', 'confirmed'), 4, 0)) AS l,
            maxState(attempt) AS a
        FROM streamsync.attempts
        WHERE ts >= (now() - 3600)/*@since*/ AND ts < toStartOfMinute((now() - 3600)/*@since*/) + 60
            AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
        GROUP BY chain_hash, partner_hash
    )
    GROUP BY chain_hash
)
ANY INNER JOIN
(
    SELECT DISTINCT cityHash64(partner) AS ph, partner
    FROM streamsync.chain_minutes
    WHERE minute >= toStartOfMinute((now() - 3600)/*@since*/) AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
) USING (ph)
WHERE class != 4
GROUP BY partner, attempts
ORDER BY partner, attempts
