package loadtest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sample is the state of the system at one moment of a run.
type Sample struct {
	At       time.Time
	Lag      int64   // entries not yet read by the group
	Pending  int64   // read, not yet acked
	Delayed  int64   // children parked for a parent
	Retrying int64   // events waiting for a retry
	CPU      float64 // the pipeline's CPU since the last sample, in cores (1 = one core busy)
	RSSMB    float64 // the pipeline's resident memory
}

// Observe samples every interval until ctx ends, sending samples to out.
func Observe(ctx context.Context, rdb *redis.Client, stream, group, delayed, retry string, pid int, every time.Duration, out chan<- Sample) {
	defer close(out)
	t := time.NewTicker(every)
	defer t.Stop()
	lastTicks, lastAt := procTicks(pid), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := Sample{At: time.Now()}
		if groups, err := rdb.XInfoGroups(ctx, stream).Result(); err == nil {
			for _, g := range groups {
				if g.Name == group {
					s.Lag, s.Pending = g.Lag, g.Pending
				}
			}
		}
		s.Delayed, _ = rdb.ZCard(ctx, delayed).Result()
		s.Retrying, _ = rdb.ZCard(ctx, retry).Result()
		ticks := procTicks(pid)
		s.CPU = float64(ticks-lastTicks) / 100 / s.At.Sub(lastAt).Seconds()
		lastTicks, lastAt = ticks, s.At
		s.RSSMB = procRSSMB(pid)
		select {
		case out <- s:
		case <-ctx.Done():
			return
		}
	}
}

// procTicks is a process' user+system CPU time in clock ticks (1/100 s).
func procTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// procRSSMB is a process' resident memory in MB.
func procRSSMB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// ProcCPUSeconds is a process' user+system CPU time so far, in seconds
// (from /proc/PID/stat; 0 when it cannot be read).
func ProcCPUSeconds(pid int) float64 { return float64(procTicks(pid)) / 100 }
