package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/ingest"
	"github.com/streamsync/streamsync/internal/layout"
)

func init() { redis.SetLogger(quietRedis{}) } // go-redis' own dial retries are noise; errors reach us

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// redisPoolSize bounds the connections of a Redis client (of a Cluster
// client: to each node). `streamsync run` has one client, which the
// pipeline, the exporters, the ingest, the outbox relay, reconciliation and
// the rest share; all but the pipeline make few calls at once. go-redis
// dials connections as they are needed, so a command that needs few opens
// few.
const redisPoolSize = 256

// Retries inside go-redis of a command that met a failover's passing errors
// (READONLY, LOADING, TRYAGAIN, CLUSTERDOWN, a refused or reset connection;
// docs/reliability.md): a few, spaced 50 ms doubling to 1 s, so that a short
// promotion passes inside one call (a Sentinel's or a Cluster's; one Redis
// keeps go-redis' defaults). Longer ones are the callers' to wait out
// (internal/redisretry).
const (
	redisMaxRetries      = 5
	redisMinRetryBackoff = 50 * time.Millisecond
	redisMaxRetryBackoff = time.Second
)

// newRedis is a client of one Redis, of a Redis Cluster when the settings
// name one (redis.addrs, redis.cluster; docs/scaling.md), or of the master
// a Redis Sentinel names (redis.sentinel_master, the sentinels in
// redis.addrs; docs/reliability.md): go-redis' failover client, which asks
// the sentinels for the master and follows every promotion. It connects as the ACL
// user redis.username, over TLS when redis.tls or a redis.tls_*_file says
// so (docs/security.md, "Transport"). The error names a TLS file that cannot
// be used; the client dials lazily.
func newRedis(c config.RedisConfig) (redis.UniversalClient, error) {
	tc, err := tlsFor("redis", c.TLSFiles())
	if err != nil {
		return nil, err
	}
	if c.IsSentinel() {
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: c.SentinelMaster, SentinelAddrs: c.Nodes(),
			SentinelUsername: c.SentinelUsername, SentinelPassword: c.SentinelPassword,
			Username: c.Username, Password: c.Password, DB: c.DB, TLSConfig: tc, PoolSize: redisPoolSize,
			MaxRetries: redisMaxRetries, MinRetryBackoff: redisMinRetryBackoff, MaxRetryBackoff: redisMaxRetryBackoff}), nil
	}
	if c.IsCluster() {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Nodes(), Username: c.Username, Password: c.Password,
			TLSConfig: tc, PoolSize: redisPoolSize,
			MaxRetries: redisMaxRetries, MinRetryBackoff: redisMinRetryBackoff, MaxRetryBackoff: redisMaxRetryBackoff}), nil
	}
	return redis.NewClient(&redis.Options{Addr: c.Nodes()[0], Username: c.Username, Password: c.Password, DB: c.DB,
		TLSConfig: tc, PoolSize: redisPoolSize}), nil
}

// shardsOf are the key sets of every shard: exactly the configured names
// with one shard on one Redis, a hash tag per shard otherwise.
func shardsOf(c config.Config) layout.Shards {
	s := c.Stream
	return layout.NewShards(s.Events, s.Group, s.Dead, s.Delayed, s.Retry, s.Shards, s.Shards > 1 || c.Redis.IsCluster())
}

// consumerName is stream.consumer, or the host name.
func consumerName(c config.StreamConfig) string {
	if c.Consumer != "" {
		return c.Consumer
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "streamsync"
}

// pingRedis fails with a message naming redis.addr (or redis.addrs) when
// Redis does not answer; on a Cluster every master must answer. Through a
// Sentinel, the sentinels and the master they name are asked once first
// (firstSentinelError): a TLS or credentials refusal stops start-up at
// once, naming the setting.
func pingRedis(ctx context.Context, rdb redis.UniversalClient, c config.RedisConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	sentinels := false // the sentinels refused, not the master
	if fc, ok := rdb.(*redis.Client); ok && c.IsSentinel() {
		e, s := firstSentinelError(ctx, fc, c)
		if errors.Is(e, errUnknownMaster) {
			return fmt.Errorf("redis.sentinel_master: the sentinels in redis.addrs (%s) know no master named %q", strings.Join(c.Nodes(), ","), c.SentinelMaster)
		}
		if e != nil && connHint(e.Error(), c) != "" {
			err, sentinels = e, s
		}
	}
	switch cc, ok := rdb.(*redis.ClusterClient); {
	case err != nil:
	case ok:
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.Ping(ctx).Err() })
		if err != nil {
			err = firstNodeError(cc, err)
		}
	default:
		err = rdb.Ping(ctx).Err()
	}
	if err != nil {
		if c.IsSentinel() {
			err = fmt.Errorf("redis.sentinel_master %s at the sentinels in redis.addrs %s: %w", c.SentinelMaster, strings.Join(c.Addrs, ","), err)
		} else if len(c.Addrs) > 0 {
			err = fmt.Errorf("redis.addrs %s: %w", strings.Join(c.Addrs, ","), err)
		} else {
			err = fmt.Errorf("redis.addr %s: %w", c.Addr, err)
		}
		if sentinels && isAuthError(err.Error()) {
			return fmt.Errorf("%w\nhint: the sentinels refused the credentials: check redis.sentinel_username and redis.sentinel_password "+
				"(the sentinels' own AUTH; redis.username and redis.password are the master's)", err)
		}
		if h := connHint(err.Error(), c); h != "" {
			return fmt.Errorf("%w\nhint: %s", err, h)
		}
		return err
	}
	return nil
}

// firstNodeError is why the first node of a Cluster refuses a PING asked
// once, without the retries the Cluster client makes (which wait out a
// refused or reset connection until the deadline and leave "context
// deadline exceeded"): a TLS or credentials error says which setting to
// look at. err when that node answers.
func firstNodeError(cc *redis.ClusterClient, err error) error {
	o := cc.Options()
	if len(o.Addrs) == 0 {
		return err
	}
	c := redis.NewClient(&redis.Options{Addr: o.Addrs[0], Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e := c.Ping(ctx).Err(); e != nil {
		return e
	}
	return err
}

// firstSentinelError is why the sentinels, or the master the first
// answering one names, refuse a connection asked once, without the retries
// of the failover client (which wait out a refused connection or a failed
// handshake until the deadline and leave "context deadline exceeded"), so
// that a TLS or credentials error says which setting to look at. A dial or
// handshake gets sentinelDialTimeout. sentinels tells that the sentinels
// refused (their own redis.sentinel_username and redis.sentinel_password);
// errUnknownMaster when the sentinels that answered all know no master
// named redis.sentinel_master (SENTINEL get-master-addr-by-name answers
// nil); nil when a sentinel and its master answer.
func firstSentinelError(ctx context.Context, fc *redis.Client, c config.RedisConfig) (_ error, sentinels bool) {
	o := fc.Options()
	var refused error
	unknown := false // a sentinel answered that it knows no such master
	for _, addr := range c.Nodes() {
		m, err := askMasterAddr(ctx, o, addr, c)
		if errors.Is(err, redis.Nil) {
			unknown = true
			continue
		}
		if err != nil {
			if refused == nil {
				refused = fmt.Errorf("sentinel %s: %w", addr, unanswered(ctx, o, err))
			}
			continue
		}
		if len(m) != 2 {
			return nil, false
		}
		master := net.JoinHostPort(m[0], m[1])
		mc := redis.NewClient(askOnce(o, master, o.Username, o.Password, o.DB))
		defer mc.Close()
		if err := mc.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("the master %s: %w", master, unanswered(ctx, o, err)), false
		}
		return nil, false
	}
	if unknown {
		return errUnknownMaster, false
	}
	return refused, refused != nil
}

// errUnknownMaster is every sentinel that answered knowing no master named
// redis.sentinel_master.
var errUnknownMaster = errors.New("the sentinels know no such master")

// askOnce is the options of a client to addr that asks once, with o's TLS,
// each dial and answer bounded by sentinelDialTimeout.
func askOnce(o *redis.Options, addr, user, pass string, db int) *redis.Options {
	return &redis.Options{Addr: addr, Username: user, Password: pass, DB: db, TLSConfig: o.TLSConfig,
		MaxRetries: -1, DialerRetries: 1, DialTimeout: sentinelDialTimeout, ReadTimeout: sentinelDialTimeout}
}

// sentinelMasterAddr is the address ("host:port") the first sentinel in
// redis.addrs that answers gives for redis.sentinel_master, asked once; ""
// when rdb is not a Sentinel's failover client or no sentinel answers. For
// the start-up log line: the failover client follows every promotion by
// itself.
func sentinelMasterAddr(ctx context.Context, rdb redis.UniversalClient, c config.RedisConfig) string {
	fc, ok := rdb.(*redis.Client)
	if !ok || !c.IsSentinel() {
		return ""
	}
	for _, addr := range c.Nodes() {
		if m, err := askMasterAddr(ctx, fc.Options(), addr, c); err == nil && len(m) == 2 {
			return net.JoinHostPort(m[0], m[1])
		}
	}
	return ""
}

// askMasterAddr asks the sentinel at addr once (askOnce) for the address of
// redis.sentinel_master: [host, port], or redis.Nil when it knows no such
// master.
func askMasterAddr(ctx context.Context, o *redis.Options, addr string, c config.RedisConfig) ([]string, error) {
	sc := redis.NewSentinelClient(askOnce(o, addr, c.SentinelUsername, c.SentinelPassword, 0))
	defer sc.Close()
	return sc.GetMasterAddrByName(ctx, c.SentinelMaster).Result()
}

// errNoHandshake is a TLS dial that got no answer in sentinelDialTimeout.
var errNoHandshake = errors.New("no answer to the TLS handshake")

// unanswered is err, or errNoHandshake wrapping it when a TLS dial timed out
// before ctx did: a server that speaks plain TCP waits for a line that a
// TLS handshake never sends.
func unanswered(ctx context.Context, o *redis.Options, err error) error {
	var ne net.Error
	timedOut := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	if o.TLSConfig != nil && timedOut && ctx.Err() == nil {
		return fmt.Errorf("%w within %s", errNoHandshake, sentinelDialTimeout) // the cause is only the timeout
	}
	return err
}

// sentinelDialTimeout bounds each dial, TLS handshake and answer of
// firstSentinelError: a TLS handshake with a server that speaks plain TCP
// is never answered.
const sentinelDialTimeout = time.Second

// isAuthError says whether msg is Redis refusing the credentials or a
// command (an ACL).
func isAuthError(msg string) bool {
	return strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH") || strings.Contains(msg, "NOPERM")
}

// connHint names the settings to look at when Redis refused the connection
// for its credentials or its TLS (docs/security.md, "Transport"); "" when
// msg shows neither.
func connHint(msg string, c config.RedisConfig) string {
	if strings.Contains(msg, errNoHandshake.Error()) {
		return "the server does not answer a TLS handshake: if it speaks plain TCP on that port, turn redis.tls off (or give its TLS port)"
	}
	if isAuthError(msg) {
		return "Redis refused the credentials or the command: check redis.username and redis.password (or redis.password_file), " +
			"and that the ACL user may run every command and reach every key"
	}
	return tlsHint("redis", c.TLSFiles(), msg)
}

// movedRE matches a Redis Cluster redirection ("MOVED 795 127.0.0.1:17001",
// "ASK 795 …"), which a Cluster node answers a plain client.
var movedRE = regexp.MustCompile(`\b(MOVED|ASK) \d+ \S`)

// withRedisHint adds a hint naming the settings to err when its message
// shows that the settings and the server disagree about being a Redis
// Cluster (docs/scaling.md): MOVED, ASK or CLUSTERDOWN from a Cluster node used
// as one Redis, "cluster support disabled" from one Redis used as a Cluster.
// Other errors (and nil) are returned as they are.
func withRedisHint(err error, c config.RedisConfig) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case !c.IsCluster() && (movedRE.MatchString(msg) || strings.Contains(msg, "CLUSTERDOWN")):
		return fmt.Errorf("%w\nhint: this Redis is a node of a Redis Cluster: list the Cluster's nodes in redis.addrs "+
			"(STREAMSYNC_REDIS__ADDRS=host1:port1,host2:port2,…), or set redis.cluster: true (STREAMSYNC_REDIS__CLUSTER=true) "+
			"to reach the Cluster through redis.addr", err)
	case c.IsCluster() && strings.Contains(msg, "cluster support disabled"):
		return fmt.Errorf("%w\nhint: this Redis is not a Redis Cluster: give its address in redis.addr, "+
			"with redis.addrs empty (or one address) and redis.cluster: false", err)
	}
	return err
}

// replicasOf is redis.wait_replicas and redis.wait_timeout, for the writes
// a producer is told are stored (docs/reliability.md, "Waiting for
// replicas").
func replicasOf(c config.RedisConfig) ingest.Replicas {
	return ingest.Replicas{N: c.WaitReplicas, Timeout: c.WaitTimeout}
}
