package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
)

// RedisLedger reads the ledger: one Redis hash per entity, record key →
// "version|hash|deleted|event id" and the account (handlers.Ledger; entries
// written before the ledger kept accounts have none).
type RedisLedger struct {
	RDB redis.UniversalClient
	// Key names the ledger hash of an entity (layout.Keys.Ledger).
	Key func(entity string) string
	// Shards, when set, name the ledger hash of an entity in every shard
	// (docs/scaling.md; Key is then ignored): a record's entry is in its
	// account's shard, which a reader of one key cannot tell, so every shard
	// is read.
	Shards []func(entity string) string
}

func (l RedisLedger) keyFuncs() []func(string) string {
	if len(l.Shards) > 0 {
		return l.Shards
	}
	return []func(string) string{l.Key}
}

// LedgerEntry is what the ledger holds of one record.
type LedgerEntry = handlers.Ledger

// Scan calls fn with every entry of an entity, a thousand at a time (HSCAN).
func (l RedisLedger) Scan(ctx context.Context, entity string, fn func(key string, e LedgerEntry) error) error {
	for _, key := range l.keyFuncs() {
		if err := l.scan(ctx, key(entity), entity, fn); err != nil {
			return err
		}
	}
	return nil
}

func (l RedisLedger) scan(ctx context.Context, hash, entity string, fn func(key string, e LedgerEntry) error) error {
	var cursor uint64
	for {
		kv, next, err := l.RDB.HScan(ctx, hash, cursor, "", 1000).Result()
		if err != nil {
			return fmt.Errorf("ledger of %s: %w", entity, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			e := handlers.ParseLedger(kv[i+1])
			if !e.Found {
				continue
			}
			if err := fn(kv[i], e); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Get reads one entry; Found is false when the ledger has none.
func (l RedisLedger) Get(ctx context.Context, entity, key string) (LedgerEntry, error) {
	for _, k := range l.keyFuncs() {
		v, err := l.RDB.HGet(ctx, k(entity), key).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return LedgerEntry{}, fmt.Errorf("ledger of %s/%s: %w", entity, key, err)
		}
		return handlers.ParseLedger(v), nil
	}
	return LedgerEntry{}, nil
}

// Entities lists every entity the ledger has seen (SCAN over its hashes).
func (l RedisLedger) Entities(ctx context.Context) ([]string, error) {
	var out []string
	for _, key := range l.keyFuncs() {
		prefix := key("")
		err := scanKeys(ctx, l.RDB, globEscape(prefix)+"*", func(k string) {
			if e := strings.TrimPrefix(k, prefix); e != "" && !slices.Contains(out, e) {
				out = append(out, e)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("ledger entities: %w", err)
		}
	}
	slices.Sort(out)
	return out, nil
}

// scanKeys calls fn with every key matching pattern; on a Redis Cluster it
// scans every master (a SCAN sees one node's keys only).
func scanKeys(ctx context.Context, rdb redis.UniversalClient, pattern string, fn func(string)) error {
	var mu sync.Mutex
	one := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range keys {
				fn(k)
			}
			mu.Unlock()
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return one(ctx, n) })
	}
	return one(ctx, rdb)
}

func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}
