// Package layout is streamsync's Redis layout: the name of every key a
// shard of the pipeline uses (keys.go), so that every package that reads or
// writes that state — the pipeline, the ingest, the outbox relay, the admin
// API, the dead-letter archive — builds its keys in one place.
package layout
