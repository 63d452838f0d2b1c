// Package pipeline runs streamsync: the ordered Redis Streams subscriber
// (package pipeline/ordered, with EntryMarshaller and the account as order
// key), the Watermill router that runs the handler steps, the decision of
// how each outcome is committed, the movers that bring due events back from
// the delay and retry ZSETs, the ledger operations, and start and graceful
// stop. The keys and the Lua scripts those steps run are package
// internal/layout's.
package pipeline
