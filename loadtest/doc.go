// Package loadtest drives streamsync with vegeta and k6 scenarios and writes
// the report of a load run. The vegeta driver sends one event per ingest
// request, or N per request as a JSON array (make loadtest BATCH=N) with the
// requests paced so that the events still go out at the level's rate; an
// event's latency counts from the send of the request that carried it.
package loadtest
