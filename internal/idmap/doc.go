// Package idmap keeps the ids a partner assigns to our records
// (docs/partners.md, "Ids the partner assigns"): per entity and key, the
// partner's id, or a note that a create was sent and not yet committed, or
// that a delete found nothing to delete. The id itself is written by the
// pipeline's commit, in the same script call that records the delivery;
// Begin, before a create or a delete is sent, decides what to send and
// keeps two processes from racing a create against a delete.
//
// This package holds the types only and imports nothing of ours but event,
// so that internal/delivery, handlers and internal/layout can all speak
// Write; the store in Redis, with Begin's script, is layout.IDMapStore.
package idmap
