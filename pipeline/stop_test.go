package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/sinks/partner"
)

// A graceful stop that cuts deliveries short leaves their entries pending.
// The lease of one that was waiting for its call (here for the rate limit)
// is released, so a restart does not wait out its TTL; the lease of one
// whose call was at the partner runs out instead, since the partner may
// still be working on it.
func TestGracefulStopReleasesLeases(t *testing.T) {
	h := newHarness(t, options{
		cfg: func(c *Config) { c.Subscriber.DrainTimeout = 50 * time.Millisecond },
		sink: func(c *partner.Config) {
			c.Timeout = 30 * time.Second
			c.RateLimit = 0.01 // one call, then the next waits
		},
		sim: func(o *partnersim.Options) { o.Faults.Latency = partnersim.Duration(15 * time.Second) }, // longer than the default drain
	})
	ctx := context.Background()
	h.upsert("slow-1", "acc-a", "main", "k1", 1, `{}`)
	testenv.WaitFor(t, 10*time.Second, "the first call at the partner", func() bool { return h.sim.Snapshot("").Stats.InFlight == 1 })
	h.upsert("slow-2", "acc-b", "main", "k2", 1, `{}`)
	testenv.WaitFor(t, 10*time.Second, "both leases taken", func() bool {
		return h.rdb.Exists(ctx, h.keys.Lease("acc-a"), h.keys.Lease("acc-b")).Val() == 2
	})
	h.stop()
	if n := h.rdb.Exists(ctx, h.keys.Lease("acc-b")).Val(); n != 0 {
		t.Fatal("the lease of a delivery cut short before its call is kept after a graceful stop")
	}
	if v, _ := h.rdb.Get(ctx, h.keys.Lease("acc-a")).Result(); !strings.HasSuffix(v, "(unsettled call)") || h.rdb.PTTL(ctx, h.keys.Lease("acc-a")).Val() <= 0 {
		t.Fatalf("the lease of a call cut short at the partner is %q; want it left to run out", v)
	}
	if p, _ := h.rdb.XPending(ctx, h.keys.Events, h.keys.Group).Result(); p.Count != 2 {
		t.Fatalf("%d entries pending, want the 2 cut short", p.Count)
	}
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// Waiting on a lease another process holds is normal work: no ERROR line.
func TestBusyAccountIsNotAnError(t *testing.T) {
	var logs logBuffer
	h := newHarness(t, options{cfg: func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}})
	ctx := context.Background()
	h.rdb.Set(ctx, h.keys.Lease("acc"), "another-process:1", time.Minute)
	h.upsert("e1", "acc", "main", "k1", 1, `{}`)
	testenv.WaitFor(t, 10*time.Second, "the event to wait on the lease twice", func() bool {
		return strings.Count(logs.String(), "account busy") >= 2
	})
	h.rdb.Del(ctx, h.keys.Lease("acc"))
	h.waitSteps("e1", "delivered")
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			t.Fatalf("error logged: %s", line)
		}
	}
}
