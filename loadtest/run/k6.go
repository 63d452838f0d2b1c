package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/demo"
	"github.com/streamsync/streamsync/loadtest"
)

// k6Attack offers the story with loadtest/k6/ingest.js: the events go to k6
// as a JSON file (one generator for both tools); what ingest accepted is what
// reached the events stream.
func k6Attack(ctx context.Context, o options, sys *system, rdb *redis.Client, story []demo.Entry, rate int, d time.Duration) ([]loadtest.Sent, k6Summary, error) {
	file := filepath.Join(sys.dir, fmt.Sprintf("events-%d.json", rate))
	objs := make([]json.RawMessage, len(story))
	for i, e := range story {
		objs[i] = e.JSON()
	}
	b, _ := json.Marshal(objs)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return nil, k6Summary{}, err
	}
	abs, _ := filepath.Abs(file)
	before, _ := rdb.XLen(ctx, sys.keys.Events).Result()
	start := time.Now()
	summaryPath := filepath.Join(sys.dir, fmt.Sprintf("k6-summary-%d.json", rate))
	cmd := exec.CommandContext(ctx, o.k6, "run", "--quiet", "--summary-export", summaryPath,
		"-e", "INGEST_URL="+sys.ingestURL, "-e", "STREAMSYNC_INGEST_TOKEN="+sys.ingestToken, "-e", "EVENTS_FILE="+abs, "-e", "RATE="+strconv.Itoa(rate), "-e", "DURATION="+d.String(),
		"loadtest/k6/ingest.js")
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(sys.dir, fmt.Sprintf("k6-%d.log", rate)), out, 0o644)
	if err != nil {
		return nil, k6Summary{}, fmt.Errorf("k6: %w (see %s)", err, sys.dir)
	}
	sum := readK6Summary(summaryPath)
	// The entries k6 got accepted, with the ts k6 stamped at sending.
	sentByID := map[string]loadtest.Sent{}
	page, _ := rdb.XRangeN(ctx, sys.keys.Events, "-", "+", before+int64(len(story))+10).Result()
	for _, m := range page {
		id, _ := m.Values["id"].(string)
		ts, _ := strconv.ParseInt(fmt.Sprint(m.Values["ts"]), 10, 64)
		if ts < start.UnixMilli()-1000 {
			continue
		}
		sentByID[id] = loadtest.Sent{ID: id, At: time.UnixMilli(ts), Accepted: true}
	}
	sent := make([]loadtest.Sent, 0, len(story))
	for _, e := range story {
		id := e.Get("id")
		if s, ok := sentByID[id]; ok {
			s.Kind = e.Kind
			sent = append(sent, s)
		} else if e.Kind == "malformed" {
			sent = append(sent, loadtest.Sent{ID: id, Kind: e.Kind, Reason: "400 refused by ingest (malformed)"})
		}
	}
	return sent, sum, nil
}

// k6Summary is what k6 measured of the requests.
type k6Summary struct {
	Ingest loadtest.Percentiles
	Rate   float64
}

func readK6Summary(path string) k6Summary {
	var s struct {
		Metrics map[string]map[string]any `json:"metrics"` // values are numbers, or objects for thresholds
	}
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &s) != nil {
		return k6Summary{}
	}
	num := func(metric, stat string) float64 { v, _ := s.Metrics[metric][stat].(float64); return v }
	ms := func(stat string) time.Duration {
		return time.Duration(num("http_req_duration", stat) * float64(time.Millisecond))
	}
	return k6Summary{
		Ingest: loadtest.Percentiles{N: int(num("http_reqs", "count")), P50: ms("med"), P90: ms("p(90)"), P99: ms("p(99)"), Max: ms("max")},
		Rate:   num("http_reqs", "rate"),
	}
}
