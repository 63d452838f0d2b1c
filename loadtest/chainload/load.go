package chainload

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// LoadConfig says what Load writes.
type LoadConfig struct {
	// Rows is how many rows to write, duplicates not counted (≥ 1).
	Rows uint64
	// End is when the newest chain starts; Span how far back the oldest
	// does (DefaultSpan). Every row lies in [End-Span-1 s, End+31 s]
	// (a child posted before its parent parks 1 s before it).
	End  time.Time
	Span time.Duration
	// ChunkChains is how many chains one INSERT … SELECT writes
	// (DefaultChunkChains): a load of more is several statements.
	ChunkChains uint64
	// DuplicateEvery writes the rows of every chain c with
	// c % DuplicateEvery == 7 a second time, same row_id and all, as an
	// export retried after a crash does (DefaultDuplicateEvery; 0 takes it,
	// a negative value writes none).
	DuplicateEvery int
	// Progress, when set, is told after each statement.
	Progress func(done, total uint64, took time.Duration)
}

// Defaults of LoadConfig.
const (
	// DefaultSpan leaves the questions' hour ten minutes to run in before
	// the oldest rows fall out of it.
	DefaultSpan           = 50 * time.Minute
	DefaultChunkChains    = 4_000_000
	DefaultDuplicateEvery = 1000
)

// Loaded is what Load wrote.
type Loaded struct {
	Rows       uint64 // rows written, duplicates not counted
	Duplicates uint64 // rows written a second time
	Chains     uint64 // chains written (within 1 % when the rows stopped inside a chunk)
	Took       time.Duration
}

// Load creates the attempt log's table in database (attemptlog.EnsureSchema,
// the table `streamsync run` makes) and writes c.Rows rows of chains into
// it with INSERT … SELECT … FROM system.numbers, then the duplicates. It
// does not empty the table first.
func Load(ctx context.Context, conn driver.Conn, database string, c LoadConfig) (Loaded, error) {
	if c.Rows == 0 {
		return Loaded{}, fmt.Errorf("chainload: rows must be at least 1")
	}
	if c.Span <= 0 {
		c.Span = DefaultSpan
	}
	if c.ChunkChains == 0 {
		c.ChunkChains = DefaultChunkChains
	}
	if c.DuplicateEvery == 0 {
		c.DuplicateEvery = DefaultDuplicateEvery
	}
	if c.End.IsZero() {
		c.End = time.Now()
	}
	if err := attemptlog.EnsureSchema(ctx, conn, database); err != nil {
		return Loaded{}, err
	}
	start := time.Now()
	// How many chains make c.Rows rows: the rows a chain has are known
	// without writing them (n), so count them over a sample, then over
	// each chunk before writing it; the last chunk stops at c.Rows exactly.
	sample := min(c.Rows, 1_000_000)
	perChain, err := rowsPerChain(ctx, conn, Plan{Chains: sample}, sample)
	if err != nil {
		return Loaded{}, err
	}
	p := Plan{Chains: uint64(float64(c.Rows)/perChain*1.01) + 1, EndMS: uint64(c.End.UnixMilli()), SpanMS: uint64(c.Span.Milliseconds())}
	var out Loaded
	for lo := uint64(0); out.Rows < c.Rows && lo < p.Chains; lo += c.ChunkChains {
		count := min(c.ChunkChains, p.Chains-lo)
		rows, err := p.rowsOf(ctx, conn, lo, count, "1")
		if err != nil {
			return out, err
		}
		limit := min(rows, c.Rows-out.Rows)
		t := time.Now()
		if err := conn.Exec(ctx, p.insertSQL(database, lo, count, limit, "1")); err != nil {
			return out, fmt.Errorf("load chains %d…%d: %w", lo, lo+count-1, err)
		}
		out.Rows += limit
		if limit == rows {
			out.Chains += count
		} else { // the rows stop inside this chunk: about this many chains
			out.Chains += uint64(float64(count) * float64(limit) / float64(rows))
		}
		if c.Progress != nil {
			c.Progress(out.Rows, c.Rows, time.Since(t))
		}
	}
	if c.DuplicateEvery > 0 {
		// Only chains well below the last one written (whose count is an
		// estimate), so every duplicate is of a row that is there.
		where := fmt.Sprintf("c %% %d = 7 AND c < %d", c.DuplicateEvery, out.Chains*98/100)
		dups, err := p.rowsOf(ctx, conn, 0, out.Chains, where)
		if err != nil {
			return out, err
		}
		if err := conn.Exec(ctx, p.insertSQL(database, 0, out.Chains, dups, where)); err != nil {
			return out, fmt.Errorf("load duplicates: %w", err)
		}
		out.Duplicates = dups
	}
	out.Took = time.Since(start)
	return out, nil
}

// rowsOf is how many rows chains [lo, lo+count) where where holds have.
func (p Plan) rowsOf(ctx context.Context, conn driver.Conn, lo, count uint64, where string) (uint64, error) {
	var n uint64
	q := "SELECT toUInt64(sum(n)) FROM (" + p.chainsSQL(lo, count, where) + ")"
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the rows of chains %d…%d: %w", lo, lo+count-1, err)
	}
	return n, nil
}

func rowsPerChain(ctx context.Context, conn driver.Conn, p Plan, chains uint64) (float64, error) {
	n, err := p.rowsOf(ctx, conn, 0, chains, "1")
	if err != nil {
		return 0, err
	}
	return float64(n) / float64(chains), nil
}
