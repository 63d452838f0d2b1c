package pipeline

import "strings"

// Keys names every Redis key streamsync uses; nothing else builds a key.
//
// Keys derived from the events stream share its prefix, so a hash tag in
// the stream names ("{ss}:events", "{ss}:dead", …) puts every key a script
// touches in one Redis Cluster slot.
type Keys struct {
	Events   string // the ingest stream
	Group    string // its consumer group
	Dead     string // dead-letter stream
	Delayed  string // ZSET: children waiting for a parent, score = due ms
	Retry    string // ZSET: events waiting for a retry, score = due ms
	Attempts string // stream of attempt-log rows, exported to ClickHouse
	Payloads string // hash: event id → the entry of an event waiting in Delayed or Retry
	Steps    string // hash: step → count, for status
	// Prepared events (contract §8): event id → the event's fields (a JSON
	// list); when each is checked back next (ZSET, score = due ms); how
	// many check-backs each has had (hash: event id → count).
	Prepared       string
	PreparedDue    string
	PreparedChecks string
	Partner        string // hash: instance → what that process knows of the partner (PartnerState JSON), for status
	base           string
}

// NewKeys derives the key set from the configured stream names.
func NewKeys(events, group, dead, delayed, retry string) Keys {
	base := strings.TrimSuffix(events, ":events")
	return Keys{
		Events: events, Group: group, Dead: dead, Delayed: delayed, Retry: retry,
		Attempts: base + ":attempts",
		Payloads: base + ":payloads",
		Steps:    base + ":steps",
		Partner:  base + ":partner",
		base:     base,

		Prepared:       base + ":prepared",
		PreparedDue:    base + ":prepared_due",
		PreparedChecks: base + ":prepared_checks",
	}
}

// Ledger is the hash of one entity: record key → what the partner last got.
func (k Keys) Ledger(entity string) string { return k.base + ":ledger:" + entity }

// State is the hash of one entity: record key → where its latest event
// waits in the pipeline (parked, retry, dead); it tells a child whether its
// parent is known.
func (k Keys) State(entity string) string { return k.base + ":state:" + entity }

// Waiting is the set of children's event ids that wait for one parent record.
func (k Keys) Waiting(entity, key string) string {
	return k.base + ":waiting:" + entity + ":" + key
}

// Lease is the per-account lease that keeps one account's deliveries serial
// across processes.
func (k Keys) Lease(account string) string { return k.base + ":lease:" + account }

// ReconcileLock is the lock that lets one process at a time run a scheduled
// reconciliation (value: the holder's token, with a TTL).
func (k Keys) ReconcileLock() string { return k.base + ":reconcile:lock" }

// ReconcileLast holds when the last scheduled reconciliation started (unix ms).
func (k Keys) ReconcileLast() string { return k.base + ":reconcile:last" }

// Backfill is the hash that keeps one backfill run's position (contract §7).
func (k Keys) Backfill(runID string) string { return k.base + ":backfill:" + runID }

// LedgerPattern matches every entity's ledger hash; the entity follows the
// prefix LedgerPrefix.
func (k Keys) LedgerPattern() string { return k.base + ":ledger:*" }

// LedgerPrefix is what a ledger hash's name starts with, before the entity.
func (k Keys) LedgerPrefix() string { return k.base + ":ledger:" }
