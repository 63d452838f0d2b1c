// Package event is the change event of docs/events.md: its type, parsing from a
// Redis stream entry and from JSON, and validation with reasons a person can
// act on. It imports nothing of streamsync's own.
package event
