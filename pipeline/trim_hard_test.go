package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
)

// A consumer group that reads nothing does not hold trimming past
// stream.max_len_hard. Ten entries, a configured partner's group and a
// stale one: without the bound the stale group keeps all ten; with a bound
// of four the six oldest go whatever the groups need, each group's loss is
// counted, and logged — a WARN naming the stale group, an ERROR naming
// the configured one when it too lost entries it had not acked.
func TestTrimStaleGroupDoesNotHoldPastHardBound(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxLen      int64
		partnerRead int // entries the partner's group read, of which it acked the first 3
		wantLeft    int
		wantStale   float64 // counted for the stale group
		wantPartner float64 // counted for the partner's group
		wantLog     []string
	}{
		{name: "no bound: the stale group holds everything", maxLen: 0, partnerRead: 10, wantLeft: 10},
		{name: "bound above the length: nothing past it", maxLen: 10, partnerRead: 10, wantLeft: 10},
		{name: "partner has all, stale group behind", maxLen: 4, partnerRead: 10, wantLeft: 4, wantStale: 6,
			wantLog: []string{`level=WARN msg="entries trimmed that a consumer group of no configured partner had not read`, "group=stale unread=6 pending=0"}},
		{name: "partner behind too", maxLen: 4, partnerRead: 5, wantLeft: 4, wantStale: 6, wantPartner: 3,
			wantLog: []string{"level=ERROR msg=\"EVENTS TRIMMED BEFORE A CONFIGURED PARTNER HAD THEM", "group=partner unread=1 pending=2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, stream, _, ids := trimFixture(t, 0)
			ctx := context.Background()
			for _, g := range []string{"partner", "stale"} {
				if err := rdb.XGroupCreate(ctx, stream, g, "0").Err(); err != nil {
					t.Fatal(err)
				}
			}
			readN(t, rdb, stream, "partner", int64(tc.partnerRead))
			acked := ids[:tc.partnerRead]
			if tc.partnerRead < 10 {
				acked = ids[:3]
			}
			rdb.XAck(ctx, stream, "partner", acked...)

			var logs bytes.Buffer
			reg := prometheus.NewRegistry()
			m := NewTrimMetrics(reg)
			tr, err := NewTrimmer(TrimConfig{Stream: stream, MaxLen: tc.maxLen, Known: []string{"partner"}, Metrics: m,
				Clock: &fakeClock{now: time.UnixMilli(5000)}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, rdb)
			if err != nil {
				t.Fatal(err)
			}
			trimAndCheck(t, rdb, stream, tr, int64(10-tc.wantLeft), ids[10-tc.wantLeft:])
			if got := testutil.ToFloat64(m.unacked.WithLabelValues("stale", "false")); got != tc.wantStale {
				t.Errorf("counted %v for the stale group, want %v", got, tc.wantStale)
			}
			if got := testutil.ToFloat64(m.unacked.WithLabelValues("partner", "true")); got != tc.wantPartner {
				t.Errorf("counted %v for the partner's group, want %v", got, tc.wantPartner)
			}
			for _, want := range tc.wantLog {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
			}
			// a second pass has nothing more past the bound to take
			trimAndCheck(t, rdb, stream, tr, 0, ids[10-tc.wantLeft:])
		})
	}
}

// A stream far past the bound is brought down to it by one Trim, a few
// thousand entries per script call.
func TestTrimHardBoundManyCalls(t *testing.T) {
	rdb, stream, _, _ := trimFixture(t, 0)
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for range 2500 {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"id", "x"}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	rdb.XGroupCreate(ctx, stream, "stale", "0")
	tr, err := NewTrimmer(TrimConfig{Stream: stream, MaxLen: 100, Clock: &fakeClock{now: time.UnixMilli(5000)}}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	n, err := tr.Trim(ctx)
	if err != nil || n != 2410 {
		t.Fatalf("trimmed %d (%v), want 2410", n, err)
	}
	if l := rdb.XLen(ctx, stream).Val(); l != 100 {
		t.Fatalf("stream length %d after trimming, want the bound 100", l)
	}
}
