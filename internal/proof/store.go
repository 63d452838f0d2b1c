package proof

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Load reads the key stored under name (layout.Keys.ProofKey), making it
// on first use: 32 random bytes set with SET NX, so that every streamsync
// process and command of one deployment ends up with the same key and none
// has to be configured. Whoever loses the race reads the winner's. The key
// lives only in Redis and in the memory of streamsync processes; the ingest
// never reads it, and nothing prints it (see Key).
func Load(ctx context.Context, rdb redis.Cmdable, name string) (*Key, error) {
	for range 3 {
		s, err := rdb.Get(ctx, name).Result()
		if err == nil {
			k, err := parseKey(s)
			if err != nil {
				return nil, fmt.Errorf("%w (in %s; delete it to have a new one made)", err, name)
			}
			return k, nil
		}
		if !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read proof key %s: %w", name, err)
		}
		k, err := NewKey()
		if err != nil {
			return nil, err
		}
		set, err := rdb.SetNX(ctx, name, k.stored(), 0).Result()
		if err != nil {
			return nil, fmt.Errorf("make proof key %s: %w", name, err)
		}
		if set {
			return k, nil
		}
		// another process made it meanwhile: read theirs
	}
	return nil, fmt.Errorf("proof key %s: made and deleted again while being read", name)
}

// DefaultReload is how often a Verifier reads the key again at most, when a
// proof does not verify with the keys it has.
const DefaultReload = 10 * time.Second

// Verifier checks proofs against the key in Redis. It reads the key on first
// use, and again (at most once per DefaultReload) when a proof fails with
// the keys it has, keeping the one before too: a key that was replaced (by
// an operator, or lost in a failover and made anew) is picked up without a
// restart, and proofs made with the old one still verify meanwhile.
type Verifier struct {
	rdb  redis.Cmdable
	name string
	now  func() time.Time

	mu     sync.Mutex
	keys   []*Key // newest first, at most two
	loaded time.Time
}

// NewVerifier builds a Verifier of the key stored under name; now is the
// clock the reload interval is measured with (nil: time.Now).
func NewVerifier(rdb redis.Cmdable, name string, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{rdb: rdb, name: name, now: now}
}

// Verify reports the kind the proof in fields (the field Field) proves for
// that entry, or None. It fails only when the key cannot be read: then
// nobody can tell, and the caller must try again rather than take the entry
// for an ordinary one.
func (v *Verifier) Verify(ctx context.Context, fields map[string]string) (Kind, error) {
	p := fields[Field]
	if p == "" {
		return None, nil
	}
	if _, _, ok := split(p); !ok {
		return None, nil // not a proof at all: no key needed to say so
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.keys) == 0 {
		if err := v.reload(ctx); err != nil {
			return None, err
		}
	}
	for _, k := range v.keys {
		if kind := k.Verify(p, fields); kind != None {
			return kind, nil
		}
	}
	if v.now().Sub(v.loaded) < DefaultReload {
		return None, nil
	}
	if err := v.reload(ctx); err != nil {
		return None, err
	}
	return v.keys[0].Verify(p, fields), nil
}

// reload reads the key again; a new one goes first, the one before it is
// kept as second.
func (v *Verifier) reload(ctx context.Context) error {
	k, err := Load(ctx, v.rdb, v.name)
	if err != nil {
		return err
	}
	v.loaded = v.now()
	if len(v.keys) > 0 && *v.keys[0] == *k {
		return nil
	}
	v.keys = append([]*Key{k}, v.keys...)[:min(len(v.keys)+1, 2)]
	return nil
}
