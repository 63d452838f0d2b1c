// Package reconcile compares our records (the source, or the ledger) with the
// partner's copy and repairs the drift (docs/reconcile.md): both sides are streamed
// into ClickHouse, classified there with one FULL OUTER JOIN per entity, and
// repairs are appended to the events stream as ordinary events.
package reconcile
