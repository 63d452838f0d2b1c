// Package layout is streamsync's Redis layout: the name of every key a
// shard uses (keys.go), the form of the entries streamsync writes itself
// (packed.go), the fields of an attempt-log row (row.go) and of a dead
// letter (dead.go), and every Lua script that changes that state, each
// above the one function that runs it (commit.go, lookup.go, move.go,
// replay.go, ledger.go, trim.go, prepared.go, archive.go, idmap_begin.go,
// idmap_store.go; the Lua they share in lua.go), and the id map of a
// partner that assigns ids (IDMapStore). The pipeline, the ingest, the outbox relay, the admin
// API and the dead-letter archive all build their keys, entries and script
// calls here; what to write is theirs to decide.
package layout
