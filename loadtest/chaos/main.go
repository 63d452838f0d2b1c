package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// config is the suite's settings (flags).
type config struct {
	bin, infra, dir string
	sentinels       []string // the suite's sentinels, host:port
	sentinelRedis   []string // the Redis servers they watch
	sentinelMaster  string
	aofRedis        string
	clickhouse      string
	postgres        string // DSN of the suite's own PostgreSQL
	postgresPort    string
	cluster         []string // the suite's Redis Cluster, every node
	rate, keys      int
	before, after   time.Duration
	drain, hole     time.Duration
	only            string
}

func main() {
	var cfg config
	var sentinels, sentinelRedis, cluster string
	flag.StringVar(&cfg.bin, "bin", ".run/chaos/streamsync", "the streamsync binary")
	flag.StringVar(&cfg.infra, "infra", "scripts/infra.sh", "the script that starts the servers (restarts the killed Redis)")
	flag.StringVar(&cfg.dir, "dir", ".run/chaos", "where each fault's streamsync log goes")
	flag.StringVar(&sentinels, "sentinels", "127.0.0.1:26410,127.0.0.1:26411,127.0.0.1:26412", "the suite's sentinels")
	flag.StringVar(&sentinelRedis, "sentinel-redis", "127.0.0.1:16410,127.0.0.1:16411", "the Redis servers they watch")
	flag.StringVar(&cfg.sentinelMaster, "sentinel-master", "streamsync-test", "the master's name at the sentinels")
	flag.StringVar(&cfg.aofRedis, "aof-redis", "127.0.0.1:16420", "the Redis with AOF everysec that the suite kills")
	flag.StringVar(&cfg.clickhouse, "clickhouse", "127.0.0.1:19000", "the ClickHouse of the attempt log (a database of its own per fault)")
	flag.StringVar(&cluster, "cluster", "127.0.0.1:17101,127.0.0.1:17102,127.0.0.1:17103,127.0.0.1:17104,127.0.0.1:17105,127.0.0.1:17106", "the suite's Redis Cluster (three masters with a replica each)")
	flag.StringVar(&cfg.postgresPort, "postgres-port", "15440", "the port of the suite's PostgreSQL, which it restarts (scripts/infra.sh)")
	flag.IntVar(&cfg.rate, "rate", 1000, "events per second the producer offers")
	flag.IntVar(&cfg.keys, "keys", 500, "records the events write (over 50 accounts), each at its next version")
	flag.DurationVar(&cfg.before, "before", 5*time.Second, "load before the fault")
	flag.DurationVar(&cfg.after, "after", 15*time.Second, "load after the fault's end")
	flag.DurationVar(&cfg.drain, "drain", 90*time.Second, "at most this long for the partner to get every acknowledged event")
	flag.DurationVar(&cfg.hole, "hole", 30*time.Second, "how long the partner is black-holed")
	flag.StringVar(&cfg.only, "only", "", "run only the faults whose name contains this")
	flag.Parse()
	redis.SetLogger(quiet{}) // the failover client's notes of every promotion
	cfg.sentinels = strings.Split(sentinels, ",")
	cfg.sentinelRedis = strings.Split(sentinelRedis, ",")
	cfg.cluster = strings.Split(cluster, ",")
	cfg.postgres = "postgres://postgres@127.0.0.1:" + cfg.postgresPort + "/postgres?sslmode=disable"
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	start := time.Now()
	var rows []Row
	failed := false
	for _, f := range faults {
		if cfg.only != "" && !strings.Contains(f.name, cfg.only) {
			continue
		}
		fmt.Fprintf(os.Stderr, "chaos: %s …\n", f.name)
		row, err := runFault(ctx, cfg, f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			failed = true
			continue
		}
		fmt.Fprintln(os.Stderr, "chaos:", row.Markdown())
		rows = append(rows, row)
	}
	fmt.Printf("\n%d events/s offered, %d records over 50 accounts, %s of load before each fault and %s after its end (%s in all)\n\n",
		cfg.rate, cfg.keys, cfg.before, cfg.after, time.Since(start).Round(time.Second))
	fmt.Println(Header)
	for _, r := range rows {
		fmt.Println(r.Markdown())
	}
	for _, r := range rows {
		for _, m := range r.Misses() {
			fmt.Printf("\n%s: %s", r.Fault, m)
			failed = true
		}
	}
	fmt.Println()
	if failed {
		os.Exit(1)
	}
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
