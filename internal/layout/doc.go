// Package layout is streamsync's Redis layout: the name of every key a
// shard uses (keys.go), the form of the entries streamsync writes itself
// (packed.go), the fields of an attempt-log row (row.go) and of a dead
// letter (dead.go), so that every package that reads or writes that state —
// the pipeline, the ingest, the outbox relay, the admin API, the dead-letter
// archive — builds its keys and entries in one place.
package layout
