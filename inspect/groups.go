package inspect

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
)

// StrayGroup is a consumer group on an events stream that belongs to no
// configured partner: most often a partner removed from the configuration.
// Trimming keeps every entry it has not acked, so it holds the stream's
// trimming back until it is retired (docs/operations.md, "Removing a
// partner").
type StrayGroup struct {
	Group  string `json:"group"`
	Stream string `json:"stream"`
	Shard  int    `json:"shard"`
	// Lag is the entries it has not read yet; -1 when Redis cannot tell
	// (entries were deleted out of order). Pending the entries it read
	// and never acked.
	Lag       int64 `json:"lag"`
	Pending   int64 `json:"pending"`
	Consumers int64 `json:"consumers"`
	// Partner is the name `streamsync partner retire` takes: the part
	// after "<stream.group>:"; "" for a group not named like a partner's.
	Partner string `json:"partner,omitempty"`
}

// Behind is the entries the group holds back: its lag and its pending
// entries (lag unknown counts as 0).
func (g StrayGroup) Behind() int64 { return max(g.Lag, 0) + g.Pending }

// StrayGroups reads the consumer groups of every shard's events stream
// (shards: the shard key sets, layout.NewShards) in one pipelined round
// trip and returns those not in known (the groups of the configured
// partners), shard by shard. group is stream.group, whose "<group>:<name>"
// groups are partners'.
func StrayGroups(ctx context.Context, rdb redis.UniversalClient, shards layout.Shards, group string, known []string) ([]StrayGroup, error) {
	pipe := rdb.Pipeline()
	infos := make([]*redis.XInfoGroupsCmd, len(shards))
	for i, k := range shards {
		infos[i] = pipe.XInfoGroups(ctx, k.Events)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNoStream(err) {
		return nil, fmt.Errorf("consumer groups: %w", err)
	}
	var out []StrayGroup
	for i, k := range shards {
		for _, g := range infos[i].Val() {
			if slices.Contains(known, g.Name) {
				continue
			}
			sg := StrayGroup{Group: g.Name, Stream: k.Events, Shard: i, Lag: g.Lag, Pending: g.Pending, Consumers: g.Consumers}
			if name, ok := strings.CutPrefix(g.Name, group+":"); ok && name != "" {
				sg.Partner = name
			}
			out = append(out, sg)
		}
	}
	return out, nil
}

// CountStrayGroups is how many consumer groups StrayGroups finds, each
// group counted once however many shards it is on: the gauge
// streamsync_stream_groups_unconfigured.
func CountStrayGroups(ctx context.Context, rdb redis.UniversalClient, shards layout.Shards, group string, known []string) (int, error) {
	gs, err := StrayGroups(ctx, rdb, shards, group, known)
	seen := map[string]bool{}
	for _, g := range gs {
		seen[g.Group] = true
	}
	return len(seen), err
}
