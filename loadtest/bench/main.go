// Command bench measures how fast streams drain: one pre-filled stream read
// by (a) raw go-redis XREADGROUP COUNT 100 with one XACK per batch, (b) the
// stock watermill-redisstream subscriber, 16 of them, and (c) streamsync's
// ordered subscriber with the Watermill router and a no-op handler; then
// the whole pipeline against partnersim (events/s, and latency from XADD to
// partner arrival). make bench runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/loadtest"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/pipeline"
	"github.com/streamsync/streamsync/pipeline/ordered"
	"github.com/streamsync/streamsync/sinks/partner"
)

func main() {
	addr := flag.String("redis", os.Getenv("STREAMSYNC_TEST_REDIS_ADDR"), "Redis host:port")
	events := flag.Int("events", 200000, "entries in the pre-filled stream")
	accounts := flag.Int("accounts", 2000, "accounts the entries spread over")
	e2eEvents := flag.Int("e2e-events", 50000, "events of the end-to-end run (0 skips it)")
	e2eRate := flag.Int("e2e-rate", 3000, "paced XADD rate of the latency run, events/s")
	exportRows := flag.Int("export-rows", 200000, "rows through the attempt-log exporter (0 skips it)")
	chAddr := flag.String("clickhouse", os.Getenv("STREAMSYNC_TEST_CLICKHOUSE_ADDR"), "ClickHouse host:port for the exporter run")
	only := flag.String("only", "", "run one part: drain, e2e or export")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "bench: --redis or STREAMSYNC_TEST_REDIS_ADDR required")
		os.Exit(2)
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: 256})
	defer rdb.Close()
	ctx := context.Background()
	run := "bench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	stream := run + "events"
	defer cleanup(rdb, run)

	if *only == "" || *only == "export" {
		if *exportRows > 0 && *chAddr != "" {
			exportBench(ctx, rdb, *chAddr, *exportRows)
		}
		if *only == "export" {
			return
		}
	}
	if *only == "e2e" {
		endToEnd(ctx, rdb, *e2eEvents, *accounts, 0, true)
		endToEnd(ctx, rdb, *e2eEvents, *accounts, 0, true, true)
		endToEnd(ctx, rdb, *e2eEvents, *accounts, 0, false)
		endToEnd(ctx, rdb, *e2eEvents/2, *accounts, *e2eRate, true)
		return
	}
	fmt.Printf("filling %s with %d entries over %d accounts\n", stream, *events, *accounts)
	fill(ctx, rdb, stream, *events, *accounts, 0)
	// Each reader gets a client of its own: the stock subscriber leaves
	// connections behind that a shared pool would trip over.
	client := func() *redis.Client { return redis.NewClient(&redis.Options{Addr: *addr, PoolSize: 256}) }
	a := drainRaw(ctx, client(), stream, *events)
	b := drainStock(ctx, client(), stream, *events, 16)
	c := drainOrdered(ctx, client(), stream, *events)
	fmt.Println()
	fmt.Printf("| reader | msgs/s |\n|---|---|\n")
	fmt.Printf("| (a) raw XREADGROUP COUNT 100 + XACK per batch | %.0f |\n", a)
	fmt.Printf("| (b) stock watermill-redisstream, 16 subscribers | %.0f |\n", b)
	fmt.Printf("| (c) streamsync ordered subscriber + router, no-op handler | %.0f |\n", c)
	fmt.Printf("\nc/a = %.2f (goal ≥ 0.5)   c/b = %.2f (goal ≥ 3)\n", c/a, c/b)

	if *e2eEvents > 0 && *only == "" {
		fmt.Println()
		endToEnd(ctx, rdb, *e2eEvents, *accounts, 0, true)
		endToEnd(ctx, rdb, *e2eEvents, *accounts, 0, true, true)
		endToEnd(ctx, rdb, *e2eEvents, *accounts, 0, false)
		endToEnd(ctx, rdb, *e2eEvents/2, *accounts, *e2eRate, true)
	}
}

func cleanup(rdb *redis.Client, prefix string) {
	loadtest.DeleteKeys(context.Background(), rdb, prefix)
}

// fill appends n events in pipelined batches; with rate > 0 it paces them
// and stamps ts with the time of the XADD.
func fill(ctx context.Context, rdb *redis.Client, stream string, n, accounts, rate int) {
	batch := 1000
	var tick *time.Ticker
	if rate > 0 {
		batch = max(1, rate/100)
		tick = time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
	}
	for i := 0; i < n; {
		if tick != nil {
			<-tick.C
		}
		pipe := rdb.Pipeline()
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		for j := 0; j < batch && i < n; j, i = j+1, i+1 {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{
				"id", "b-" + strconv.Itoa(i), "account", "acc-" + strconv.Itoa(i%accounts), "entity", "main_registration",
				"key", "k-" + strconv.Itoa(i), "op", "upsert", "version", strconv.Itoa(i + 1), "data", `{"name":"Li Lei","seat":"A3"}`, "ts", ts,
			}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "fill:", err)
			os.Exit(1)
		}
	}
}

func group(ctx context.Context, rdb *redis.Client, stream, name string) {
	if err := rdb.XGroupCreate(ctx, stream, name, "0").Err(); err != nil {
		fmt.Fprintln(os.Stderr, "group:", err)
		os.Exit(1)
	}
}

func drainRaw(ctx context.Context, rdb *redis.Client, stream string, n int) float64 {
	group(ctx, rdb, stream, "raw")
	start := time.Now()
	got := 0
	for got < n {
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "raw", Consumer: "c", Streams: []string{stream, ">"}, Count: 100, Block: time.Second}).Result()
		if err != nil {
			fmt.Fprintln(os.Stderr, "raw:", err)
			os.Exit(1)
		}
		ids := make([]string, 0, 100)
		for _, m := range res[0].Messages {
			ids = append(ids, m.ID)
		}
		rdb.XAck(ctx, stream, "raw", ids...)
		got += len(ids)
	}
	return report("(a) raw", n, time.Since(start))
}

func drainStock(ctx context.Context, rdb *redis.Client, stream string, n, subscribers int) float64 {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	start := time.Now()
	var subs []*redisstream.Subscriber
	for i := range subscribers {
		s, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{Client: rdb, Unmarshaller: pipeline.EntryMarshaller{},
			ConsumerGroup: "stock", Consumer: "c" + strconv.Itoa(i)}, watermill.NopLogger{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "stock:", err)
			os.Exit(1)
		}
		subs = append(subs, s)
		msgs, err := s.Subscribe(ctx, stream)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stock:", err)
			os.Exit(1)
		}
		go func() {
			for m := range msgs {
				m.Ack()
				if got.Add(1) == int64(n) {
					once.Do(func() { close(done) })
				}
			}
		}()
	}
	<-done
	d := time.Since(start)
	cancel()
	for _, s := range subs {
		_ = s.Close()
	}
	return report("(b) stock x16", n, d)
}

func drainOrdered(ctx context.Context, rdb *redis.Client, stream string, n int) float64 {
	sub, err := ordered.NewSubscriber(ordered.Config{Stream: stream, Group: "ordered", Consumer: "c",
		Unmarshaller: pipeline.EntryMarshaller{}, OrderKey: pipeline.AccountKey}, rdb)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordered:", err)
		os.Exit(1)
	}
	router, _ := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	var got atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	router.AddConsumerHandler("noop", stream, sub, func(*message.Message) error {
		if got.Add(1) == int64(n) {
			once.Do(func() { close(done) })
		}
		return nil
	})
	rctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	go func() {
		if err := router.Run(rctx); err != nil {
			fmt.Fprintln(os.Stderr, "ordered:", err)
			os.Exit(1)
		}
	}()
	<-done
	d := time.Since(start)
	cancel()
	_ = router.Close()
	return report("(c) ordered", n, d)
}

func report(name string, n int, d time.Duration) float64 {
	rate := float64(n) / d.Seconds()
	fmt.Printf("%-14s %d msgs in %s: %.0f msgs/s\n", name, n, d.Round(time.Millisecond), rate)
	return rate
}

// endToEnd runs the pipeline against partnersim at 1 ms latency. rate 0
// pre-fills the stream and measures throughput; a rate paces the XADDs and
// measures latency from XADD to arrival at the partner.
func endToEnd(ctx context.Context, rdb *redis.Client, n, accounts, rate int, attemptLog bool, traced ...bool) {
	prefix := "bench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	sim, _ := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec", Faults: partnersim.Faults{Latency: partnersim.Duration(time.Millisecond)}, LogMax: n + 1000})
	hs := httptest.NewServer(sim)
	defer hs.Close()
	// Tracing on: every span exported over OTLP/HTTP to a collector that
	// reads and discards the requests (the cost is streamsync's side only).
	tp, tr := otelBench(len(traced) > 0 && traced[0])
	defer tp.Shutdown(context.Background())
	sink, _ := partner.New(partner.Config{BaseURL: hs.URL, ClientID: "id", ClientSecret: "sec", MaxConns: 1024, WrapTransport: tr.Transport})
	keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	p, err := pipeline.New(pipeline.Config{Keys: keys, Consumer: "bench", PartnerName: "partner",
		Retry: handlers.RetryPolicy{Initial: time.Second, Max: time.Minute, MaxAttempts: 15}, MaxWait: time.Minute,
		AttemptLog: attemptLog, Tracing: tp, Logger: slog.New(slog.DiscardHandler)}, rdb, sink)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	if rate == 0 {
		fill(ctx, rdb, keys.Events, n, accounts, 0)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		if err := p.Run(rctx); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			os.Exit(1)
		}
		close(done)
	}()
	<-p.Running()
	start := time.Now()
	if rate > 0 {
		go fill(ctx, rdb, keys.Events, n, accounts, rate)
	}
	for len(sim.Log(int64(n-1), 1)) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	d := time.Since(start)
	cancel()
	<-done
	// Arrival at the partner (its log) minus the XADD time (the entry's ts).
	arrivals := map[string]int64{}
	for _, e := range sim.Log(0, 0) {
		arrivals[e.IdempotencyKey] = e.AtUS
	}
	var lats []time.Duration
	cursor := "-"
	for {
		page, _ := rdb.XRangeN(ctx, keys.Events, cursor, "+", 5000).Result()
		for _, m := range page {
			if m.ID == cursor {
				continue
			}
			ts, _ := strconv.ParseInt(m.Values["ts"].(string), 10, 64)
			if at, ok := arrivals[m.Values["id"].(string)]; ok {
				lats = append(lats, time.Duration(at-ts*1000)*time.Microsecond)
			}
			cursor = m.ID
		}
		if len(page) < 5000 {
			break
		}
	}
	slices.Sort(lats)
	pct := func(q float64) time.Duration { return lats[int(q*float64(len(lats)-1))].Round(100 * time.Microsecond) }
	mode := "pre-filled"
	if rate > 0 {
		mode = fmt.Sprintf("paced at %d/s", rate)
	}
	if tr.On() {
		mode += ", tracing on"
	}
	fmt.Printf("end to end (%s, %d events, %d accounts, partner 1ms, attempt log %v): %.0f events/s; XADD→partner p50 %s p99 %s max %s\n",
		mode, n, accounts, attemptLog, float64(n)/d.Seconds(), pct(0.5), pct(0.99), lats[len(lats)-1].Round(100*time.Microsecond))
	cleanup(rdb, prefix)
}
