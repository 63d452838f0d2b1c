package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamsync/streamsync/internal/cutproxy"
)

// faults are the suite's faults, in the order they run.
var faults = []fault{
	{name: "no fault (baseline)", backend: sentinelBackend, apply: func(ctx context.Context, s *stage) (time.Time, string, error) { return time.Now(), "", nil }},
	{name: "Sentinel failover", backend: sentinelBackend, apply: sentinelFailover},
	{name: "SCRIPT FLUSH on every node", backend: sentinelBackend, apply: scriptFlush},
	{name: "DEBUG SLEEP of the primary past the failover timeout", backend: sentinelBackend, apply: debugSleep},
	{name: "kill -9 of Redis (AOF everysec) and restart", backend: aofBackend, apply: killRedis},
	{name: "partner black-holed for 30 s", backend: aofBackend, apply: blackHole},
	{name: "partner connections reset mid-request", backend: aofBackend, apply: resetPartner},
	{name: "Redis connections reset mid-command", backend: proxiedRedisBackend, apply: resetRedis},
	{name: "partner link slow for 20 s", backend: aofBackend, apply: slowPartner},
	{name: "Redis link slow for 20 s", backend: proxiedRedisBackend, apply: slowRedis},
	{name: "CLUSTER FAILOVER of the keys' master", backend: clusterBackend, apply: clusterFailover},
	{name: "live reshard (redis-cli --cluster reshard)", backend: clusterBackend, apply: reshard},
	{name: "kill -9 of the keys' Cluster master", backend: clusterBackend, apply: clusterKill},
	{name: "ClickHouse connection cut between insert and answer", backend: aofBackend, apply: cutInsertAnswers, attempts: true},
	{name: "PostgreSQL restart mid-batch (outbox relay)", backend: sentinelBackend, apply: restartPostgres, outbox: true},
	{name: "ClickHouse and PostgreSQL links slow for 20 s", backend: sentinelBackend, apply: slowStores, attempts: true, outbox: true, postgresProxy: true},
}

// sentinelBackend is the suite's own Sentinel set, healthy (every
// sentinel names one master, which has its replica online), with
// redis.wait_replicas 1.
func sentinelBackend(cfg config) (backend, error) {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: cfg.sentinelMaster, SentinelAddrs: cfg.sentinels})
	be := backend{client: c, wait: 1, env: []string{
		"STREAMSYNC_REDIS__SENTINEL_MASTER=" + cfg.sentinelMaster, "STREAMSYNC_REDIS__ADDRS=" + strings.Join(cfg.sentinels, ","),
		"STREAMSYNC_REDIS__ADDR=",
	}}
	if err := waitFor(context.Background(), 60*time.Second, func() bool { return sentinelHealthy(cfg) }); err != nil {
		c.Close()
		return backend{}, fmt.Errorf("the Sentinel set on %s has no master with an online replica: %w", strings.Join(cfg.sentinels, ","), err)
	}
	return be, nil
}

func sentinelHealthy(cfg config) bool {
	m, err := masterAddr(cfg, cfg.sentinels[0])
	if err != nil {
		return false
	}
	for _, s := range cfg.sentinels[1:] {
		if o, err := masterAddr(cfg, s); err != nil || o != m {
			return false
		}
	}
	n := node(m)
	defer n.Close()
	info, err := n.Info(context.Background(), "replication").Result()
	return err == nil && strings.Contains(info, "role:master") && strings.Contains(info, "state=online")
}

func masterAddr(cfg config, sentinel string) (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: sentinel, MaxRetries: -1})
	defer c.Close()
	a, err := c.GetMasterAddrByName(context.Background(), cfg.sentinelMaster).Result()
	if err != nil {
		return "", err
	}
	return a[0] + ":" + a[1], nil
}

func node(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
}

// waitPromoted waits until the sentinels name a master other than old that
// says it is one.
func waitPromoted(ctx context.Context, cfg config, old string) (string, error) {
	var now string
	err := waitFor(ctx, 60*time.Second, func() bool {
		var err error
		now, err = masterAddr(cfg, cfg.sentinels[0])
		if err != nil || now == old {
			return false
		}
		n := node(now)
		defer n.Close()
		role, err := n.Do(ctx, "ROLE").Slice()
		return err == nil && len(role) > 0 && role[0] == "master"
	})
	return now, err
}

// sentinelFailover: SENTINEL FAILOVER; over when the replica is master.
func sentinelFailover(ctx context.Context, s *stage) (time.Time, string, error) {
	old, err := masterAddr(s.cfg, s.cfg.sentinels[0])
	if err != nil {
		return time.Time{}, "", err
	}
	c := redis.NewSentinelClient(&redis.Options{Addr: s.cfg.sentinels[0]})
	defer c.Close()
	if err := c.Failover(ctx, s.cfg.sentinelMaster).Err(); err != nil {
		return time.Time{}, "", fmt.Errorf("SENTINEL FAILOVER: %w", err)
	}
	now, err := waitPromoted(ctx, s.cfg, old)
	return time.Now(), fmt.Sprintf("%s → %s", port(old), port(now)), err
}

// scriptFlush: SCRIPT FLUSH on the master and the replica, five times
// 400 ms apart.
func scriptFlush(ctx context.Context, s *stage) (time.Time, string, error) {
	m, err := masterAddr(s.cfg, s.cfg.sentinels[0])
	if err != nil {
		return time.Time{}, "", err
	}
	addrs := append([]string{m}, s.cfg.sentinelRedis...)
	for i := range 5 {
		if i > 0 {
			sleep(ctx, 400*time.Millisecond)
		}
		for _, a := range addrs {
			n := node(a)
			err := n.ScriptFlush(ctx).Err()
			n.Close()
			if err != nil {
				return time.Time{}, "", fmt.Errorf("SCRIPT FLUSH on %s: %w", a, err)
			}
		}
	}
	return time.Now(), "5 flushes, 400 ms apart", nil
}

// debugSleep: DEBUG SLEEP of the master for three times the sentinels'
// down-after (1 s), so that they promote the replica while it sleeps; over
// when the old master has woken and answers as a replica.
func debugSleep(ctx context.Context, s *stage) (time.Time, string, error) {
	old, err := masterAddr(s.cfg, s.cfg.sentinels[0])
	if err != nil {
		return time.Time{}, "", err
	}
	const secs = 6
	n := node(old)
	defer n.Close()
	slept := make(chan error, 1)
	go func() { slept <- n.Do(context.Background(), "DEBUG", "SLEEP", secs).Err() }()
	select {
	case err := <-slept:
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
			return time.Time{}, "", fmt.Errorf("DEBUG SLEEP on %s: %w (it needs enable-debug-command local: scripts/infra.sh writes it into a new redis.conf; remove the old one under .run/sentinel/)", old, err)
		}
	case <-time.After(500 * time.Millisecond): // asleep
	}
	now, err := waitPromoted(ctx, s.cfg, old)
	if err != nil {
		return time.Time{}, "", err
	}
	if err := waitFor(ctx, 60*time.Second, func() bool {
		c := node(old)
		defer c.Close()
		role, err := c.Do(ctx, "ROLE").Slice()
		return err == nil && len(role) > 0 && role[0] == "slave"
	}); err != nil {
		return time.Time{}, "", fmt.Errorf("the old master %s never came back as a replica: %w", old, err)
	}
	return time.Now(), fmt.Sprintf("%d s; %s → %s", secs, port(old), port(now)), nil
}

// aofBackend is the suite's own Redis with AOF fsynced every second, and
// no replica: redis.wait_replicas 0.
func aofBackend(cfg config) (backend, error) {
	c := redis.NewClient(&redis.Options{Addr: cfg.aofRedis})
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		return backend{}, err
	}
	return backend{client: c, wait: 0, env: []string{"STREAMSYNC_REDIS__ADDR=" + cfg.aofRedis}}, nil
}

// killRedis: SIGKILL to the Redis, then scripts/infra.sh up redis starts it
// again on its AOF; over when it answers PING.
func killRedis(ctx context.Context, s *stage) (time.Time, string, error) {
	if _, err := kill9(ctx, s.cfg.aofRedis); err != nil {
		return time.Time{}, "", err
	}
	sleep(ctx, time.Second) // down a moment, as a crashed server is
	cmd := exec.CommandContext(ctx, s.cfg.infra, "up", "redis")
	cmd.Env = append(os.Environ(), "STREAMSYNC_DEV_REDIS_PORT="+port(s.cfg.aofRedis))
	if out, err := cmd.CombinedOutput(); err != nil {
		return time.Time{}, "", fmt.Errorf("%s up redis: %w: %s", s.cfg.infra, err, out)
	}
	if err := waitFor(ctx, 60*time.Second, func() bool {
		c := node(s.cfg.aofRedis)
		defer c.Close()
		return c.Ping(ctx).Err() == nil
	}); err != nil {
		return time.Time{}, "", err
	}
	return time.Now(), "down 1 s", nil
}

// kill9 sends SIGKILL to the Redis at addr (its process_id from INFO) and
// returns, with its pid, once the process is gone (its port free).
func kill9(ctx context.Context, addr string) (int, error) {
	n := node(addr)
	info, err := n.Info(ctx, "server").Result()
	n.Close()
	if err != nil {
		return 0, err
	}
	pid := 0
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		return 0, fmt.Errorf("no process_id in the INFO of %s", addr)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	return pid, waitFor(ctx, 10*time.Second, func() bool { return syscall.Kill(pid, 0) != nil })
}

// blackHole: the proxy between streamsync and the partner swallows every
// byte and answers no new connection for 30 s, then closes what lived
// through it.
func blackHole(ctx context.Context, s *stage) (time.Time, string, error) {
	s.proxy.BlackHole()
	sleep(ctx, s.cfg.hole)
	s.proxy.Restore()
	return time.Now(), "", nil
}

func port(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

// resets is how many times a reset fault cuts every connection;
// resetEvery, how far apart.
const (
	resets     = 10
	resetEvery = 500 * time.Millisecond
)

// resetPartner closes every connection between streamsync and the
// partner, requests and answers in the middle included, ten times 500 ms
// apart.
func resetPartner(ctx context.Context, s *stage) (time.Time, string, error) {
	for range resets {
		s.proxy.Cut()
		s.proxy.Restore()
		sleep(ctx, resetEvery)
	}
	return time.Now(), fmt.Sprintf("%d times, %s apart", resets, resetEvery), nil
}

// proxiedRedisBackend is the AOF Redis reached through a proxy the fault
// cuts (redis.wait_replicas 0: it has no replica).
func proxiedRedisBackend(cfg config) (backend, error) {
	be, err := aofBackend(cfg)
	if err != nil {
		return backend{}, err
	}
	p, err := cutproxy.New(cfg.aofRedis)
	if err != nil {
		be.client.Close()
		return backend{}, err
	}
	be.redisProxy = p
	be.env = []string{"STREAMSYNC_REDIS__ADDR=" + p.Addr()}
	return be, nil
}

// resetRedis closes every connection between streamsync and Redis (its
// blocked reads, pipelines and scripts in flight among them), ten times
// 500 ms apart.
func resetRedis(ctx context.Context, s *stage) (time.Time, string, error) {
	for range resets {
		s.be.redisProxy.Cut()
		s.be.redisProxy.Restore()
		sleep(ctx, resetEvery)
	}
	return time.Now(), fmt.Sprintf("%d times, %s apart", resets, resetEvery), nil
}

// slowFor is how long a slow-link fault lasts.
const slowFor = 20 * time.Second

// slowPartner: 200 ms more each way on the partner's link, at 64 KB/s,
// for 20 s.
func slowPartner(ctx context.Context, s *stage) (time.Time, string, error) {
	s.proxy.Slow(200*time.Millisecond, 64<<10)
	sleep(ctx, slowFor)
	s.proxy.Slow(0, 0)
	return time.Now(), "200 ms each way, 64 KB/s", nil
}

// slowRedis: 20 ms more each way on Redis' link, at 1 MB/s, for 20 s.
func slowRedis(ctx context.Context, s *stage) (time.Time, string, error) {
	s.be.redisProxy.Slow(20*time.Millisecond, 1<<20)
	sleep(ctx, slowFor)
	s.be.redisProxy.Slow(0, 0)
	return time.Now(), "20 ms each way, 1 MB/s", nil
}

// slowStores: 200 ms more each way on every chunk, at 64 KB/s, on the
// attempt-log exporter's link to ClickHouse and on the outbox relay's link
// to PostgreSQL, for 20 s.
func slowStores(ctx context.Context, s *stage) (time.Time, string, error) {
	s.ch.proxy.Slow(200*time.Millisecond, 64<<10)
	s.pg.Slow(200*time.Millisecond, 64<<10)
	sleep(ctx, slowFor)
	s.ch.proxy.Slow(0, 0)
	s.pg.Slow(0, 0)
	return time.Now(), "200 ms each way, 64 KB/s", nil
}
