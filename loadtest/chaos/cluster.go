package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamsync/streamsync/internal/keyslot"
	"github.com/streamsync/streamsync/internal/layout"
)

// reshardSlots is how many slots the live reshard moves: the lowest ones
// of the master that owns the fault's keys, the fault's slot among them.
const reshardSlots = 50

// clusterBackend is the suite's own Redis Cluster (three masters, a
// replica each), every master with its replica in sync, with
// redis.wait_replicas 1; its prefix puts the fault's keys (one shard) in
// one of the lowest slots of the master that owns them, so that the
// reshard moves them.
func clusterBackend(cfg config) (backend, error) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cfg.cluster})
	if err := waitFor(context.Background(), 60*time.Second, func() bool { return clusterHealthy(c) }); err != nil {
		c.Close()
		return backend{}, fmt.Errorf("the Redis Cluster on %s has a master without a replica in sync: %w", strings.Join(cfg.cluster, ","), err)
	}
	be := backend{client: c, wait: 1, env: []string{
		"STREAMSYNC_REDIS__ADDRS=" + strings.Join(cfg.cluster, ","), "STREAMSYNC_REDIS__CLUSTER=true", "STREAMSYNC_REDIS__ADDR=",
	}}
	be.prefix = func(base string) (string, error) { return lowSlotPrefix(c, base) }
	return be, nil
}

// clusterHealthy: every slot served, every master has a replica whose
// link is up.
func clusterHealthy(c *redis.ClusterClient) bool {
	ctx := context.Background()
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil || len(slots) == 0 {
		return false
	}
	covered := 0
	for _, s := range slots {
		covered += s.End - s.Start + 1
		if len(s.Nodes) < 2 {
			return false
		}
	}
	if covered != keyslot.Slots {
		return false
	}
	err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		info, err := m.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "state=online") {
			return fmt.Errorf("no replica online")
		}
		return nil
	})
	return err == nil
}

// eventsKey is the events stream's name on a Cluster for a prefix (one
// shard), as streamsync makes it.
func eventsKey(prefix string) string {
	return layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", 1, true)[0].Events
}

// lowSlotPrefix is base with a hash tag ({base-k}) whose slot is among the
// reshardSlots lowest of the master that owns it.
func lowSlotPrefix(c *redis.ClusterClient, base string) (string, error) {
	slots, err := c.ClusterSlots(context.Background()).Result()
	if err != nil {
		return "", err
	}
	owned := map[string][]int{} // master → its slots, ascending
	owner := make([]string, keyslot.Slots)
	for _, s := range slots {
		m := s.Nodes[0].Addr
		for i := s.Start; i <= s.End; i++ {
			owner[i] = m
		}
	}
	for i, m := range owner {
		owned[m] = append(owned[m], i)
	}
	for k := 0; k < 1_000_000; k++ {
		p := fmt.Sprintf("chaos:{%s-%d}:", base, k)
		s := keyslot.Of(eventsKey(p))
		if mine := owned[owner[s]]; len(mine) > reshardSlots && s <= mine[reshardSlots-1] {
			return p, nil
		}
	}
	return "", fmt.Errorf("no tag for %s in the lowest slots of its master", base)
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, master string // master: the master's id, for a replica
	isMaster         bool
}

func clusterNodes(ctx context.Context, c *redis.ClusterClient) ([]clusterNode, error) {
	txt, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []clusterNode
	for _, l := range strings.Split(strings.TrimSpace(txt), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		out = append(out, clusterNode{id: f[0], addr: addr, master: f[3], isMaster: strings.Contains(f[2], "master")})
	}
	return out, nil
}

// slotOwner is the master (address) that serves slot.
func slotOwner(ctx context.Context, c *redis.ClusterClient, slot int) (string, error) {
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, s := range slots {
		if slot >= s.Start && slot <= s.End {
			return s.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("slot %d is served by no one", slot)
}

// clusterFailover: CLUSTER FAILOVER on the replica of the master that
// serves the fault's keys; over when it serves their slot.
func clusterFailover(ctx context.Context, s *stage) (time.Time, string, error) {
	c := s.be.client.(*redis.ClusterClient)
	slot := keyslot.Of(eventsKey(s.prefix))
	old, err := slotOwner(ctx, c, slot)
	if err != nil {
		return time.Time{}, "", err
	}
	nodes, err := clusterNodes(ctx, c)
	if err != nil {
		return time.Time{}, "", err
	}
	var oldID, replica string
	for _, n := range nodes {
		if n.addr == old {
			oldID = n.id
		}
	}
	for _, n := range nodes {
		if !n.isMaster && n.master == oldID {
			replica = n.addr
		}
	}
	if replica == "" {
		return time.Time{}, "", fmt.Errorf("the master %s of slot %d has no replica", old, slot)
	}
	r := node(replica)
	defer r.Close()
	if err := r.ClusterFailover(ctx).Err(); err != nil {
		return time.Time{}, "", fmt.Errorf("CLUSTER FAILOVER on %s: %w", replica, err)
	}
	if err := waitFor(ctx, 60*time.Second, func() bool {
		o, err := slotOwner(ctx, c, slot)
		return err == nil && o == replica
	}); err != nil {
		return time.Time{}, "", fmt.Errorf("%s never took slot %d: %w", replica, slot, err)
	}
	return time.Now(), fmt.Sprintf("slot %d: %s → %s", slot, port(old), port(replica)), nil
}

// reshard: `redis-cli --cluster reshard` moves the reshardSlots lowest
// slots of the master that serves the fault's keys, theirs among them, to
// another master; over when it returns.
func reshard(ctx context.Context, s *stage) (time.Time, string, error) {
	c := s.be.client.(*redis.ClusterClient)
	slot := keyslot.Of(eventsKey(s.prefix))
	old, err := slotOwner(ctx, c, slot)
	if err != nil {
		return time.Time{}, "", err
	}
	nodes, err := clusterNodes(ctx, c)
	if err != nil {
		return time.Time{}, "", err
	}
	var from, to, toAddr string
	for _, n := range nodes {
		switch {
		case n.isMaster && n.addr == old:
			from = n.id
		case n.isMaster && to == "":
			to, toAddr = n.id, n.addr
		}
	}
	if from == "" || to == "" {
		return time.Time{}, "", fmt.Errorf("no master to move slot %d from %s to", slot, old)
	}
	cmd := exec.CommandContext(ctx, "redis-cli", "--cluster", "reshard", old, "--cluster-from", from, "--cluster-to", to,
		"--cluster-slots", fmt.Sprint(reshardSlots), "--cluster-yes", "--cluster-pipeline", "100")
	if out, err := cmd.CombinedOutput(); err != nil {
		return time.Time{}, "", fmt.Errorf("redis-cli --cluster reshard: %w: %s", err, tail(string(out), 2000))
	}
	if o, err := slotOwner(ctx, c, slot); err != nil || o != toAddr {
		return time.Time{}, "", fmt.Errorf("slot %d is on %s (%v) after the reshard, not on %s", slot, o, err, toAddr)
	}
	return time.Now(), fmt.Sprintf("%d slots, %d among them: %s → %s", reshardSlots, slot, port(old), port(toAddr)), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
