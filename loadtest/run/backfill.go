package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// backfillRun is a `streamsync backfill --rate N` started while a level
// offers live traffic, against the same streams, Redis and partnersim
// (docs/backfill.md), with the machine's Redis memory and load average
// sampled meanwhile.
type backfillRun struct {
	started, ended time.Time
	rate           int // --rate, records/s; 0 is no limit
	summary        map[string]any
	err            error
	done           chan struct{}

	mu                sync.Mutex
	memBase, memPeak  int64 // Redis used_memory, bytes
	loadSum, loadPeak float64
	loadSamples       int
}

// startBackfill starts the backfill after o.backfillAfter, in the
// background, reading o.backfill (JSON Lines, source.kind file); without
// o.backfill it only samples Redis memory and the load average.
func startBackfill(ctx context.Context, o options, sys *system, rdb *redis.Client) *backfillRun {
	b := &backfillRun{done: make(chan struct{}), rate: o.backfillRate, memBase: usedMemory(ctx, rdb)}
	b.memPeak = b.memBase
	go b.sample(ctx, rdb)
	if o.backfill == "" {
		close(b.done)
		return b
	}
	go func() {
		defer close(b.done)
		select {
		case <-time.After(o.backfillAfter):
		case <-ctx.Done():
			b.err = ctx.Err()
			return
		}
		cmd := exec.CommandContext(ctx, "bin/streamsync", "backfill", "--config", "config/streamsync.example.yaml", "--rate", strconv.Itoa(o.backfillRate), "--format", "json")
		cmd.Env = append(append([]string{}, sys.pipe.Env...), "STREAMSYNC_SOURCE__KIND=file", "STREAMSYNC_SOURCE__FILE="+o.backfill)
		var out bytes.Buffer
		cmd.Stdout = &out
		errLog, _ := os.Create(filepath.Join(sys.dir, "backfill.log"))
		if errLog != nil {
			defer errLog.Close()
			cmd.Stderr = errLog
		}
		log.Printf("backfill of %s started (--rate %d)", o.backfill, o.backfillRate)
		b.started = time.Now()
		b.err = cmd.Run()
		b.ended = time.Now()
		if err := json.Unmarshal(out.Bytes(), &b.summary); err != nil && b.err == nil {
			b.err = fmt.Errorf("backfill summary: %w (%q)", err, out.String())
		}
		log.Printf("backfill appended in %s: %v", b.ended.Sub(b.started).Round(time.Millisecond), b.summary)
	}()
	return b
}

// sample records Redis's used_memory and the 1-minute load average every
// second until ctx ends.
func (b *backfillRun) sample(ctx context.Context, rdb *redis.Client) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m := usedMemory(ctx, rdb)
		l := loadAverage()
		b.mu.Lock()
		b.memPeak = max(b.memPeak, m)
		b.loadSum += l
		b.loadPeak = max(b.loadPeak, l)
		b.loadSamples++
		b.mu.Unlock()
	}
}

func usedMemory(ctx context.Context, rdb *redis.Client) int64 {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// note describes the backfill: records/s appended (the command's own
// summary), and the drain — the backfill's events that reached partnersim,
// from the backfill's start to the last of them.
func (b *backfillRun) note(level string, entries []simEntry) string {
	<-b.done
	var delivered int
	var last time.Time
	for _, e := range entries {
		if !strings.HasPrefix(e.IdempotencyKey, "bf-") || e.Status < 200 || e.Status >= 300 {
			continue
		}
		delivered++
		if at := time.UnixMicro(e.AtUS); at.After(last) {
			last = at
		}
	}
	var s strings.Builder
	if b.started.IsZero() {
		fmt.Fprintf(&s, "## The machine during level %s (no backfill)\n\n", level)
	} else {
		fmt.Fprintf(&s, "## Backfill during level %s (--rate %d)\n\n", level, b.rate)
	}
	if b.err != nil {
		fmt.Fprintf(&s, "- backfill error: %v\n", b.err)
	}
	if !b.started.IsZero() {
		fmt.Fprintf(&s, "- summary (`--format json`): %v\n", b.summary)
		fmt.Fprintf(&s, "- appended in %s (wall, process start to exit)\n", b.ended.Sub(b.started).Round(time.Millisecond))
	}
	if delivered > 0 {
		d := last.Sub(b.started)
		fmt.Fprintf(&s, "- drained into partnersim: %d backfill events delivered, the last %s after the backfill started: %.0f events/s\n",
			delivered, d.Round(time.Millisecond), float64(delivered)/d.Seconds())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(&s, "- Redis used_memory: %.1f MiB before, peak %.1f MiB (+%.1f MiB; the Redis is shared)\n",
		float64(b.memBase)/(1<<20), float64(b.memPeak)/(1<<20), float64(b.memPeak-b.memBase)/(1<<20))
	if b.loadSamples > 0 {
		fmt.Fprintf(&s, "- load average (1 min) during the level: mean %.1f, peak %.1f\n", b.loadSum/float64(b.loadSamples), b.loadPeak)
	}
	return s.String()
}
