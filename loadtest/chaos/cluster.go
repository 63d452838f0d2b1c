package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	old, replica, err := masterAndReplica(ctx, c, slot)
	if err != nil {
		return time.Time{}, "", err
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

// replicaOf is the address of a replica of the master at addr; "" when
// it has none.
func replicaOf(nodes []clusterNode, addr string) string {
	var id string
	for _, n := range nodes {
		if n.addr == addr {
			id = n.id
		}
	}
	for _, n := range nodes {
		if !n.isMaster && n.master == id {
			return n.addr
		}
	}
	return ""
}

// clusterKill: SIGKILL to the master that serves the fault's keys (no
// handover: its replica is promoted once the other masters have not heard
// from it for cluster-node-timeout, 5 s), then scripts/infra.sh up
// cluster starts it again on its nodes.conf and it rejoins as the new
// master's replica. Over when the replica serves the slot; the note says
// how long after the kill that was, and when the killed node was a replica
// in sync again.
func clusterKill(ctx context.Context, s *stage) (time.Time, string, error) {
	c := s.be.client.(*redis.ClusterClient)
	slot := keyslot.Of(eventsKey(s.prefix))
	old, replica, err := masterAndReplica(ctx, c, slot)
	if err != nil {
		return time.Time{}, "", err
	}
	// scripts/infra.sh starts a node again only in its own data directory
	// (nodes.conf there says which cluster it belongs to)
	want, err := filepath.Abs(filepath.Join(filepath.Dir(filepath.Dir(s.cfg.infra)), ".run", "cluster", port(old)))
	if err != nil {
		return time.Time{}, "", err
	}
	n := node(old)
	dir, err := n.ConfigGet(ctx, "dir").Result()
	n.Close()
	if err != nil {
		return time.Time{}, "", err
	}
	if dir["dir"] != want {
		return time.Time{}, "", fmt.Errorf("the node %s lives in %s, not in %s: %s did not start it and cannot start it again", old, dir["dir"], want, s.cfg.infra)
	}
	killed := time.Now()
	if _, err := kill9(ctx, old); err != nil {
		return time.Time{}, "", err
	}
	if err := waitFor(ctx, 60*time.Second, func() bool {
		o, err := slotOwner(ctx, c, slot)
		return err == nil && o == replica
	}); err != nil {
		return time.Time{}, "", fmt.Errorf("%s never took slot %d after %s was killed: %w", replica, slot, old, err)
	}
	over := time.Now()
	promoted := over.Sub(killed)
	ports := make([]string, len(s.cfg.cluster))
	for i, a := range s.cfg.cluster {
		ports[i] = port(a)
	}
	cmd := exec.CommandContext(ctx, s.cfg.infra, "up", "cluster")
	cmd.Env = append(os.Environ(), "STREAMSYNC_DEV_CLUSTER_PORTS="+strings.Join(ports, ","), "STREAMSYNC_DEV_CLUSTER_REPLICAS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return time.Time{}, "", fmt.Errorf("%s up cluster: %w: %s", s.cfg.infra, err, out)
	}
	if err := waitFor(ctx, 60*time.Second, func() bool {
		n := node(old)
		defer n.Close()
		info, err := n.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up") &&
			strings.Contains(info, "master_port:"+port(replica))
	}); err != nil {
		return time.Time{}, "", fmt.Errorf("%s never came back as the replica of %s: %w", old, replica, err)
	}
	return over, fmt.Sprintf("slot %d: %s killed, %s promoted after %s, %s its replica in sync after %s", slot, port(old), port(replica),
		promoted.Round(100*time.Millisecond), port(old), time.Since(killed).Round(100*time.Millisecond)), nil
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

// masterAndReplica names the master serving slot and one of its replicas;
// a master without a replica is an error.
func masterAndReplica(ctx context.Context, c *redis.ClusterClient, slot int) (master, replica string, err error) {
	master, err = slotOwner(ctx, c, slot)
	if err != nil {
		return "", "", err
	}
	nodes, err := clusterNodes(ctx, c)
	if err != nil {
		return "", "", err
	}
	replica = replicaOf(nodes, master)
	if replica == "" {
		return "", "", fmt.Errorf("the master %s of slot %d has no replica", master, slot)
	}
	return master, replica, nil
}
