package layout

import (
	"strings"
	"testing"

	"github.com/streamsync/streamsync/internal/keyslot"
)

// One shard on one Redis keeps exactly the names deployments have today.
func TestSingleShardKeepsTodaysNames(t *testing.T) {
	s := NewShards("streamsync:events", "streamsync", "streamsync:dead", "streamsync:delayed", "streamsync:retry", 1, false)
	if len(s) != 1 {
		t.Fatalf("%d shards", len(s))
	}
	k := s[0]
	for got, want := range map[string]string{
		k.Events: "streamsync:events", k.Group: "streamsync", k.Dead: "streamsync:dead", k.Delayed: "streamsync:delayed",
		k.Retry: "streamsync:retry", k.Attempts: "streamsync:attempts", k.Payloads: "streamsync:payloads", k.Steps: "streamsync:steps",
		k.Ledger("main"): "streamsync:ledger:main", k.State("main"): "streamsync:state:main",
		k.IDMap("contact"):       "streamsync:idmap:contact",
		k.Waiting("main", "m/1"): "streamsync:waiting:main:m/1", k.Lease("acc-7"): "streamsync:lease:acc-7",
	} {
		if got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
	for got, want := range map[string]string{
		k.Partner: "streamsync:partner", k.Owner: "streamsync:owner", k.Members: "streamsync:members",
		k.ProofKey: "streamsync:proof_key", k.Prepared: "streamsync:prepared", k.PreparedDue: "streamsync:prepared_due",
		k.PreparedChecks: "streamsync:prepared_checks", k.ConsumerName("host-2"): "streamsync:members:host-2",
		k.ReconcileLock(): "streamsync:reconcile:lock", k.ReconcileLast(): "streamsync:reconcile:last",
		k.DeadArchiveLock(): "streamsync:dead_archive:lock", k.RetentionLock(): "streamsync:retention:lock", k.Backfill("r1"): "streamsync:backfill:r1",
		k.LedgerPattern(): "streamsync:ledger:*", k.LedgerPrefix(): "streamsync:ledger:",
	} {
		if got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
	if s.Stream("any account") != "streamsync:events" {
		t.Errorf("one shard routes to %s", s.Stream("any account"))
	}
}

// ShardOf is CRC-32 (IEEE) of the account's bytes mod N (docs/scaling.md);
// the expected values come from zlib.crc32.
func TestShardOf(t *testing.T) {
	for _, tc := range []struct {
		account string
		n, want int
	}{
		{"acc-7", 6, 2581953428 % 6}, {"acc-1", 6, 1887887009 % 6}, {"", 6, 0},
		{"李雷", 6, 877454660 % 6}, {"acc-7", 1, 0}, {"acc-7", 0, 0},
	} {
		if got := ShardOf(tc.account, tc.n); got != tc.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", tc.account, tc.n, got, tc.want)
		}
	}
}

// Every key of a shard is in one slot, every shard in another, and the
// shards' slots spread evenly over the slot range.
func TestShardKeysShareOneSlot(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		events, dead, delayed, retry string
		n                            int
		wantEvents0                  string
	}{
		{"plain names", "streamsync:events", "streamsync:dead", "streamsync:delayed", "streamsync:retry", 6, "streamsync:{0.1}:events"},
		{"names with a tag", "{ss}:events", "{ss}:dead", "{ss}:delayed", "{ss}:retry", 3, "{ss:0}:events"},
		{"a name of another prefix", "app:events", "other:dead", "app:delayed", "app:retry", 4, "app:{0.1}:events"},
		{"one shard on a Cluster", "streamsync:events", "streamsync:dead", "streamsync:delayed", "streamsync:retry", 1, "streamsync:{0}:events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewShards(tc.events, "g", tc.dead, tc.delayed, tc.retry, tc.n, true)
			if len(s) != tc.n || s[0].Events != tc.wantEvents0 {
				t.Fatalf("%d shards, shard 0 stream %q, want %q", len(s), s[0].Events, tc.wantEvents0)
			}
			slots := map[int]int{}
			for i, k := range s {
				keys := []string{k.Events, k.Dead, k.Delayed, k.Retry, k.Attempts, k.Payloads, k.Steps,
					k.Ledger("main"), k.State("main"), k.Waiting("main", "m{1}"), k.Lease("acc{x}"), k.IDMap("contact")}
				slot := keyslot.Of(keys[0])
				for _, key := range keys {
					if keyslot.Of(key) != slot {
						t.Errorf("shard %d: %s in slot %d, %s in slot %d", i, keys[0], slot, key, keyslot.Of(key))
					}
				}
				if prev, dup := slots[slot]; dup {
					t.Errorf("shards %d and %d share slot %d", prev, i, slot)
				}
				slots[slot] = i
				if lo, hi := i*keyslot.Slots/tc.n, (i+1)*keyslot.Slots/tc.n; slot < lo || slot >= hi {
					t.Errorf("shard %d in slot %d, outside [%d, %d)", i, slot, lo, hi)
				}
				if k.Group != "g" || !strings.Contains(k.Dead, "dead") {
					t.Errorf("shard %d: %+v", i, k)
				}
			}
		})
	}
}

// The proof key is one per deployment: the same in every shard, named from
// the configured stream without a shard's tag, whatever the number of
// shards (changing it must not make streamsync forget its key).
func TestProofKeyIsOnePerDeployment(t *testing.T) {
	for _, tc := range []struct {
		events string
		want   string
	}{{"streamsync:events", "streamsync:proof_key"}, {"{ss}:events", "{ss}:proof_key"}} {
		for _, n := range []int{1, 3, 6} {
			for _, tagged := range []bool{false, true} {
				for i, k := range NewShards(tc.events, "g", "d", "dl", "r", n, tagged) {
					if k.ProofKey != tc.want {
						t.Errorf("%s, %d shards (tagged %v), shard %d: proof key %q, want %q", tc.events, n, tagged, i, k.ProofKey, tc.want)
					}
				}
			}
		}
	}
}
