package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// exportBench fills an attempts stream with n rows and measures the
// exporter moving them into ClickHouse in batches of 10,000: rows/s, and
// this process' CPU per row (the Redis and ClickHouse servers' not counted).
func exportBench(ctx context.Context, rdb *redis.Client, chAddr string, n int) {
	stream := "bench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":attempts"
	db := "bench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	now := time.Now()
	for i := 0; i < n; {
		pipe := rdb.Pipeline()
		for j := 0; j < 1000 && i < n; j, i = j+1, i+1 {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{
				"ts", strconv.FormatInt(now.Unix(), 10), "ts_ms", "5", "event_id", "e" + strconv.Itoa(i), "row_id", "r" + strconv.Itoa(i),
				"stream_id", "1-0", "account", "acc-" + strconv.Itoa(i%2000), "entity", "main_registration", "key", "k" + strconv.Itoa(i),
				"parent_entity", "", "parent_key", "", "chain_id", "e" + strconv.Itoa(i), "op", "upsert", "version", strconv.Itoa(i + 1),
				"attempt", "1", "step", "delivered", "http_status", "200", "latency_us", "1500", "error", "", "instance", "bench",
			}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "export fill:", err)
			os.Exit(1)
		}
	}
	conn, err := attemptlog.Open(attemptlog.Options{Addr: chAddr, Username: "default"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		os.Exit(1)
	}
	defer conn.Close()
	if err := attemptlog.EnsureSchema(ctx, conn, db); err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		os.Exit(1)
	}
	spool, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(spool)
	x, err := attemptlog.NewExporter(attemptlog.ExporterConfig{Stream: stream, Consumer: "bench", Database: db, BatchSize: 10000,
		SpoolDir: spool, Logger: slog.New(slog.DiscardHandler)}, rdb, conn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "export:", err)
		os.Exit(1)
	}
	cpu0 := cpuTime()
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = x.Run(rctx); close(done) }()
	for {
		if l, _ := rdb.XLen(ctx, stream).Result(); l == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	d := time.Since(start)
	cpu := cpuTime() - cpu0
	cancel()
	<-done
	var got uint64
	_ = conn.QueryRow(ctx, "SELECT count() FROM "+db+".attempts").Scan(&got)
	fmt.Printf("exporter: %d rows Redis → ClickHouse in batches of 10,000 in %s: %.0f rows/s, %.2f µs CPU per row in this process (%d rows in ClickHouse)\n",
		n, d.Round(time.Millisecond), float64(n)/d.Seconds(), float64(cpu.Microseconds())/float64(n), got)
	_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
	rdb.Del(ctx, stream)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
