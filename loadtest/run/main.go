// Command run is a load run: it starts partnersim and streamsync (with the
// HTTP ingest and the attempt log on) against the project's Redis and
// ClickHouse, offers events at each level with vegeta (one event per request,
// or --batch N per request as a JSON array; or XADD, or k6), measures, checks
// that nothing was lost, and writes a report with plots to
// loadtest/results/<timestamp>/. make loadtest runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/loadtest"
)

type options struct {
	levels         []int
	duration       time.Duration
	mode           string
	accounts       int
	seed           uint64
	partnerLatency time.Duration
	errorRate      float64
	rate429        float64
	out            string
	backlog        int
	k6             string
	drainTimeout   time.Duration
	keep           bool
	redisAddr      string
	chAddr         string
	backfill       string
	backfillAfter  time.Duration
	backfillRate   int
	batch          int
}

func main() {
	var o options
	levels := flag.String("levels", "10,100,1000,3000", "event rates to offer, one level after the other")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long each level sends")
	flag.StringVar(&o.mode, "mode", "ingest", "ingest (HTTP, vegeta) or xadd (Redis, same pacing)")
	flag.IntVar(&o.accounts, "accounts", 500, "accounts the story spreads over")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the story")
	flag.DurationVar(&o.partnerLatency, "partner-latency", time.Millisecond, "partnersim latency")
	flag.Float64Var(&o.errorRate, "error-rate", 0, "partnersim share of 503s")
	flag.Float64Var(&o.rate429, "rate-429", 0, "partnersim share of 429s")
	flag.StringVar(&o.out, "out", "loadtest/results", "where results/<timestamp>/ goes")
	flag.IntVar(&o.backlog, "backlog", 0, "instead of levels: pre-fill this many events and measure the drain")
	flag.StringVar(&o.k6, "k6", "", "path of a k6 binary: offer the levels with loadtest/k6/ingest.js instead of vegeta")
	flag.DurationVar(&o.drainTimeout, "drain-timeout", 3*time.Minute, "how long a level may take to settle after sending")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's Redis keys and ClickHouse database afterwards")
	flag.StringVar(&o.redisAddr, "redis", os.Getenv("STREAMSYNC_TEST_REDIS_ADDR"), "Redis host:port")
	flag.StringVar(&o.chAddr, "clickhouse", os.Getenv("STREAMSYNC_TEST_CLICKHOUSE_ADDR"), "ClickHouse host:port")
	flag.StringVar(&o.backfill, "backfill", "", "a JSON Lines file: run `streamsync backfill` from it while each level offers live traffic (docs/backfill.md)")
	flag.IntVar(&o.backfillRate, "backfill-rate", 0, "the backfill's --rate: records appended a second, 0 no limit")
	flag.DurationVar(&o.backfillAfter, "backfill-after", 5*time.Second, "how long after a level starts the backfill starts")
	flag.IntVar(&o.batch, "batch", 1, "events per ingest request, sent as a JSON array; requests are paced at level/batch a second")
	flag.Parse()
	if o.batch < 1 || o.batch > 1 && (o.mode != "ingest" || o.k6 != "") {
		log.Fatalf("--batch: %d; it must be at least 1, and above 1 only with --mode ingest and without --k6", o.batch)
	}
	for _, s := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			log.Fatalf("--levels: %q is not a rate", s)
		}
		o.levels = append(o.levels, n)
	}
	if o.redisAddr == "" || o.chAddr == "" {
		log.Fatal("--redis and --clickhouse (or STREAMSYNC_TEST_REDIS_ADDR and STREAMSYNC_TEST_CLICKHOUSE_ADDR) are required: run through `make loadtest`")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (bool, error) {
	started := time.Now()
	dir := filepath.Join(o.out, started.UTC().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	sys, err := startSystem(ctx, o, dir)
	if err != nil {
		return false, err
	}
	defer sys.stop()
	rdb := redis.NewClient(&redis.Options{Addr: o.redisAddr, PoolSize: 128})
	defer rdb.Close()
	sys.rdb = rdb
	if !o.keep {
		defer sys.cleanup(rdb, o)
	}

	samples := make(chan loadtest.Sample, 1024)
	octx, stopObserve := context.WithCancel(ctx)
	defer stopObserve()
	go loadtest.Observe(octx, rdb, sys.keys.Events, "streamsync", sys.keys.Delayed, sys.keys.Retry, sys.pipelinePID(), 500*time.Millisecond, samples)
	var all []loadtest.Sample
	collect := func() {
		for {
			select {
			case s, ok := <-samples:
				if !ok {
					return
				}
				all = append(all, s)
			default:
				return
			}
		}
	}

	report := loadtest.Report{Started: started, Setup: sys.describe(o)}
	if o.backlog > 0 {
		l, err := drainLevel(ctx, o, sys, rdb, collect, &all)
		if err != nil {
			return false, err
		}
		report.Levels = append(report.Levels, l)
	} else {
		for i, rate := range o.levels {
			l, err := offerLevel(ctx, o, sys, rdb, i, rate, collect, &all)
			if err != nil {
				return false, err
			}
			report.Levels = append(report.Levels, l)
			log.Printf("level %d/s: achieved %.0f/s, end to end p99 %s, %d lost", rate, l.AchievedRate, l.EndToEnd.P99, len(l.Verdict.Missing))
		}
	}
	stopObserve()
	collect()
	report.Notes = append(report.Notes, sys.notes...)
	if prof := sys.profile(); prof != "" {
		report.Notes = append(report.Notes, prof)
	}
	if err := report.Write(dir); err != nil {
		return false, err
	}
	ok := true
	for _, l := range report.Levels {
		ok = ok && l.Verdict.OK()
	}
	fmt.Printf("report: %s\n", filepath.Join(dir, "report.md"))
	if !ok {
		fmt.Println("VERDICT: FAIL — events were lost; the report lists them")
	} else {
		fmt.Println("VERDICT: PASS — zero loss")
	}
	return ok, nil
}
