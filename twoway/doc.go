// Package twoway keeps the two directions of a two-way partner from
// looping and settles their conflicts (docs/partners.md, "Two-way sync").
//
// A two-way partner has two pipelines: ours → the partner (the events
// stream) and the partner → ours (its inbound stream, filled by webhooks and
// polls through Appender). Both share one agreement per record
// (layout.Agreement): the content hash streamsync last wrote to or heard
// from either side, by the partner profile's compared fields, and the
// version of each side that is settled. A Pair runs in each pipeline as
// the step after the ledger and around its sender:
//
//   - an arriving change whose content equals the agreement is an echo of
//     what streamsync itself wrote: skipped_loop, tagged or not;
//   - a change at or below its side's settled version is skipped_stale;
//   - before a change is written, the other side's record is read: when it
//     changed since the agreement too, the entity's conflict policy
//     decides (ours, theirs, newest, manual);
//   - once the other side answers 2xx, the agreement holds the new content.
package twoway
