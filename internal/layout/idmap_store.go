package layout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/internal/replicas"
)

// IDMapStore is the id map of one partner in Redis (docs/operations.md,
// "The id map"), sharded like the ledger: a record's entry lives in the
// hash Keys.IDMap(entity) of its account's shard. It implements idmap.Map
// and the operations of `streamsync idmap`. (It lives here, not in package
// idmap, because the commit — in this package, below handlers — writes the
// id map with idmap.Write: idmap importing layout would be a cycle.)
type IDMapStore struct {
	rdb    redis.UniversalClient
	shards Shards
	wait   replicas.Wait // WithReplicas
}

var _ idmap.Map = (*IDMapStore)(nil)

// NewIDMapStore is the id map kept in the shards' keys of rdb.
func NewIDMapStore(rdb redis.UniversalClient, shards Shards) *IDMapStore {
	if len(shards) == 0 {
		shards = Shards{NewKeys("streamsync:events", "streamsync", "streamsync:dead", "streamsync:delayed", "streamsync:retry")}
	}
	return &IDMapStore{rdb: rdb, shards: shards}
}

// WithReplicas makes Begin return a create only once w.N replicas hold its
// hold (redis.wait_replicas, redis.wait_timeout): a failover that rolls
// back the record's first create entirely then cannot undo the hold while
// the create is at the partner, and the create's retry looks the record
// up first (docs/reliability.md, "After a rollback"). It returns s.
func (s *IDMapStore) WithReplicas(w replicas.Wait) *IDMapStore {
	s.wait = w
	return s
}

// Begin decides what e sends (see IDMapBegin), in e's account's shard.
// With WithReplicas, a plan that sends a create (idmap.Create,
// idmap.FindThenCreate) is returned only once the replicas acknowledged
// its hold; else the error wraps replicas.ErrNotReplicated and nothing is
// to be sent. The hold is then longer by the wait's timeout.
func (s *IDMapStore) Begin(ctx context.Context, e event.Event, now time.Time, hold time.Duration) (idmap.Plan, error) {
	k := s.shards.For(e.Account)
	if s.wait.N <= 0 {
		return IDMapBegin(ctx, s.rdb, k, e, now, hold)
	}
	node, err := replicas.Node(ctx, s.rdb, k.IDMap(e.Entity))
	if err != nil {
		return idmap.Plan{}, fmt.Errorf("idmap begin %s: %w", e.ID, err)
	}
	conn := node.Conn() // the hold and its WAIT on one connection
	defer conn.Close()
	plan, err := IDMapBegin(ctx, conn, k, e, now, hold+s.wait.Timeout)
	if err != nil || (plan.Action != idmap.Create && plan.Action != idmap.FindThenCreate) {
		return plan, err
	}
	if err := s.wait.Await(ctx, conn); err != nil {
		return idmap.Plan{}, fmt.Errorf("idmap begin %s: the create's hold: %w", e.ID, err)
	}
	return plan, nil
}

// Get is the partner's id of a record, looked up in every shard (one
// pipelined round trip); "" when no shard has one. Records of one entity
// and key in several accounts' shards with different ids are an error
// (ErrIDMapAmbiguous): GetIn names the account.
func (s *IDMapStore) Get(ctx context.Context, entity, key string) (string, error) {
	found, err := s.Raw(ctx, entity, key, "")
	if err != nil {
		return "", err
	}
	id := ""
	for _, f := range found {
		if f.Kind != idmap.KindID {
			continue
		}
		if id != "" && f.ID != id {
			return "", fmt.Errorf("partner id of %s %s: %w", entity, key, ErrIDMapAmbiguous)
		}
		id = f.ID
	}
	return id, nil
}

// GetIn is the partner's id of a record of account (in its shard only);
// "" when it has none. A child's parent is in the child's account.
func (s *IDMapStore) GetIn(ctx context.Context, account, entity, key string) (string, error) {
	v, err := s.rdb.HGet(ctx, s.shards.For(account).IDMap(entity), key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("partner id of %s %s: %w", entity, key, err)
	}
	en, err := idmap.Parse(v)
	if err != nil || en.Kind != idmap.KindID {
		return "", err
	}
	return en.ID, nil
}

// IDMapEntry is one record's id map entry in one shard, as operators see
// it (`streamsync idmap get`): the stored value and, when it can be read,
// what it says.
type IDMapEntry struct {
	Shard  int    `json:"shard"`
	Entity string `json:"entity"`
	Key    string `json:"key"`
	Value  string `json:"value"`
	idmap.Entry
	// Error says why Value could not be read ("" when it could).
	Error string `json:"error,omitempty"`
}

func idmapEntry(shard int, entity, key, v string) IDMapEntry {
	en, err := idmap.Parse(v)
	out := IDMapEntry{Shard: shard, Entity: entity, Key: key, Value: v, Entry: en}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// ErrNoIDMapEntry is returned when the id map holds nothing for a record.
var ErrNoIDMapEntry = errors.New("no id map entry")

// ErrIDMapAmbiguous is returned when a record's key has entries in more
// than one shard (records of several accounts) and no account says which.
var ErrIDMapAmbiguous = errors.New("entries in more than one shard; name the account")

// shardsFor is the shards to look in: the account's, or every one ("").
func (s *IDMapStore) shardsFor(account string) []int {
	if account != "" || len(s.shards) == 1 {
		return []int{ShardOf(account, len(s.shards))}
	}
	all := make([]int, len(s.shards))
	for i := range all {
		all[i] = i
	}
	return all
}

// Raw returns the record's entries as stored, one per shard that has one
// (the account's shard only, when account is not ""); none when no shard
// has one.
func (s *IDMapStore) Raw(ctx context.Context, entity, key, account string) ([]IDMapEntry, error) {
	shards := s.shardsFor(account)
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(shards))
	for i, sh := range shards {
		cmds[i] = pipe.HGet(ctx, s.shards[sh].IDMap(entity), key)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("id map of %s %s: %w", entity, key, err)
	}
	var out []IDMapEntry
	for i, c := range cmds {
		if v, err := c.Result(); err == nil {
			out = append(out, idmapEntry(shards[i], entity, key, v))
		}
	}
	return out, nil
}

// shardOf is the one shard whose entry an operation changes: the account's
// (or the only one), else the one shard that has an entry.
func (s *IDMapStore) shardOf(ctx context.Context, entity, key, account string) (int, error) {
	shards := s.shardsFor(account)
	if len(shards) == 1 {
		return shards[0], nil
	}
	found, err := s.Raw(ctx, entity, key, "")
	switch {
	case err != nil:
		return 0, err
	case len(found) == 0:
		return 0, fmt.Errorf("%s %s: %w in any of %d shards (name the account to make one)", entity, key, ErrNoIDMapEntry, len(s.shards))
	case len(found) > 1:
		var in []string
		for _, f := range found {
			in = append(in, strconv.Itoa(f.Shard))
		}
		return 0, fmt.Errorf("%s %s: %w (shards %s)", entity, key, ErrIDMapAmbiguous, strings.Join(in, ", "))
	}
	return found[0].Shard, nil
}

// idmapSetScript replaces an id map entry and returns what it was.
//
// KEYS[1] the entity's id map hash   ARGV[1] record key   ARGV[2] the new value
//
// Returns the entry as it was, or nil when there was none.
var idmapSetScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return cur
`)

// Set gives the record the partner's id ("i|<id>"), whatever its entry
// held (a create in flight, a delete); before is the entry as it was (nil:
// none). Without an account it changes the one shard that has an entry.
func (s *IDMapStore) Set(ctx context.Context, entity, key, account, id string) (before *IDMapEntry, after IDMapEntry, err error) {
	if id == "" {
		return nil, IDMapEntry{}, errors.New("idmap set: the partner's id is empty")
	}
	sh, err := s.shardOf(ctx, entity, key, account)
	if err != nil {
		return nil, IDMapEntry{}, err
	}
	v := idmap.IDValue(id)
	old, err := idmapSetScript.Run(ctx, s.rdb, []string{s.shards[sh].IDMap(entity)}, key, v).Text()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, IDMapEntry{}, fmt.Errorf("idmap set %s %s: %w", entity, key, err)
	}
	if err == nil {
		b := idmapEntry(sh, entity, key, old)
		before = &b
	}
	return before, idmapEntry(sh, entity, key, v), nil
}

// idmapDropScript deletes an id map entry and returns it.
//
// KEYS[1] the entity's id map hash   ARGV[1] record key
//
// Returns the entry as it was, or nil when there was none.
var idmapDropScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then redis.call('HDEL', KEYS[1], ARGV[1]) end
return cur
`)

// Drop deletes the record's entry and returns it: the partner has no id
// for the record as far as streamsync knows, so its next upsert is a
// create (ErrNoIDMapEntry when there was none).
func (s *IDMapStore) Drop(ctx context.Context, entity, key, account string) (IDMapEntry, error) {
	sh, err := s.shardOf(ctx, entity, key, account)
	if err != nil {
		return IDMapEntry{}, err
	}
	old, err := idmapDropScript.Run(ctx, s.rdb, []string{s.shards[sh].IDMap(entity)}, key).Text()
	if errors.Is(err, redis.Nil) {
		return IDMapEntry{}, fmt.Errorf("%s %s: %w in shard %d", entity, key, ErrNoIDMapEntry, sh)
	}
	if err != nil {
		return IDMapEntry{}, fmt.Errorf("idmap drop %s %s: %w", entity, key, err)
	}
	return idmapEntry(sh, entity, key, old), nil
}
