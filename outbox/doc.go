// Package outbox is the transactional-outbox relay of docs/producers.md: it moves
// the rows producers commit to a PostgreSQL table, in the order their
// transactions committed (schema.go: the commit_seq stamp) and in batches, into the events stream through the ingest's append path, and
// deletes them only after Redis has them.
package outbox
