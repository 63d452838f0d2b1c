-- Which chains failed or are stuck, with every step of each, and how many children did each strand?
-- Failed: the chain's last step is dead or invalid. Stuck: its last step is parked, released,
-- retry_scheduled, prepared or confirmed and older than 5 minutes (@stuck_seconds). Only chains with a step in the last hour (@since); @account: one account's, '' for all; @partner: one partner's, '' for all.
-- A chain is one partner's: the same event delivered to two partners makes two chains with the same chain_id.
-- stranded: the children of the chain's record at its partner (parent_entity/parent_key equal to its entity/key)
-- still waiting (last step parked), whenever they parked (a child that parked before the chain's first step waits
-- on it all the same), and those dead-lettered for their parent (last step dead, error 'parent …'): for this
-- chain when the error names its event ('… was dead-lettered (event ID)', ID equal to chain_id), else, when it
-- names none, when the dead step is at or after the chain's first.
-- How: the candidates are the chains with a failing or waiting row in streamsync.chain_waits (a chain's latest
-- step of each inserted block when it fails or waits, kept by a materialized view, sorted by time); the answer is decided from
-- those chains' own rows in streamsync.attempts (read by its primary key, account and chain_id), copies of a row
-- (same row_id) counted once. The stranded children come from streamsync.chain_children (each child chain's
-- latest step, by record), for the candidates' records, which the join by (partner, entity, key) narrows.
-- streamsync (the CLI, the API, the console) binds @candidate_accounts, @candidate_chains and @candidate_keys to
-- the most recent candidates only (docs/operations.md, "Tables derived from the attempts"), and widens them when
-- they leave the page short; run as it is, this file takes every candidate of the window.
SELECT
    partner,
    chain_id,
    account,
    entity,
    key,
    last_step,
    last_ts,
    steps,
    arrayCount((p, t, e, f, c) -> p OR (e = '' AND t >= f) OR e = c, kids_parked, kids, kids_event,
        arrayResize(emptyArrayDateTime(), length(kids), first_ts), arrayResize(emptyArrayString(), length(kids), chain_id)) AS stranded
FROM (
    SELECT
        partner,
        chain_id,
        any(account) AS account,
        any(entity) AS entity,
        any(key) AS key,
        argMax(step, (ts, ts_ms, row_id)) AS last_step,
        min(ts) AS first_ts,
        max(ts) AS last_ts,
        arraySort(groupArray((ts, ts_ms, step, attempt, http_status, error))) AS steps
    FROM (
        SELECT partner, chain_id, account, entity, key, step, ts, ts_ms, row_id, attempt, http_status, error
        FROM streamsync.attempts
        PREWHERE account IN (SELECT account FROM streamsync.chain_waits
            WHERE last_ts >= (now() - 3600)/*@since*/
                AND (last_step IN ('dead', 'invalid') OR (last_step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed') AND last_ts < now() - 300/*@stuck_seconds*/))
                AND (''/*@account*/ = '' OR account = ''/*@account*/)
                AND (''/*@partner*/ = '' OR partner = ''/*@partner*/))/*@candidate_accounts*/
            AND chain_id IN (SELECT chain_id FROM streamsync.chain_waits
            WHERE last_ts >= (now() - 3600)/*@since*/
                AND (last_step IN ('dead', 'invalid') OR (last_step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed') AND last_ts < now() - 300/*@stuck_seconds*/))
                AND (''/*@account*/ = '' OR account = ''/*@account*/)
                AND (''/*@partner*/ = '' OR partner = ''/*@partner*/))/*@candidate_chains*/
        WHERE (''/*@partner*/ = '' OR partner = ''/*@partner*/)
        LIMIT 1 BY partner, account, chain_id, row_id
    )
    GROUP BY partner, chain_id
    HAVING last_ts >= (now() - 3600)/*@since*/
        AND (last_step IN ('dead', 'invalid')
            OR (last_step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed') AND last_ts < now() - 300/*@stuck_seconds*/))
    ORDER BY last_ts DESC
    LIMIT 1001
)
ANY LEFT JOIN (
    SELECT partner, parent_entity AS entity, parent_key AS key, groupArray(child_ts) AS kids,
        groupArray(child_step = 'parked') AS kids_parked, groupArray(extract(child_error, '\\(event ([^)]*)\\)$')) AS kids_event
    FROM (
        SELECT partner, parent_entity, parent_key, argMax(last_step, ver) AS child_step, argMax(last_error, ver) AS child_error, max(last_ts) AS child_ts
        FROM streamsync.chain_children
        WHERE parent_key IN (SELECT key FROM streamsync.chain_waits
            WHERE last_ts >= (now() - 3600)/*@since*/
                AND (last_step IN ('dead', 'invalid') OR (last_step IN ('parked', 'released', 'retry_scheduled', 'prepared', 'confirmed') AND last_ts < now() - 300/*@stuck_seconds*/))
                AND (''/*@account*/ = '' OR account = ''/*@account*/)
                AND (''/*@partner*/ = '' OR partner = ''/*@partner*/))/*@candidate_keys*/
        GROUP BY partner, parent_entity, parent_key, account, chain_id
        HAVING child_step = 'parked' OR (child_step = 'dead' AND child_error LIKE 'parent %')
    )
    GROUP BY partner, entity, key
) USING (partner, entity, key)
ORDER BY last_ts DESC
LIMIT 1000
