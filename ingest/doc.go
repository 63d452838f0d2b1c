// Package ingest is the HTTP ingest endpoint of docs/events.md: POST /v1/events
// takes one event or an array of them, validates them with the event
// package, and appends a valid batch to the events stream in one atomic
// pipelined call before it answers 202. Parse and Append are that
// validation and append path, shared by every producer streamsync runs.
//
// Every request needs a producer's token (ingest.tokens) unless none is
// configured, in which case the ingest serves on loopback only; a request
// carries at most ingest.max_events events, read and checked one by one as
// the body arrives; origins and fields only streamsync writes are refused
// (docs/security.md, "Ingest").
//
// It also keeps prepared events (docs/producers.md): POST /v1/events?prepare=1,
// /v1/events/confirm and /v1/events/cancel, each producer's apart from the
// others', and the check-back that asks the producer about events nobody
// settled in time.
package ingest
