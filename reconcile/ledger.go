package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
)

// RedisLedger reads the ledger: one Redis hash per entity, record key →
// "version|hash|deleted|event id" (handlers.Ledger). It keeps no account.
type RedisLedger struct {
	RDB redis.UniversalClient
	// Key names the ledger hash of an entity (pipeline.Keys.Ledger).
	Key func(entity string) string
}

// LedgerEntry is what the ledger holds of one record.
type LedgerEntry = handlers.Ledger

// Scan calls fn with every entry of an entity, a thousand at a time (HSCAN).
func (l RedisLedger) Scan(ctx context.Context, entity string, fn func(key string, e LedgerEntry) error) error {
	var cursor uint64
	for {
		kv, next, err := l.RDB.HScan(ctx, l.Key(entity), cursor, "", 1000).Result()
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
	v, err := l.RDB.HGet(ctx, l.Key(entity), key).Result()
	if errors.Is(err, redis.Nil) {
		return LedgerEntry{}, nil
	}
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("ledger of %s/%s: %w", entity, key, err)
	}
	return handlers.ParseLedger(v), nil
}

// Entities lists every entity the ledger has seen (SCAN over its hashes).
func (l RedisLedger) Entities(ctx context.Context) ([]string, error) {
	prefix := l.Key("")
	var out []string
	var cursor uint64
	for {
		keys, next, err := l.RDB.Scan(ctx, cursor, globEscape(prefix)+"*", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("ledger entities: %w", err)
		}
		for _, k := range keys {
			if e := strings.TrimPrefix(k, prefix); e != "" && !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	slices.Sort(out)
	return out, nil
}

func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}
