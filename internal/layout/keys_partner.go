package layout

// ForPartner is the key set of one of several partners in this shard
// (docs/partners.md, "Several partners"): it reads the shard's events
// stream with a consumer group of its own, "<group>:<name>", and keeps
// every key of its own state under "<prefix>:p:<name>" — ledger, id map,
// delayed and retry ZSETs and their payloads, dead letters, leases, step
// counts, attempt rows, the owner lease, reconciliation's lock. The events
// stream, the proof key, prepared events and the process members stay the
// shard's. The prefix keeps the shard's hash tag, so that every script
// still touches one Redis Cluster slot.
//
// The partner of sink.* keeps the shard's own keys (NewKeys, NewShards):
// an upgrade to several partners neither re-sends nor loses its state.
func (k Keys) ForPartner(name string) Keys {
	p := k
	p.base = k.base + ":p:" + name
	p.pair = p.base
	p.Group = k.Group + ":" + name
	p.Target = name
	p.setOwn()
	return p
}

// Inbound is the key set of the changes that flow back from this
// partner to our own system (docs/partners.md, "Two-way sync"): an events
// stream of its own, "<partner prefix>:in:events", read by the partner's
// consumer group, and the same state as ForPartner's under
// "<partner prefix>:in". k must be a ForPartner key set.
func (k Keys) Inbound() Keys {
	in := k
	in.base = k.base + ":in"
	in.Target = "" // its stream is its own
	in.Events = in.key("events")
	in.setOwn()
	return in
}

// setOwn names the keys of a partner's own state from its prefix.
func (k *Keys) setOwn() {
	k.Dead, k.Delayed, k.Retry = k.key("dead"), k.key("delayed"), k.key("retry")
	k.Attempts, k.Payloads, k.Steps = k.key("attempts"), k.key("payloads"), k.key("steps")
	k.Partner, k.Owner = k.key("partner"), k.key("owner")
}

// pairKey names a key shared by both directions of one partner.
func (k Keys) pairKey(part ...string) string {
	base := k.pair
	if base == "" {
		base = k.base
	}
	return Keys{base: base}.key(part...)
}

// Agreed is the hash of one entity that keeps, per record key, what the
// two sides last agreed on: the content hashes streamsync last wrote or
// heard from each side and each side's version then
// (docs/partners.md, "No loops"). Both directions of the partner share it.
func (k Keys) Agreed(entity string) string { return k.pairKey("agreed", entity) }

// WebhookIDs is the prefix of the keys that remember the webhook-ids a
// partner's webhooks were applied under (one key each, with a TTL).
func (k Keys) WebhookIDs() string { return k.pairKey("webhook_ids") }

// PollCursor holds where polling of one entity of the partner is: the
// largest updated time seen (unix ms).
func (k Keys) PollCursor(entity string) string { return k.pairKey("poll", entity) }

// PollLock is the lease that lets one process at a time poll the partner.
func (k Keys) PollLock() string { return k.pairKey("poll", "lock") }

// ForPartner is every shard's ForPartner key set.
func (s Shards) ForPartner(name string) Shards {
	out := make(Shards, len(s))
	for i, k := range s {
		out[i] = k.ForPartner(name)
	}
	return out
}

// Inbound is every shard's Inbound key set; s must be ForPartner's.
func (s Shards) Inbound() Shards {
	out := make(Shards, len(s))
	for i, k := range s {
		out[i] = k.Inbound()
	}
	return out
}
