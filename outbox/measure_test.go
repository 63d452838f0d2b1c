//go:build measure

package outbox

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

var (
	afterBacklog = flag.Bool("after-backlog", false, "measure the lag on a table that just had 100,000 rows deleted")
	vacuum       = flag.Bool("vacuum", false, "with -after-backlog: VACUUM the table before the trickle")
)

// go test -tags measure -run Measure -v ./outbox
//
// Relay lag (INSERT commit to stream entry) at 2,000 rows/s.
func TestMeasureRelayLag(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if *afterBacklog {
		if _, err := f.pool.Exec(ctx, `INSERT INTO `+f.table+` (event) SELECT '{}'::jsonb FROM generate_series(1, 100000)`); err != nil {
			t.Fatal(err)
		}
		if _, err := f.pool.Exec(ctx, `DELETE FROM `+f.table); err != nil {
			t.Fatal(err)
		}
		if *vacuum {
			if _, err := f.pool.Exec(ctx, `VACUUM `+f.table); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := f.relay(t, DefaultBatch, nil)
	r.cfg.Poll = DefaultPoll
	// Trickle: 2,000 rows/s for 10 s, one INSERT (autocommit) each, paced by a ticker
	// in groups of 20 every 10 ms; ts = the commit's time in unix ms.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = r.Run(runCtx); close(done) }()
	const rate, secs = 2000, 10
	tick := time.NewTicker(10 * time.Millisecond)
	sent := 0
	begin := time.Now()
	for sent < rate*secs {
		<-tick.C
		due := min(int(time.Since(begin).Seconds()*rate), rate*secs)
		var wg sync.WaitGroup
		for w := range 4 { // four producers, each one INSERT at a time
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := sent + w; i < due; i += 4 {
					ev := fmt.Sprintf(`{"id":"t%d","account":"a%d","entity":"x","key":"k%d","op":"upsert","version":1,"data":{},"ts":%d}`,
						i, i%500, i, time.Now().UnixMilli())
					if _, err := f.pool.Exec(ctx, `INSERT INTO `+f.table+` (event) VALUES ($1)`, ev); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		sent = max(sent, due)
	}
	tick.Stop()
	offered := float64(sent) / time.Since(begin).Seconds()
	testenv.WaitFor(t, time.Minute, "trickle relayed", func() bool {
		n, _ := f.rdb.XLen(ctx, f.keys.Events).Result()
		return int(n) == sent
	})
	cancel()
	<-done
	xs := f.stream(t, f.keys.Events)
	lags := make([]float64, 0, len(xs))
	for _, x := range xs {
		at, _ := strconv.ParseInt(strings.Split(x.ID, "-")[0], 10, 64)
		ts, _ := strconv.ParseInt(x.Values["ts"].(string), 10, 64)
		lags = append(lags, float64(at-ts))
	}
	slices.Sort(lags)
	q := func(p float64) float64 { return lags[int(p*float64(len(lags)-1))] }
	t.Logf("trickle: %d rows at %.0f rows/s offered; lag INSERT→stream p50 %.0f ms, p99 %.0f ms, max %.0f ms (poll %s)",
		sent, offered, q(0.5), q(0.99), lags[len(lags)-1], DefaultPoll)
}

// Relay throughput: 100,000 rows pre-inserted, drained by one relay.
func TestMeasureRelayBacklog(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const backlog = 100000
	ins := time.Now()
	if _, err := f.pool.Exec(ctx, `INSERT INTO `+f.table+` (event)
		SELECT jsonb_build_object('id', 'm' || g, 'account', 'a' || (g % 500), 'entity', 'x', 'key', 'k' || g,
		                          'op', 'upsert', 'version', g, 'data', jsonb_build_object('g', g, 's', 'some text'))
		FROM generate_series(1, $1) AS g`, backlog); err != nil {
		t.Fatal(err)
	}
	t.Logf("backlog: %d rows inserted (one INSERT … SELECT, one transaction) in %s", backlog, time.Since(ins).Round(time.Millisecond))
	r := f.relay(t, DefaultBatch, nil)
	start := time.Now()
	for {
		n, err := r.RelayOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	el := time.Since(start)
	t.Logf("backlog: %d rows relayed in %s = %.0f rows/s (batch %d)", backlog, el.Round(time.Millisecond), backlog/el.Seconds(), DefaultBatch)

}
