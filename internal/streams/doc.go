// Package streams holds what the pipeline, the ordered subscriber and the
// attempt-log exporter share about Redis Streams: making a consumer group,
// making it again when the stream vanished, one XREADGROUP, and the columns
// of an attempt-log row (docs/operations.md). It imports nothing of streamsync, so
// every layer can use it without an edge back up.
package streams
