package layout

import (
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/streamsync/streamsync/internal/keyslot"
)

// Keys names every Redis key of one shard; nothing else builds a key. The
// configured names (events, group, dead, delayed, retry) are kept as they
// are; every other name is derived from the events stream's prefix in one
// function (Keys.key).
//
// Keys derived from the events stream share its prefix, so a hash tag in
// the stream names ("{ss}:events", "{ss}:dead", …) puts every key a script
// touches in one Redis Cluster slot; NewShards puts such a tag in every key
// of a shard.
type Keys struct {
	Events   string // the ingest stream
	Group    string // its consumer group
	Dead     string // dead-letter stream
	Delayed  string // ZSET: children waiting for a parent, score = due ms
	Retry    string // ZSET: events waiting for a retry, score = due ms
	Attempts string // stream of attempt-log rows, exported to ClickHouse
	Payloads string // hash: event id → the entry of an event waiting in Delayed or Retry
	Steps    string // hash: step → count, for status
	// Prepared events (docs/producers.md): event id → the event's fields (a JSON
	// list); when each is checked back next (ZSET, score = due ms); how
	// many check-backs each has had (hash: event id → count).
	Prepared       string
	PreparedDue    string
	PreparedChecks string
	Partner        string // hash: instance → what that process knows of the partner (PartnerState JSON), for status
	// Owner is the shard's owner lease: the consumer name of the one
	// process that reads the shard (docs/scaling.md). Members is a ZSET of the
	// live processes (consumer name → heartbeat expiry, unix ms); the first
	// shard's is the one used.
	Owner   string
	Members string
	// ProofKey holds the key of streamsync's proofs (package
	// internal/proof): one per deployment, the same in every shard, named
	// from the configured events stream without a shard's tag, so that the
	// number of shards does not change it.
	ProofKey string
	// Target is the partner this key set's re-entered entries are meant
	// for (a retry, a released child, a replay): their _ss_for field, so
	// that the other partners reading the same events stream pass them by
	// (docs/partners.md, "Several partners"). Empty with one partner.
	Target string
	base   string
	pair   string // a partner's prefix, shared by its two directions (keys_partner.go)
}

// NewKeys derives the key set from the configured stream names: those as
// configured, every other key from the events stream's prefix (Keys.key).
func NewKeys(events, group, dead, delayed, retry string) Keys {
	k := Keys{Events: events, Group: group, Dead: dead, Delayed: delayed, Retry: retry,
		base: strings.TrimSuffix(events, ":events")}
	k.Attempts = k.key("attempts")
	k.Payloads = k.key("payloads")
	k.Steps = k.key("steps")
	k.Partner = k.key("partner")
	k.Owner = k.key("owner")
	k.Members = k.key("members")
	k.ProofKey = k.key("proof_key")
	k.Prepared = k.key("prepared")
	k.PreparedDue = k.key("prepared_due")
	k.PreparedChecks = k.key("prepared_checks")
	return k
}

// key names a key derived from the events stream's prefix:
// "prefix:part:part…". Every key but the configured names is made here,
// so that a prefix of its own for some of them (a second partner's state)
// is a change to this function and NewKeys only.
func (k Keys) key(parts ...string) string {
	return k.base + ":" + strings.Join(parts, ":")
}

// Ledger is the hash of one entity: record key → what the partner last got.
func (k Keys) Ledger(entity string) string { return k.key("ledger", entity) }

// IDMap is the id map of one entity whose partner assigns ids: record key
// → "i|<partner id>", "c|<until unix ms>|<version>|<event id>" (a create
// sent, not committed) or "g|<version>" (deleted at the partner); package
// internal/idmap reads the values.
func (k Keys) IDMap(entity string) string { return k.key("idmap", entity) }

// State is the hash of one entity: record key → where its latest event
// waits in the pipeline (parked, retry, dead); it tells a child whether its
// parent is known.
func (k Keys) State(entity string) string { return k.key("state", entity) }

// Waiting is the set of children's event ids that wait for one parent record.
func (k Keys) Waiting(entity, key string) string { return k.key("waiting", entity, key) }

// ConsumerName is the key that holds a consumer name for the one running
// process using it (value: that process' holder id, with a TTL); the first
// shard's is the one used. It is Members followed by the name.
func (k Keys) ConsumerName(name string) string { return k.key("members", name) }

// Lease is the per-account lease that keeps one account's deliveries serial
// across processes.
func (k Keys) Lease(account string) string { return k.key("lease", account) }

// ReconcileLock is the lock that lets one process at a time run a scheduled
// reconciliation (value: the holder's token, with a TTL).
func (k Keys) ReconcileLock() string { return k.key("reconcile", "lock") }

// ReconcileLast holds when the last scheduled reconciliation started (unix ms).
func (k Keys) ReconcileLast() string { return k.key("reconcile", "last") }

// DeadArchiveLock is the lease that lets one process at a time archive old
// dead letters (value: the holder's token, with a TTL); the first shard's is
// the one used.
func (k Keys) DeadArchiveLock() string { return k.key("dead_archive", "lock") }

// RetentionLock is the lease that lets one process at a time drop the
// attempt log's old partitions (value: the holder's token, with a TTL); the
// first shard's is the one used.
func (k Keys) RetentionLock() string { return k.key("retention", "lock") }

// SealerLock is the lease that lets one process at a time store the attempt
// log's answered minutes (value: the holder's token, with a TTL); the first
// shard's is the one used.
func (k Keys) SealerLock() string { return k.key("sealer", "lock") }

// Backfill is the hash that keeps one backfill run's position (docs/backfill.md).
func (k Keys) Backfill(runID string) string { return k.key("backfill", runID) }

// LedgerPattern matches every entity's ledger hash; the entity follows the
// prefix LedgerPrefix.
func (k Keys) LedgerPattern() string { return k.key("ledger", "*") }

// LedgerPrefix is what a ledger hash's name starts with, before the entity.
func (k Keys) LedgerPrefix() string { return k.key("ledger", "") }

// Shards are the key sets of every shard, index = shard number (docs/scaling.md).
type Shards []Keys

// NewShards builds the key sets of n shards from the configured names.
//
// Untagged (one shard on one Redis) it is exactly NewKeys: the names as
// configured. Tagged (more than one shard, or a Redis Cluster) every key of
// shard i carries the shard's hash tag right after the events stream's
// prefix: "streamsync:events" becomes "streamsync:{0}:events" and
// "streamsync:dead" "streamsync:{0}:dead"; a prefix that has a tag of its
// own ("{ss}:events") gets the shard number inside it ("{ss:0}:events"); a
// name that does not start with the prefix gets the shard's prefix in front.
// The tag of shard i is chosen (a ".k" suffix when needed) so that its slot
// lies in the i-th of n equal slot ranges: shards spread evenly over the
// masters of a Cluster whose slots are split evenly.
func NewShards(events, group, dead, delayed, retry string, n int, tagged bool) Shards {
	if n < 1 {
		n = 1
	}
	if !tagged && n == 1 {
		return Shards{NewKeys(events, group, dead, delayed, retry)}
	}
	base := strings.TrimSuffix(events, ":events")
	out := make(Shards, n)
	for i := range n {
		sb := shardBase(base, i, n)
		name := func(s string) string {
			if rest, ok := strings.CutPrefix(s, base); ok {
				return sb + rest
			}
			return sb + ":" + s
		}
		out[i] = NewKeys(name(events), group, name(dead), name(delayed), name(retry))
		out[i].ProofKey = Keys{base: base}.key("proof_key") // untagged: one per deployment
	}
	return out
}

// shardBase is the events prefix of shard i with the shard's hash tag.
func shardBase(base string, i, n int) string {
	tag := keyslot.Tag(base)
	if tag != base {
		pos := strings.Index(base, "{"+tag+"}")
		return base[:pos] + "{" + balancedTag(tag+":", i, n) + "}" + base[pos+len(tag)+2:]
	}
	return base + ":{" + balancedTag("", i, n) + "}"
}

// balancedTag is prefix+i, or prefix+i+".k" with the smallest k that puts
// the tag's slot in the i-th of n equal slot ranges.
func balancedTag(prefix string, i, n int) string {
	lo, hi := i*keyslot.Slots/n, (i+1)*keyslot.Slots/n
	tag := prefix + strconv.Itoa(i)
	for k := 0; k < 1_000_000; k++ {
		t := tag
		if k > 0 {
			t = fmt.Sprintf("%s.%d", tag, k)
		}
		if s := keyslot.Of("{" + t + "}"); s >= lo && s < hi {
			return t
		}
	}
	return tag
}

// ShardOf is the shard of an account: CRC-32 (IEEE) of the account's bytes
// mod n (docs/scaling.md); 0 when n ≤ 1.
func ShardOf(account string, n int) int {
	if n <= 1 {
		return 0
	}
	return int(crc32.ChecksumIEEE([]byte(account)) % uint32(n))
}

// For is the key set of the account's shard.
func (s Shards) For(account string) Keys { return s[ShardOf(account, len(s))] }

// Stream is the events stream a producer appends the account's events to.
// Ingest, the outbox relay and every other producer route with it.
func (s Shards) Stream(account string) string { return s.For(account).Events }
