package proof

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// Processes that start together end up with one key, made once.
func TestLoadMakesOneKey(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	name := prefix + "proof_key"
	keys := make([]*Key, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := Load(context.Background(), rdb, name)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k == nil || *k != *keys[0] {
			t.Fatal("processes loaded different keys")
		}
	}
	if s, _ := rdb.Get(context.Background(), name).Result(); s != keys[0].stored() {
		t.Fatalf("Redis holds %d bytes, not the key", len(s))
	}
	if ttl, _ := rdb.TTL(context.Background(), name).Result(); ttl != -1 {
		t.Fatalf("the key expires (ttl %s)", ttl)
	}
	rdb.Set(context.Background(), name, "not hex", 0)
	if _, err := Load(context.Background(), rdb, name); err == nil {
		t.Fatal("a damaged key was taken")
	}
}

// A key replaced in Redis is picked up at the next failing proof once the
// reload interval has passed; proofs made with the old key keep verifying.
func TestVerifierFollowsANewKey(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	ctx := context.Background()
	name := prefix + "proof_key"
	now := time.Unix(1_700_000_000, 0)
	v := NewVerifier(rdb, name, func() time.Time { return now })

	if kind, err := v.Verify(ctx, map[string]string{"id": "e"}); err != nil || kind != None {
		t.Fatalf("no proof: %q %v", kind, err)
	}
	old, err := Load(ctx, rdb, name)
	if err != nil {
		t.Fatal(err)
	}
	f := entry()
	f[Field] = old.Sign(Repair, f)
	if kind, err := v.Verify(ctx, f); err != nil || kind != Repair {
		t.Fatalf("a proof made with the stored key: %q %v", kind, err)
	}

	rdb.Del(ctx, name) // replaced by an operator, or lost in a failover
	fresh, err := Load(ctx, rdb, name)
	if err != nil {
		t.Fatal(err)
	}
	g := entry()
	g[Field] = fresh.Sign(Replay, g)
	if kind, _ := v.Verify(ctx, g); kind != None {
		t.Fatal("the key was read again before the reload interval")
	}
	now = now.Add(DefaultReload)
	if kind, err := v.Verify(ctx, g); err != nil || kind != Replay {
		t.Fatalf("a proof made with the new key: %q %v", kind, err)
	}
	if kind, _ := v.Verify(ctx, f); kind != Repair {
		t.Fatal("a proof made with the key before stopped verifying")
	}
	forged := entry()
	forged["version"] = "9223372036854775807"
	forged[Field] = fresh.Sign(Repair, g) // a real proof, made for another entry
	if kind, _ := v.Verify(ctx, forged); kind != None {
		t.Fatal("a forged proof verifies")
	}
}

// A key that cannot be read is an error, never a verdict.
func TestVerifierCannotTell(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	name := prefix + "proof_key"
	rdb.HSet(context.Background(), name, "a", "b") // wrong type
	f := entry()
	k, _ := NewKey()
	f[Field] = k.Sign(Repair, f)
	if _, err := NewVerifier(rdb, name, nil).Verify(context.Background(), f); err == nil {
		t.Fatal("no error when the key cannot be read")
	}
}
