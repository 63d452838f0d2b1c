package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
)

// LedgerEntry is one record's ledger entry in one shard, as operators see
// it (`streamsync ledger`).
type LedgerEntry struct {
	Shard   int    `json:"shard"`
	Entity  string `json:"entity"`
	Key     string `json:"key"`
	Version int64  `json:"version"`
	Hash    string `json:"hash"` // SHA-256 hex of the content the partner last got; "-" for a delete, "" unknown
	Deleted bool   `json:"deleted"`
	EventID string `json:"event_id"`
	// Account is the record's account as the ledger keeps it; "" for an
	// entry written before the ledger kept accounts.
	Account string `json:"account"`
}

func ledgerEntry(shard int, entity, key string, l handlers.Ledger) LedgerEntry {
	return LedgerEntry{Shard: shard, Entity: entity, Key: key, Version: l.Version, Hash: l.Hash, Deleted: l.Deleted,
		EventID: l.EventID, Account: l.Account}
}

// LedgerOps shows and mends ledger entries (`streamsync ledger get|set|drop`,
// docs/operations.md). The ledger is kept per shard: with an account an
// operation looks in that account's shard only, without one in every shard.
type LedgerOps struct {
	RDB    redis.UniversalClient
	Shards layout.Shards
}

// ErrNoLedgerEntry is returned when the ledger holds nothing for a record.
var ErrNoLedgerEntry = errors.New("no ledger entry")

// ErrAmbiguous is returned when a record's key has entries in more than one
// shard (records of several accounts) and no account says which.
var ErrAmbiguous = errors.New("entries in more than one shard; name the account")

// shardsFor is the shards to look in: the account's, or every one ("").
func (o LedgerOps) shardsFor(account string) []int {
	if account != "" || len(o.Shards) == 1 {
		return []int{layout.ShardOf(account, len(o.Shards))}
	}
	all := make([]int, len(o.Shards))
	for i := range all {
		all[i] = i
	}
	return all
}

// Get returns the record's entries, one per shard that has one; none when
// the ledger has no entry for it.
func (o LedgerOps) Get(ctx context.Context, entity, key, account string) ([]LedgerEntry, error) {
	shards := o.shardsFor(account)
	pipe := o.RDB.Pipeline()
	cmds := make([]*redis.StringCmd, len(shards))
	for i, s := range shards {
		cmds[i] = pipe.HGet(ctx, o.Shards[s].Ledger(entity), key)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("ledger of %s %s: %w", entity, key, err)
	}
	var out []LedgerEntry
	for i, c := range cmds {
		if v := c.Val(); v != "" {
			out = append(out, ledgerEntry(shards[i], entity, key, handlers.ParseLedger(v)))
		}
	}
	return out, nil
}

// shardOf is the one shard whose entry an operation changes: the account's
// (or the only one), else the one shard that has an entry.
func (o LedgerOps) shardOf(ctx context.Context, entity, key, account string) (int, error) {
	shards := o.shardsFor(account)
	if len(shards) == 1 {
		return shards[0], nil
	}
	found, err := o.Get(ctx, entity, key, "")
	switch {
	case err != nil:
		return 0, err
	case len(found) == 0:
		return 0, fmt.Errorf("%s %s: %w in any of %d shards (name the account to make one)", entity, key, ErrNoLedgerEntry, len(o.Shards))
	case len(found) > 1:
		var in []string
		for _, f := range found {
			in = append(in, strconv.Itoa(f.Shard))
		}
		return 0, fmt.Errorf("%s %s: %w (shards %s)", entity, key, ErrAmbiguous, strings.Join(in, ", "))
	}
	return found[0].Shard, nil
}

// Set gives the record's entry the version, keeping what the partner last
// got (content hash, deleted, event id); a record the shard has no entry
// for gets one with that version and no content (so nothing of it is
// skipped as unchanged, and a child may go to the partner). The account,
// when given, is kept in an entry that has none (a new one, or one written
// before the ledger kept accounts); an entry's own account is never
// replaced. before is the entry as it was (nil: none). version must not be
// negative.
func (o LedgerOps) Set(ctx context.Context, entity, key, account string, version int64) (before *LedgerEntry, after LedgerEntry, err error) {
	if version < 0 {
		return nil, LedgerEntry{}, fmt.Errorf("ledger set: version %d is negative", version)
	}
	s, err := o.shardOf(ctx, entity, key, account)
	if err != nil {
		return nil, LedgerEntry{}, err
	}
	old, now, err := layout.LedgerSet(ctx, o.RDB, o.Shards[s], entity, key, version, "ledger-set", account)
	if err != nil {
		return nil, LedgerEntry{}, fmt.Errorf("ledger set %s %s: %w", entity, key, err)
	}
	if old != "" {
		b := ledgerEntry(s, entity, key, handlers.ParseLedger(old))
		before = &b
	}
	return before, ledgerEntry(s, entity, key, handlers.ParseLedger(now)), nil
}

// Drop deletes the record's entry and returns it: the next event of the
// record passes the stale and unchanged checks, and until one is delivered
// the record's children wait as for a parent the partner does not have.
func (o LedgerOps) Drop(ctx context.Context, entity, key, account string) (LedgerEntry, error) {
	s, err := o.shardOf(ctx, entity, key, account)
	if err != nil {
		return LedgerEntry{}, err
	}
	old, err := layout.LedgerDrop(ctx, o.RDB, o.Shards[s], entity, key)
	if errors.Is(err, redis.Nil) {
		return LedgerEntry{}, fmt.Errorf("%s %s: %w in shard %d", entity, key, ErrNoLedgerEntry, s)
	}
	if err != nil {
		return LedgerEntry{}, fmt.Errorf("ledger drop %s %s: %w", entity, key, err)
	}
	return ledgerEntry(s, entity, key, handlers.ParseLedger(old)), nil
}
