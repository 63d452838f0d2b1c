// Command benchchains fills a scratch attempt log with realistic chains
// (loadtest/chainload) and times the failed-chains questions over it,
// printing a markdown table; make bench-chains runs it against a ClickHouse
// of its own (scripts/bench-chains.sh, docs/benchmarks.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/loadtest/chainload"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19000", "ClickHouse native address")
	database := flag.String("database", "bench_chains", "scratch database: dropped and made again")
	n := flag.Uint64("n", 10_000_000, "rows to load (duplicates not counted)")
	span := flag.Duration("span", chainload.DefaultSpan, "the chains start over this past window, ending now")
	chunk := flag.Uint64("chunk", chainload.DefaultChunkChains, "chains per INSERT … SELECT")
	settle := flag.Duration("settle", 15*time.Minute, "wait at most this long for the background merges to end before timing")
	timeout := flag.Duration("timeout", time.Hour, "the whole run's deadline (it also lifts the driver's one-minute read timeout)")
	skipLoad := flag.Bool("skip-load", false, "time the questions over what the database holds, without loading")
	seal := flag.Bool("seal", true, "answer the closed minutes first, as streamsync run's sealer does once a minute (timed apart)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *addr, *database, *n, *span, *chunk, *settle, *skipLoad, *seal); err != nil {
		slog.Error("bench-chains", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, db string, n uint64, span time.Duration, chunk uint64, settle time.Duration, skipLoad, seal bool) error {
	// The connection the CLI opens (attemptlog.Open); the context's deadline
	// replaces its read timeout, so a slow question is timed, not cut off.
	conn, err := attemptlog.Open(attemptlog.Options{Addr: addr, Database: db, Username: "default"})
	if err != nil {
		return err
	}
	defer conn.Close()
	if !skipLoad {
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
			return fmt.Errorf("drop %s: %w", db, err)
		}
		fmt.Fprintf(os.Stderr, "bench-chains: loading %d rows into %s.%s\n", n, db, attemptlog.Table)
		l, err := chainload.Load(ctx, conn, db, chainload.LoadConfig{Rows: n, Span: span, ChunkChains: chunk,
			Progress: func(done, total uint64, took time.Duration) {
				fmt.Fprintf(os.Stderr, "bench-chains: %d/%d rows (this statement %s)\n", done, total, chainload.Seconds(took))
			}})
		if err != nil {
			return err
		}
		fmt.Printf("loaded %d rows (+%d duplicate rows, ≈%d chains) in %s: %.0f rows/s\n", l.Rows, l.Duplicates, l.Chains,
			chainload.Seconds(l.Took), float64(l.Rows+l.Duplicates)/l.Took.Seconds())
		t := time.Now()
		if err := waitMerges(ctx, conn, db, settle); err != nil {
			return err
		}
		fmt.Printf("background merges ended %s after the load\n", chainload.Seconds(time.Since(t)))
	}
	if err := printParts(ctx, conn, db); err != nil {
		return err
	}
	if seal {
		if err := sealMinutes(ctx, conn, db); err != nil {
			return err
		}
	}
	fmt.Println()
	chainload.WriteTable(os.Stdout, chainload.Measure(ctx, conn, db))
	return nil
}

// waitMerges waits until no merge of db's tables runs, at most max.
func waitMerges(ctx context.Context, conn driver.Conn, db string, max time.Duration) error {
	end := time.Now().Add(max)
	for {
		var running uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = ?", db).Scan(&running); err != nil {
			return fmt.Errorf("merges of %s: %w", db, err)
		}
		if running == 0 || time.Now().After(end) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func printParts(ctx context.Context, conn driver.Conn, db string) error {
	var parts, partitions, rows, bytes uint64
	err := conn.QueryRow(ctx, "SELECT count(), uniqExact(partition), sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = ? AND table = ? AND active",
		db, attemptlog.Table).Scan(&parts, &partitions, &rows, &bytes)
	if err != nil {
		return fmt.Errorf("parts of %s.%s: %w", db, attemptlog.Table, err)
	}
	fmt.Printf("%s.%s: %d rows in %d active parts over %d partitions, %.2f GiB on disk\n", db, attemptlog.Table, rows, parts, partitions, float64(bytes)/(1<<30))
	return nil
}

// sealMinutes makes the two passes of attemptlog.Sealer that answer the
// closed minutes of the load (the first only notes their counts), as
// streamsync run's sealer would have done while the rows came in, and
// prints how long they took.
func sealMinutes(ctx context.Context, conn driver.Conn, db string) error {
	s, err := attemptlog.NewSealer(attemptlog.SealerConfig{Database: db, Budget: time.Hour}, nil, conn)
	if err != nil {
		return err
	}
	t := time.Now()
	n := 0
	for range 2 {
		k, err := s.Pass(ctx)
		if err != nil {
			return err
		}
		n += k
	}
	fmt.Printf("sealer: %d minutes (per partner) answered in %s, before the questions (streamsync run does it once a minute)\n", n, chainload.Seconds(time.Since(t)))
	return nil
}
