package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
)

// retireLiveIdle: a consumer of the group that touched the stream more
// recently than this belongs to a process still running the partner, and
// `partner retire` refuses without --force. A running pipeline reads
// every few seconds.
const retireLiveIdle = 2 * time.Minute

var partnerNameRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// retireAnswer is `partner retire --format json`.
type retireAnswer struct {
	Partner string `json:"partner"`
	Group   string `json:"group"`
	// GroupsDestroyed counts the shards whose events stream had the group.
	GroupsDestroyed int `json:"groups_destroyed"`
	// Released is the entries the group held back (lag and pending).
	Released    int64 `json:"entries_released"`
	KeysDeleted int64 `json:"keys_deleted"`
}

// retirePartner is `streamsync partner retire NAME [--drop-state]
// [--force]` (docs/operations.md, "Removing a partner"): a partner taken
// out of the settings still has a consumer group on every shard's events
// stream, and trimming keeps every entry a group has not acked, so it
// destroys that group; with --drop-state it deletes every key of the
// partner too (ledger, id map, dead letters, …). It refuses a partner
// still configured, and one whose group had a consumer active within
// retireLiveIdle, unless --force.
func retirePartner(ctx context.Context, e *env) error {
	if e.fs.NArg() != 2 {
		return errors.New("partner retire: want the partner's name, as in `streamsync partner retire erp`")
	}
	name := e.fs.Arg(1)
	drop, _ := e.fs.GetBool("drop-state")
	force, _ := e.fs.GetBool("force")
	if !partnerNameRe.MatchString(name) {
		return fmt.Errorf("partner retire: %q is not a partner's name ([a-z0-9_-]{1,64})", name)
	}
	plans := partnerPlans(e.cfg, shardsOf(e.cfg))
	for _, pl := range plans {
		if pl.name == name {
			if pl.legacy {
				return fmt.Errorf("partner retire: %q is the partner of sink.* (sink.partner_name), still configured; its state is the shard's own", name)
			}
			return fmt.Errorf("partner retire: %q is still configured (%s.*); take it out of the settings and restart streamsync first", name, pl.sink.Setting)
		}
	}
	shards := shardsOf(e.cfg).ForPartner(name)
	group := shards[0].Group
	rdb, err := connectRedis(ctx, e.cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if !force {
		if err := refuseLive(ctx, rdb, shards, name); err != nil {
			return err
		}
	}
	a := retireAnswer{Partner: name, Group: group}
	for _, k := range shards {
		behind, found, err := groupBehind(ctx, rdb, k)
		if err != nil {
			return fmt.Errorf("partner retire %s: %w", name, err)
		}
		if !found {
			continue
		}
		if err := rdb.XGroupDestroy(ctx, k.Events, group).Err(); err != nil {
			return fmt.Errorf("partner retire %s: destroy group %s on %s: %w", name, group, k.Events, err)
		}
		a.GroupsDestroyed++
		a.Released += behind
	}
	if drop {
		for _, k := range shards {
			n, err := deleteMatching(ctx, rdb, k.StatePattern())
			a.KeysDeleted += n
			if err != nil {
				return fmt.Errorf("partner retire %s: delete its keys (%d deleted so far): %w", name, a.KeysDeleted, err)
			}
		}
	}
	if a.GroupsDestroyed == 0 && a.KeysDeleted == 0 {
		names := make([]string, len(plans))
		for i, pl := range plans {
			names[i] = pl.name
		}
		what := "no consumer group " + group + " on the events stream"
		if drop {
			what += " and no keys"
		}
		return fmt.Errorf("partner retire %s: %s: nothing to retire (configured partners: %s)", name, what, strings.Join(names, ", "))
	}
	e.log.Info("partner retired", "partner", name, "group", group, "groups_destroyed", a.GroupsDestroyed,
		"entries_released", a.Released, "keys_deleted", a.KeysDeleted)
	if e.format == "json" {
		return json.NewEncoder(e.out).Encode(a)
	}
	fmt.Fprintf(e.out, "partner %s retired: consumer group %s destroyed on %d of %d shards (%d entries no longer held back)\n",
		name, group, a.GroupsDestroyed, len(shards), a.Released)
	if drop {
		fmt.Fprintf(e.out, "keys deleted: %d\n", a.KeysDeleted)
	}
	return nil
}

// refuseLive is an error naming a consumer of the partner's group that was
// active within retireLiveIdle on any shard; nil when none was.
func refuseLive(ctx context.Context, rdb redis.UniversalClient, shards layout.Shards, name string) error {
	for _, k := range shards {
		cs, err := rdb.XInfoConsumers(ctx, k.Events, k.Group).Result()
		if isNoGroup(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("partner retire %s: consumers of %s: %w", name, k.Group, err)
		}
		for _, c := range cs {
			if c.Idle < retireLiveIdle {
				return fmt.Errorf("partner retire %s: consumer %s of group %s read %s ago: a process still runs this partner; stop it (or wait %s) or give --force",
					name, c.Name, k.Group, c.Idle.Round(time.Millisecond), retireLiveIdle)
			}
		}
	}
	return nil
}

// groupBehind is the entries k.Group holds back on k.Events (lag, unknown
// counted 0, and pending); found is false when the stream has no such group.
func groupBehind(ctx context.Context, rdb redis.UniversalClient, k layout.Keys) (behind int64, found bool, err error) {
	gs, err := rdb.XInfoGroups(ctx, k.Events).Result()
	if isNoGroup(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	for _, g := range gs {
		if g.Name == k.Group {
			return max(g.Lag, 0) + g.Pending, true, nil
		}
	}
	return 0, false, nil
}

// isNoGroup is the error of XINFO on a stream or group that does not exist.
func isNoGroup(err error) bool {
	return err != nil && (errors.Is(err, redis.Nil) || strings.Contains(err.Error(), "no such key") || strings.HasPrefix(err.Error(), "NOGROUP"))
}

// deleteMatching deletes every key that matches pattern (SCAN MATCH), on
// every master of a Redis Cluster, a batch of single-key UNLINKs at a time
// (a Cluster node cannot take one UNLINK of keys in several slots), and
// returns how many it deleted.
func deleteMatching(ctx context.Context, rdb redis.UniversalClient, pattern string) (int64, error) {
	var total int64
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 500).Iterator()
		var batch []string
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			pipe := c.Pipeline()
			cmds := make([]*redis.IntCmd, len(batch))
			for i, key := range batch {
				cmds[i] = pipe.Unlink(ctx, key)
			}
			_, err := pipe.Exec(ctx)
			for _, cmd := range cmds {
				total += cmd.Val()
			}
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 500 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return flush()
	}
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err := c.ForEachMaster(ctx, del)
		return total, err
	case *redis.Client:
		err := del(ctx, c)
		return total, err
	}
	return 0, fmt.Errorf("delete keys: a %T is not supported", rdb)
}
