-- Which dead letters left the dead-letter stream for the archive, and why did they die?
-- Dead letters archived in the last hour (@since; each died dead.max_age or more before), latest death first; data is the event's, and field_names/field_values in streamsync.dead_letters hold every field.
SELECT
    event_id,
    account,
    entity,
    key,
    dead_reason,
    dead_error,
    dead_attempts,
    dead_at,
    field_values[indexOf(field_names, 'data')] AS data,
    shard,
    stream_id,
    archived_at
FROM streamsync.dead_letters FINAL
WHERE archived_at >= (now() - 3600)/*@since*/
ORDER BY dead_at DESC, stream_id
LIMIT 1000
