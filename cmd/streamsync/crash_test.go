package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/demo"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// process is a streamsync run started as a child process.
type process struct {
	cmd *exec.Cmd
	out *strings.Builder
}

func startProcess(tb testing.TB, env []string, args ...string) *process {
	tb.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"run"}, args...)...)
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return &process{cmd: cmd, out: out}
}

func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// 20,000 events over 2,000 accounts, 5% partner 503s, tokens that expire
// every few seconds, and the pipeline killed with SIGKILL three times: at
// the end the partner holds exactly what the events say, every event has
// one terminal step, and no account ever had two requests at the partner at
// once.
func TestCrashRecovery(t *testing.T) {
	rdb, keys, env := streams(t, "crash")
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec", TokenTTL: 3 * time.Second,
		Faults: partnersim.Faults{ErrorRate: 0.05, Latency: partnersim.Duration(time.Millisecond)}, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)

	story := demo.Story(demo.StoryConfig{Seed: 7, Accounts: 2000, Events: 30000})
	if len(story) < 20000 {
		t.Fatalf("story has %d entries, want at least 20,000", len(story))
	}
	conn, db := testenv.ClickHouse(t)
	env = append(env,
		"STREAMSYNC_CLICKHOUSE__ADDR="+testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE="+db, "STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+t.TempDir(),
		"STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET=sec",
		"STREAMSYNC_RETRY__INITIAL=20ms", "STREAMSYNC_RETRY__MAX=500ms", "STREAMSYNC_SINK__TIMEOUT=3s")
	ctx := context.Background()
	add := func(entries []demo.Entry) {
		pipe := rdb.Pipeline()
		for _, e := range entries {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: e.Values()})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	half := len(story) / 2
	add(story[:half])

	terminalRows := func() int64 {
		n, _ := rdb.HGet(ctx, keys.Steps, "delivered").Int64()
		return n
	}
	p := startProcess(t, env)
	t.Cleanup(func() { p.kill() })
	for i, at := range []int64{2000, 5000, 8000} {
		testenv.WaitFor(t, 2*time.Minute, fmt.Sprintf("%d rows before kill %d", at, i+1), func() bool { return terminalRows() >= at })
		p.kill()
		if i == 0 {
			add(story[half:])
		}
		p = startProcess(t, env)
	}

	ids := make([]string, len(story))
	for i, e := range story {
		ids[i] = e.Get("id")
	}
	steps := waitAllTerminal(t, conn, db, ids, 4*time.Minute, p)
	assertNoRowMissing(t, rdb, layout.Shards{keys}, conn, db)
	p.kill()
	checkOutcome(t, story, steps, inspect.DeadOps{RDB: rdb, Keys: keys}, sim)
}

// checkOutcome: every event has exactly one terminal step with the reason
// it should have, only invalid entries are dead letters, the partner holds
// exactly the newest version of every record, and no account ever had two
// requests at the partner at once.
func checkOutcome(t *testing.T, story []demo.Entry, steps map[string][]string, ops inspect.DeadOps, sim *partnersim.Server) {
	t.Helper()
	ctx := context.Background()
	// Every event has exactly one terminal step, with the reason it should have.
	for _, e := range story {
		id := e.Get("id")
		var term []string
		for _, s := range steps[id] {
			if !isWaiting(s) {
				term = append(term, s)
			}
		}
		if len(term) != 1 {
			t.Errorf("%s (%s): steps %v, want one terminal step", id, e.Kind, steps[id])
			continue
		}
		switch {
		case e.Kind == "malformed" && term[0] != "invalid":
			t.Errorf("malformed %s ended %s", id, term[0])
		case e.Kind == "echo" && term[0] != "skipped_loop":
			t.Errorf("echo %s ended %s", id, term[0])
		case e.Kind == "event" && term[0] != "delivered" && !strings.HasPrefix(term[0], "skipped_"):
			t.Errorf("event %s ended %s: %v", id, term[0], steps[id])
		}
	}
	dead, _, _ := ops.List(ctx, inspect.DeadFilter{All: true}, "", 100000)
	for _, d := range dead {
		if d.Reason != "invalid" {
			t.Errorf("dead letter %s: %s %s", d.EventID, d.Reason, d.Error)
		}
	}

	// The partner holds exactly the newest version of every record.
	want := demo.Expected(story)
	got := map[string]partnersim.RecordState{}
	for _, r := range sim.Snapshot("").Records {
		got[r.Entity+"/"+r.Key] = r
	}
	mismatch := 0
	for k, w := range want {
		g, ok := got[k]
		switch {
		case w.Deleted && (!ok || g.Deleted && g.Version == w.Version):
		case !w.Deleted && ok && !g.Deleted && g.Version == w.Version && string(g.Data) == w.Data:
		default:
			if mismatch++; mismatch <= 10 {
				t.Errorf("record %s: partner has %+v, want %+v", k, g, w)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("partner has %s, which no event made", k)
		}
	}
	if st := sim.Snapshot("").Stats; st.Overlaps != 0 {
		t.Errorf("partner saw %d overlapping requests of one account", st.Overlaps)
	}
	t.Logf("%d entries, %d records, %d dead letters (invalid), partner answered %v", len(story), len(want), len(dead), sim.Snapshot("").Stats.ByStatus)
}

func isWaiting(step string) bool {
	switch handlers.Step(step) {
	case handlers.StepParked, handlers.StepRetryScheduled, handlers.StepReleased, handlers.StepReplayed:
		return true
	}
	return false
}

// waitAllTerminal waits until the attempt log in ClickHouse has a terminal
// step for every id, and returns all steps by event id.
func waitAllTerminal(t *testing.T, conn driver.Conn, db string, ids []string, d time.Duration, p *process) map[string][]string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		steps := chSteps(t, conn, db)
		missing := 0
		for _, id := range ids {
			if !hasTerminal(steps[id]) {
				missing++
			}
		}
		if missing == 0 {
			return steps
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events without a terminal step in the attempt log; process output:\n%s", missing, tail(p.out.String(), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// chSteps reads every event's steps from the attempt log, in time order.
func chSteps(t *testing.T, conn driver.Conn, db string) map[string][]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT event_id, arrayMap(x -> x.4, arraySort(groupArray((ts, ts_ms, row_id, step)))) FROM "+db+".attempts FINAL GROUP BY event_id")
	if err != nil {
		if strings.Contains(err.Error(), "doesn't exist") {
			return nil
		}
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var id string
		var steps []string
		if err := rows.Scan(&id, &steps); err != nil {
			t.Fatal(err)
		}
		out[id] = steps
	}
	return out
}

func hasTerminal(steps []string) bool {
	for _, s := range steps {
		if !isWaiting(s) {
			return true
		}
	}
	return false
}

// assertNoRowMissing: every step the pipeline counted has its row in
// ClickHouse, once the exporter has emptied the attempts stream.
func assertNoRowMissing(t *testing.T, rdb redis.UniversalClient, shards layout.Shards, conn driver.Conn, db string) {
	t.Helper()
	ctx := context.Background()
	testenv.WaitFor(t, time.Minute, "the attempts streams exported", func() bool {
		for _, k := range shards {
			if n, _ := rdb.XLen(ctx, k.Attempts).Result(); n != 0 {
				return false
			}
		}
		return true
	})
	var want uint64
	for _, k := range shards {
		counts, _ := rdb.HGetAll(ctx, k.Steps).Result()
		for _, v := range counts {
			n, _ := strconv.ParseUint(v, 10, 64)
			want += n
		}
	}
	var got uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(row_id) FROM "+db+".attempts").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want || want == 0 {
		t.Fatalf("%d distinct rows in ClickHouse, %d steps counted", got, want)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
