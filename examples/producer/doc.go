// Package main is the producer example: a small example of the two reliable ways to hand
// events to streamsync (docs/producers.md, docs/producers.md): the transactional
// outbox (the business write and the outbox row in one PostgreSQL
// transaction) and prepared events (prepare, write, confirm, with a
// check-back endpoint that answers for transactions that never confirmed).
//
//	go run ./examples/producer outbox   --dsn postgres://…
//	go run ./examples/producer prepared --dsn postgres://… --ingest http://127.0.0.1:8092 --check-addr 127.0.0.1:8093
//
// With prepared events, set streamsync's ingest.check_url to
// http://<check-addr>/check. When streamsync's ingest has ingest.tokens, give
// this producer's token with --token or STREAMSYNC_INGEST_TOKEN.
package main
