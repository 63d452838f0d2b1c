// Package pipeline runs streamsync: the ordered Redis Streams subscriber
// (package pipeline/ordered, with EntryMarshaller and the account as order
// key), the Watermill router that runs the handler steps, the Lua scripts
// that move events between the stream, the delay and retry ZSETs and the
// dead-letter stream, the ledger, and start and graceful stop.
package pipeline
