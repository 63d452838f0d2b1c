package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/demo"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/loadtest"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// offerLevel offers one rate for the level's duration, waits until every
// accepted event settled, and measures.
func offerLevel(ctx context.Context, o options, sys *system, rdb *redis.Client, i, rate int, collect func(), all *[]loadtest.Sample) (loadtest.LevelResult, error) {
	// A whole story of about rate × duration events: cutting one short would
	// leave children whose parents never come (they would wait max_wait).
	n := int(float64(rate) * o.duration.Seconds())
	// Through the ingest the story carries no echoes: it refuses a
	// partner's origin (docs/security.md); --mode xadd keeps them.
	echoes := 0.0
	if o.mode != "xadd" || o.k6 != "" {
		echoes = -1
	}
	story := demo.Story(demo.StoryConfig{Seed: o.seed*1000 + uint64(i), Accounts: min(o.accounts, max(1, n/10)), Events: n * 3 / 2, EchoShare: echoes})
	duration := time.Duration(float64(len(story)) / float64(rate) * float64(time.Second))
	fromSample := len(*all)
	logFrom := simLogNext(sys)
	if i == len(o.levels)-1 {
		sys.captureProfile(min(o.duration, 15*time.Second))
	}
	start := time.Now()
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	bf := startBackfill(sctx, o, sys, rdb)
	var sent []loadtest.Sent
	var k6 k6Summary
	var err error
	mode := o.mode
	switch {
	case o.k6 != "":
		mode = "k6"
		sent, k6, err = k6Attack(ctx, o, sys, rdb, story, rate, duration)
		if err != nil {
			return loadtest.LevelResult{}, err
		}
	default:
		sent = loadtest.Attack(ctx, o.mode, sys.ingestURL, sys.ingestToken, rdb, sys.keys.Events, story, rate, o.batch)
		if o.batch > 1 {
			mode = fmt.Sprintf("ingest, %d per request", o.batch)
		}
	}
	sendTime := time.Since(start)
	l := loadtest.LevelResult{Name: fmt.Sprintf("%d/s", rate), Mode: mode, OfferedRate: rate, Duration: duration, Sent: sent}
	<-bf.done // the backfill's events are in the stream before settling waits for quiet
	settle(ctx, o, sys, &l)
	stopSampling()
	collect()
	l.Samples = append(l.Samples, (*all)[fromSample:]...)
	entries := measure(&l, sys, logFrom, sendTime, start)
	sys.notes = append(sys.notes, bf.note(fmt.Sprintf("%d/s", rate), entries))
	if k6.Rate > 0 { // k6 timed its requests itself; the time around it includes its start-up
		l.Ingest, l.AchievedRate = k6.Ingest, k6.Rate
	}
	return l, nil
}

// drainLevel pre-fills a backlog with the pipeline's reading paused behind
// it, then measures the drain.
func drainLevel(ctx context.Context, o options, sys *system, rdb *redis.Client, collect func(), all *[]loadtest.Sample) (loadtest.LevelResult, error) {
	story := demo.Story(demo.StoryConfig{Seed: o.seed, Accounts: o.accounts, Events: o.backlog * 3 / 2})
	log.Printf("appending a backlog of %d events", len(story))
	start := time.Now()
	sent := make([]loadtest.Sent, 0, len(story))
	for i := 0; i < len(story); i += 1000 {
		pipe := rdb.Pipeline()
		now := time.Now()
		for _, e := range story[i:min(i+1000, len(story))] {
			e = demo.WithTS(e, now)
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: sys.keys.Events, Values: e.Values()})
			sent = append(sent, loadtest.Sent{ID: e.Get("id"), Kind: e.Kind, At: now, Accepted: true})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return loadtest.LevelResult{}, err
		}
	}
	logFrom := simLogNext(sys)
	l := loadtest.LevelResult{Name: fmt.Sprintf("backlog %d", o.backlog), Mode: "xadd backlog", Duration: time.Since(start), Sent: sent}
	o.drainTimeout = max(o.drainTimeout, 30*time.Minute)
	settle(ctx, o, sys, &l)
	collect()
	l.Samples = *all
	_ = measure(&l, sys, logFrom, time.Since(start), start)
	return l, nil
}

// settle waits until every accepted event of the level has a terminal step
// in the attempt log (or the drain timeout), and makes the verdict.
func settle(ctx context.Context, o options, sys *system, l *loadtest.LevelResult) {
	conn, err := attemptlog.Open(attemptlog.Options{Addr: o.chAddr, Username: "default"})
	if err != nil {
		log.Printf("clickhouse: %v", err)
		return
	}
	defer conn.Close()
	steps := map[string][]string{}
	deadline := time.Now().Add(o.drainTimeout)
	// First wait, cheaply, for the pipeline to go quiet: nothing to read,
	// pending, parked, retrying or waiting for export. Only then ask
	// ClickHouse (asking it all along would load the machine being measured).
	for !quiet(ctx, sys) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
	}
	for {
		var missing []string
		for _, s := range l.Sent {
			if s.Accepted && !settled(steps[s.ID]) {
				missing = append(missing, s.ID)
			}
		}
		if err := readSteps(ctx, conn, sys.db, missing, steps); err != nil {
			log.Printf("reading the attempt log: %v", err)
		}
		l.Verdict = loadtest.Account(l.Sent, steps)
		if l.Verdict.OK() || time.Now().After(deadline) || ctx.Err() != nil {
			l.Waited = map[string]bool{}
			for id, st := range steps {
				for _, s := range st {
					if s == "parked" || s == "retry_scheduled" {
						l.Waited[id] = true
					}
				}
			}
			return
		}
		time.Sleep(2 * time.Second)
	}
}

// readSteps adds the steps of the missing events to steps: all rows in one
// pass when many are missing, else only theirs (has() over a list is linear,
// and a query must stay under max_query_size).
func readSteps(ctx context.Context, conn driver.Conn, db string, missing []string, steps map[string][]string) error {
	if len(missing) == 0 {
		return nil
	}
	q := "SELECT event_id, groupArray(step) FROM `" + db + "`.attempts GROUP BY event_id"
	var chunks [][]string
	if len(missing) <= 20000 {
		q = "SELECT event_id, groupArray(step) FROM `" + db + "`.attempts WHERE has(@ids, event_id) GROUP BY event_id"
		for i := 0; i < len(missing); i += 5000 {
			chunks = append(chunks, missing[i:min(i+5000, len(missing))])
		}
	} else {
		chunks = [][]string{nil}
	}
	for _, chunk := range chunks {
		var args []any
		if chunk != nil {
			args = append(args, clickhouse.Named("ids", chunk))
		}
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var st []string
			if rows.Scan(&id, &st) == nil {
				steps[id] = st
			}
		}
		rows.Close()
	}
	return nil
}

// quiet reports whether the pipeline has nothing left to do.
func quiet(ctx context.Context, sys *system) bool {
	st, err := inspect.ReadStatus(ctx, sys.rdb, sys.keys)
	return err == nil && st.Lag == 0 && st.Pending == 0 && st.Delayed == 0 && st.Retrying == 0 && st.Attempts == 0
}

func settled(steps []string) bool {
	for _, s := range steps {
		if s == "delivered" || s == "dead" || s == "invalid" || strings.HasPrefix(s, "skipped_") {
			return true
		}
	}
	return false
}

type simEntry struct {
	Seq            int64  `json:"seq"`
	AtUS           int64  `json:"at_us"`
	Method         string `json:"method"`
	IdempotencyKey string `json:"idempotency_key"`
	Status         int    `json:"status"`
}

func simLog(sys *system, since int64) ([]simEntry, int64) {
	var all []simEntry
	for {
		resp, err := http.Get(fmt.Sprintf("%s/_sim/log?since=%d&limit=50000", sys.simURL, since))
		if err != nil {
			return all, since
		}
		var page struct {
			Entries []simEntry `json:"entries"`
			Next    int64      `json:"next"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || len(page.Entries) == 0 {
			return all, since
		}
		all = append(all, page.Entries...)
		since = page.Next
	}
}

func simLogNext(sys *system) int64 {
	_, next := simLog(sys, 0)
	return next
}

// measure fills in the rates and latencies of a settled level, and returns
// partnersim's log entries of the level.
func measure(l *loadtest.LevelResult, sys *system, logFrom int64, sendTime time.Duration, start time.Time) []simEntry {
	entries, _ := simLog(sys, logFrom)
	for _, e := range entries {
		if !strings.HasPrefix(e.IdempotencyKey, "bf-") { // a backfill's calls are not the level's (backfill.go)
			l.PartnerCalls++
		}
	}
	sentAt := make(map[string]time.Time, len(l.Sent))
	var ingest []time.Duration
	accepted := 0
	for _, s := range l.Sent {
		if s.Accepted {
			accepted++
			sentAt[s.ID] = s.At
			ingest = append(ingest, s.Latency)
		}
	}
	l.Ingest = loadtest.Percentile(ingest)
	l.AchievedRate = float64(accepted) / sendTime.Seconds()
	seen := map[string]bool{}
	var e2e, e2eAll []time.Duration
	var last time.Time
	for _, e := range entries {
		ok := e.Status >= 200 && e.Status < 300 || e.Method == http.MethodDelete && e.Status == 404
		if !ok || seen[e.IdempotencyKey] || strings.HasPrefix(e.IdempotencyKey, "bf-") { // a backfill's (backfill.go)
			continue
		}
		seen[e.IdempotencyKey] = true
		at := time.UnixMicro(e.AtUS)
		l.Arrivals = append(l.Arrivals, loadtest.Arrival{ID: e.IdempotencyKey, At: at})
		if t, ok := sentAt[e.IdempotencyKey]; ok {
			e2eAll = append(e2eAll, at.Sub(t))
			if !l.Waited[e.IdempotencyKey] {
				e2e = append(e2e, at.Sub(t))
			}
		}
		if at.After(last) {
			last = at
		}
	}
	l.EndToEnd = loadtest.Percentile(e2e)
	l.EndToEndAll = loadtest.Percentile(e2eAll)
	if len(l.Arrivals) > 0 {
		l.DeliveredRate = float64(len(l.Arrivals)) / last.Sub(start).Seconds()
	}
	return entries
}
