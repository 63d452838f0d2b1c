package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Environment of the test Sentinel (`scripts/infra.sh up sentinel`, which
// `make test` starts): the sentinels (comma-separated host:port) and the
// name of the master they watch.
const (
	RedisSentinelAddrsEnv  = "STREAMSYNC_TEST_REDIS_SENTINEL_ADDRS"
	RedisSentinelMasterEnv = "STREAMSYNC_TEST_REDIS_SENTINEL_MASTER"
)

// SentinelEnv is the test Sentinel's sentinels and master name. The test
// is skipped with -short and fails when the variables are not set.
func SentinelEnv(tb testing.TB) (addrs []string, master string) {
	tb.Helper()
	a := addr(tb, RedisSentinelAddrsEnv)
	m := os.Getenv(RedisSentinelMasterEnv)
	if m == "" {
		tb.Fatalf("%s is not set: run `make test`, or `scripts/infra.sh up sentinel` and `eval \"$(scripts/infra.sh env)\"`", RedisSentinelMasterEnv)
	}
	return strings.Split(a, ","), m
}

// SentinelSet is the test Sentinel, held by one test at a time (tests fail
// it over and stop its replica): Sentinel waits for the others' to end.
type SentinelSet struct {
	Addrs  []string
	Master string
	// Client is a failover client of the master, closed when the test ends.
	Client *redis.Client
}

// Sentinel takes the test Sentinel for tb (an exclusive lock, across test
// processes too) once its master has an online replica, and returns it.
func Sentinel(tb testing.TB) *SentinelSet {
	tb.Helper()
	addrs, master := SentinelEnv(tb)
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "streamsync-sentinel-"+strings.ReplaceAll(addrs[0], ":", "-")+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); _ = lock.Close() })
	s := &SentinelSet{Addrs: addrs, Master: master,
		Client: redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: addrs})}
	tb.Cleanup(func() { _ = s.Client.Close() })
	s.WaitHealthy(tb)
	return s
}

// WaitHealthy waits (at most 30 s) until every sentinel names the same
// master, which says it is the master and has a replica online, and which
// the failover client reaches.
func (s *SentinelSet) WaitHealthy(tb testing.TB) {
	tb.Helper()
	WaitFor(tb, 30*time.Second, "the test Sentinel's master with an online replica", func() bool {
		m, err := s.MasterAddr()
		if err != nil {
			return false
		}
		for _, a := range s.Addrs {
			c := s.sentinel(a)
			o, err := c.GetMasterAddrByName(context.Background(), s.Master).Result()
			_ = c.Close()
			if err != nil || o[0]+":"+o[1] != m {
				return false
			}
		}
		n := s.node(m)
		defer n.Close()
		info, err := n.Info(context.Background(), "replication").Result()
		if err != nil || !strings.Contains(info, "role:master") || !strings.Contains(info, "state=online") {
			return false
		}
		return s.Client.Ping(context.Background()).Err() == nil
	})
}

func (s *SentinelSet) sentinel(addr string) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
}

func (s *SentinelSet) node(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
}

// MasterAddr is the master the first sentinel names.
func (s *SentinelSet) MasterAddr() (string, error) {
	c := s.sentinel(s.Addrs[0])
	defer c.Close()
	a, err := c.GetMasterAddrByName(context.Background(), s.Master).Result()
	if err != nil {
		return "", err
	}
	return a[0] + ":" + a[1], nil
}

// ReplicaAddr is the master's replica.
func (s *SentinelSet) ReplicaAddr(tb testing.TB) string {
	tb.Helper()
	c := s.sentinel(s.Addrs[0])
	defer c.Close()
	rs, err := c.Replicas(context.Background(), s.Master).Result()
	if err != nil || len(rs) == 0 {
		tb.Fatalf("replicas of %s: %v %v", s.Master, rs, err)
	}
	return rs[0]["ip"] + ":" + rs[0]["port"]
}

// Failover has the sentinels promote the replica (SENTINEL FAILOVER) and
// waits until the new master takes writes through the failover client; it
// returns the new master's address.
func (s *SentinelSet) Failover(tb testing.TB) string {
	tb.Helper()
	old, err := s.MasterAddr()
	if err != nil {
		tb.Fatal(err)
	}
	c := s.sentinel(s.Addrs[0])
	defer c.Close()
	if err := c.Failover(context.Background(), s.Master).Err(); err != nil {
		tb.Fatalf("SENTINEL FAILOVER %s: %v", s.Master, err)
	}
	var now string
	WaitFor(tb, 30*time.Second, "the replica promoted", func() bool {
		now, err = s.MasterAddr()
		if err != nil || now == old {
			return false
		}
		n := s.node(now)
		defer n.Close()
		role, err := n.Do(context.Background(), "ROLE").Slice()
		return err == nil && len(role) > 0 && role[0] == "master"
	})
	return now
}

// StopReplica stops the replica's process (SIGSTOP), so that it
// acknowledges nothing, until resume is called or the test ends (SIGCONT);
// it returns the replica's address and pid.
func (s *SentinelSet) StopReplica(tb testing.TB) (replica string, resume func()) {
	tb.Helper()
	addr := s.ReplicaAddr(tb)
	n := s.node(addr)
	defer n.Close()
	info, err := n.Info(context.Background(), "server").Result()
	if err != nil {
		tb.Fatal(err)
	}
	pid := 0
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid == 0 {
		tb.Fatalf("no process_id in the INFO of %s", addr)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		tb.Fatalf("stop the replica %s (pid %d): %v", addr, pid, err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				tb.Errorf("continue the replica %s (pid %d): %v", addr, pid, err)
			}
		})
	}
	tb.Cleanup(resume)
	return fmt.Sprintf("%s (pid %d)", addr, pid), resume
}
