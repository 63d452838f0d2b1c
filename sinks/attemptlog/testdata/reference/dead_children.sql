-- Which children are dead because their parent is, and why did the parent die?
-- Children dead-lettered parent_missing in the last hour (@since), with the last error of the parent record's dead chain at the same partner; @partner: one partner's, '' for all.
SELECT
    partner,
    child_chain,
    child_account,
    child_entity,
    child_key,
    pe AS parent_entity,
    pk AS parent_key,
    parent_chain,
    parent_error
FROM
(
    SELECT partner, chain_id AS child_chain, account AS child_account, entity AS child_entity, key AS child_key, parent_entity AS pe, parent_key AS pk
    FROM streamsync.attempts FINAL
    WHERE ts >= (now() - 3600)/*@since*/ AND step = 'dead' AND parent_entity != '' AND error LIKE 'parent %' AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
)
ALL LEFT JOIN
(
    SELECT partner, entity AS pe, key AS pk, argMax(chain_id, (ts, ts_ms)) AS parent_chain, argMax(error, (ts, ts_ms)) AS parent_error
    FROM streamsync.attempts FINAL
    WHERE step IN ('dead', 'invalid') AND (''/*@partner*/ = '' OR partner = ''/*@partner*/)
    GROUP BY partner, pe, pk
) USING (partner, pe, pk)
ORDER BY partner, child_chain
