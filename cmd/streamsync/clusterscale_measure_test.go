//go:build measure

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/demo"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/loadtest"
	"github.com/streamsync/streamsync/partnersim"
)

// `make bench-cluster` = go test -tags measure -run MeasureClusterScale -v ./cmd/streamsync
// with these flags after the package to change the run.
var (
	clusterRows     = flag.String("cluster.rows", "1x1,1x3,1x6,1x12,2x6,3x6,3x12", "TestMeasureClusterScale: the rows, PROCESSESxSHARDS, comma-separated")
	clusterEvents   = flag.Int("cluster.events", 30000, "TestMeasureClusterScale: events per row")
	clusterAccounts = flag.Int("cluster.accounts", 2000, "TestMeasureClusterScale: accounts")
	clusterLatency  = flag.Duration("cluster.latency", time.Millisecond, "TestMeasureClusterScale: partnersim --latency")
	clusterProfile  = flag.String("cluster.profile", "", "TestMeasureClusterScale: the rows (e.g. 1x1,1x12) whose first process is CPU-profiled through the admin /debug/pprof/profile")
	clusterIdle     = flag.Duration("cluster.idle", 3*time.Second, "TestMeasureClusterScale: after each row, how long to measure the processes' CPU with nothing to do")
	clusterProfSecs = flag.Int("cluster.profile-seconds", 5, "TestMeasureClusterScale: length of that profile")
	clusterProfOut  = flag.String("cluster.profile-out", "", "TestMeasureClusterScale: the directory the profiles go to, as streamsync-cluster-PxS.pprof (default: the temp dir)")
	clusterTimeout  = flag.Duration("cluster.timeout", 5*time.Minute, "TestMeasureClusterScale: longest wait for one row to finish")
)

// clusterRow is one measured row.
type clusterRow struct {
	procs, shards int
	seconds       float64
	streamsyncCPU float64 // seconds, summed over the processes
	redisCPU      float64 // seconds, summed over the Cluster's nodes
	partnersimCPU float64
	// CPU seconds per second with every event finished and the processes
	// still running (their blocking reads, ZSET movers, lease and summary
	// timers), measured for -cluster.idle after the row.
	streamsyncIdle, redisIdle float64
	delivered, dead           int64
	stale                     int64 // events skipped as stale: a newer version of the record was there first
	answered                  int   // distinct events answered 2xx or 409 at the partner
	puts, overlaps            int64
	reorders                  int // PUTs of an account whose version went down
	stateOK                   bool
	otherKeys                 int64 // keys of someone else on the Cluster during the row
}

// TestMeasureClusterScale is a measurement, not a test of behaviour: for
// each row it pre-fills N upserts (the peer benchmark's work) into the
// shards of a key prefix of its own on the test Redis Cluster, starts P
// `streamsync run` processes (attempt log off) against a partnersim process,
// and waits until every event is finished: the step counters hold a terminal
// step for each, every shard's group has lag and pending 0, the delayed and
// retry ZSETs are empty. Then it reads the CPU each process used
// (/proc/PID/stat), the Cluster nodes' INFO cpu, and partnersim's answers.
// It fails only when a row is wrong (an event neither answered nor skipped,
// an overlap, a wrong final state at the partner, or — this work has no
// parents and no faults, so no event may overtake another — an event
// skipped as stale or an account's version going down at the partner),
// never on speed.
func TestMeasureClusterScale(t *testing.T) {
	rdb := testenv.RedisCluster(t)
	addrs := testenv.RedisClusterAddrs(t)
	rows, err := parseClusterRows(*clusterRows)
	if err != nil {
		t.Fatal(err)
	}
	sim := buildPartnersim(t)
	work := loadtest.Upserts(loadtest.UpsertsConfig{N: *clusterEvents, Accounts: *clusterAccounts, Seed: 13})
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("%s: %d events over %d accounts per row, partnersim --latency %s, load average %s",
		time.Now().UTC().Format(time.RFC3339), len(work), *clusterAccounts, *clusterLatency, strings.Join(strings.Fields(string(load))[:3], " "))
	var out []clusterRow
	for _, r := range rows {
		row := measureClusterRow(t, rdb, addrs, sim, work, r[0], r[1])
		out = append(out, row)
		t.Logf("%dx%d: %.2f s, %.0f events/s, streamsync %.0f µs/event, Redis %.0f µs/event", row.procs, row.shards,
			row.seconds, float64(len(work))/row.seconds, 1e6*row.streamsyncCPU/float64(len(work)), 1e6*row.redisCPU/float64(len(work)))
	}
	load, _ = os.ReadFile("/proc/loadavg")
	t.Logf("load average at the end %s", strings.Join(strings.Fields(string(load))[:3], " "))
	n := float64(len(work))
	var b strings.Builder
	fmt.Fprintln(&b, "| processes | shards | seconds | events/s | streamsync CPU s | Redis CPU s (3 nodes) | partnersim CPU s | streamsync µs/event | Redis µs/event | idle streamsync / Redis CPU (ms/s) |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range out {
		fmt.Fprintf(&b, "| %d | %d | %.1f | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f / %.0f |\n", r.procs, r.shards, r.seconds, n/r.seconds,
			r.streamsyncCPU, r.redisCPU, r.partnersimCPU, 1e6*r.streamsyncCPU/n, 1e6*r.redisCPU/n, 1e3*r.streamsyncIdle, 1e3*r.redisIdle)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| processes | shards | outcome |")
	fmt.Fprintln(&b, "|---|---|---|")
	for _, r := range out {
		fmt.Fprintf(&b, "| %d | %d | %s |\n", r.procs, r.shards, r.verdict(len(work)))
	}
	t.Log("\n" + b.String())
}

func (r clusterRow) verdict(n int) string {
	s := fmt.Sprintf("%d/%d answered by the partner, %d skipped as stale, %d dead, %d overlaps, %d reorders", r.answered, n, r.stale, r.dead, r.overlaps, r.reorders)
	if r.stateOK {
		s += ", partner state ok"
	} else {
		s += ", partner state WRONG"
	}
	if r.otherKeys > 0 {
		s += fmt.Sprintf(" (%d other keys on the Cluster)", r.otherKeys)
	}
	return s
}

func parseClusterRows(s string) ([][2]int, error) {
	var rows [][2]int
	for _, f := range strings.Split(s, ",") {
		p, sh, ok := strings.Cut(strings.TrimSpace(f), "x")
		np, err1 := strconv.Atoi(p)
		ns, err2 := strconv.Atoi(sh)
		if !ok || err1 != nil || err2 != nil || np < 1 || ns < 1 {
			return nil, fmt.Errorf("-cluster.rows: %q is not PROCESSESxSHARDS", f)
		}
		rows = append(rows, [2]int{np, ns})
	}
	return rows, nil
}

// buildPartnersim builds cmd/partnersim into the test's temp dir.
func buildPartnersim(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "partnersim")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/streamsync/streamsync/cmd/partnersim")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build partnersim: %v\n%s", err, out)
	}
	return bin
}

func measureClusterRow(t *testing.T, rdb *redis.ClusterClient, addrs []string, simBin string, work []demo.Entry, procs, nShards int) clusterRow {
	ctx := context.Background()
	row := clusterRow{procs: procs, shards: nShards}
	prefix := fmt.Sprintf("%sp%ds%d:", testenv.Prefix(t), procs, nShards)
	defer testenv.DeleteKeys(rdb, prefix)
	shards := layout.NewShards(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry", nShards, true)

	// Pre-fill, before anything is measured.
	for i := 0; i < len(work); i += 5000 {
		pipe := rdb.Pipeline()
		for _, e := range work[i:min(i+5000, len(work))] {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: shards.Stream(e.Get("account")), Values: e.Values()})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}

	simAddr := freeAddr(t)
	simCmd := exec.Command(simBin, "--addr", simAddr, "--latency", clusterLatency.String())
	simLog := &strings.Builder{}
	simCmd.Stdout, simCmd.Stderr = simLog, simLog
	if err := simCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = simCmd.Process.Signal(syscall.SIGTERM); _ = simCmd.Wait() }()
	simURL := "http://" + simAddr
	testenv.WaitFor(t, 30*time.Second, "partnersim answers", func() bool { _, err := simStats(simURL); return err == nil })

	env := []string{
		"STREAMSYNC_REDIS__ADDRS=" + strings.Join(addrs, ","), "STREAMSYNC_STREAM__SHARDS=" + strconv.Itoa(nShards),
		"STREAMSYNC_STREAM__EVENTS=" + prefix + "events", "STREAMSYNC_STREAM__GROUP=g", "STREAMSYNC_STREAM__DEAD=" + prefix + "dead",
		"STREAMSYNC_STREAM__DELAYED=" + prefix + "delayed", "STREAMSYNC_STREAM__RETRY=" + prefix + "retry",
		"STREAMSYNC_LOG__LEVEL=warn", "STREAMSYNC_CLICKHOUSE__ADDR=",
		"STREAMSYNC_SINK__BASE_URL=" + simURL, "STREAMSYNC_SINK__CLIENT_ID=" + partnersim.DefaultClientID,
		"STREAMSYNC_SINK__CLIENT_SECRET=" + partnersim.DefaultClientSecret,
	}
	name := fmt.Sprintf("%dx%d", procs, nShards)
	profiled := slices.Contains(strings.Split(*clusterProfile, ","), name)
	adminAddr := ""
	if profiled {
		adminAddr = freeAddr(t)
	}

	redisBefore := clusterCPU(t, addrs)
	simBefore := loadtest.ProcCPUSeconds(simCmd.Process.Pid)
	start := time.Now()
	ps := make([]*process, procs)
	for i := range ps {
		admin := ""
		if i == 0 {
			admin = adminAddr
		}
		// Profiles are served only behind admin.token.
		ps[i] = startProcess(t, append(env, fmt.Sprintf("STREAMSYNC_STREAM__CONSUMER=c%d", i), "STREAMSYNC_ADMIN__ADDR="+admin,
			"STREAMSYNC_ADMIN__TOKEN="+profileToken))
	}
	defer func() {
		for _, p := range ps {
			p.kill()
		}
	}()
	profDone := make(chan struct{})
	if profiled {
		go func() {
			defer close(profDone)
			fetchProfile(t, adminAddr, name)
		}()
	} else {
		close(profDone)
	}

	// Poll only the step counters (one HGETALL per shard) until each event has
	// a terminal step, so that the polling costs Redis next to nothing; then
	// the whole status.
	deadline := start.Add(*clusterTimeout)
	var st inspect.Status
	for {
		if terminalSteps(ctx, rdb, shards) >= int64(len(work)) {
			var err error
			if st, err = inspect.ReadShardsStatus(ctx, rdb, shards); err == nil &&
				st.Lag == 0 && st.Pending == 0 && st.Delayed == 0 && st.Retrying == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			var outs strings.Builder
			for i, p := range ps {
				fmt.Fprintf(&outs, "process %d:\n%s\n", i, tail(p.out.String(), 2000))
			}
			t.Fatalf("%dx%d: not finished after %s: %+v\n%s", procs, nShards, *clusterTimeout, st, outs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	row.seconds = time.Since(start).Seconds()
	for _, p := range ps {
		row.streamsyncCPU += loadtest.ProcCPUSeconds(p.cmd.Process.Pid)
	}
	row.redisCPU = clusterCPU(t, addrs) - redisBefore
	row.partnersimCPU = loadtest.ProcCPUSeconds(simCmd.Process.Pid) - simBefore
	<-profDone
	if *clusterIdle > 0 {
		ssIdle, redisIdle := 0.0, clusterCPU(t, addrs)
		for _, p := range ps {
			ssIdle -= loadtest.ProcCPUSeconds(p.cmd.Process.Pid)
		}
		time.Sleep(*clusterIdle) // a measurement of idleness, not a wait for a condition
		for _, p := range ps {
			ssIdle += loadtest.ProcCPUSeconds(p.cmd.Process.Pid)
		}
		row.streamsyncIdle = ssIdle / clusterIdle.Seconds()
		row.redisIdle = (clusterCPU(t, addrs) - redisIdle) / clusterIdle.Seconds()
	}
	row.delivered, row.stale, row.dead = st.Steps["delivered"], st.Steps["skipped_stale"], st.Dead

	checkClusterRow(t, &row, simURL, work)
	row.otherKeys = otherKeys(t, rdb, prefix)
	if row.answered+int(row.stale) != len(work) || row.overlaps != 0 || !row.stateOK || row.dead != 0 {
		t.Errorf("%dx%d: not every event finished right: %s, %d dead letters", procs, nShards, row.verdict(len(work)), row.dead)
	}
	if row.reorders != 0 || row.stale != 0 {
		t.Errorf("%dx%d: per-account stream order broken (docs/events.md, docs/scaling.md): %d PUTs of an account with a lower version than one before, %d events skipped as stale",
			procs, nShards, row.reorders, row.stale)
	}
	return row
}

// terminalSteps is the number of terminal steps counted over the shards.
func terminalSteps(ctx context.Context, rdb redis.UniversalClient, shards layout.Shards) int64 {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(shards))
	for i, k := range shards {
		cmds[i] = pipe.HGetAll(ctx, k.Steps)
	}
	_, _ = pipe.Exec(ctx)
	var n int64
	for _, c := range cmds {
		for step, v := range c.Val() {
			if !isWaiting(step) {
				c, _ := strconv.ParseInt(v, 10, 64)
				n += c
			}
		}
	}
	return n
}

// clusterCPU is the user+system CPU seconds the Cluster's nodes have used
// since they started (INFO cpu of each node).
func clusterCPU(t *testing.T, addrs []string) float64 {
	t.Helper()
	var total float64
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		info, err := c.Info(context.Background(), "cpu").Result()
		_ = c.Close()
		if err != nil {
			t.Fatalf("INFO cpu of %s: %v", a, err)
		}
		sc := bufio.NewScanner(strings.NewReader(info))
		for sc.Scan() {
			name, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), ":")
			if name == "used_cpu_sys" || name == "used_cpu_user" {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
	}
	return total
}

// otherKeys counts keys outside prefix on the Cluster's masters: another
// user's work, whose Redis CPU the row's figures would then include.
func otherKeys(t *testing.T, rdb *redis.ClusterClient, prefix string) int64 {
	t.Helper()
	var n int64
	_ = rdb.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			if !strings.HasPrefix(iter.Val(), prefix) {
				n++
			}
		}
		return iter.Err()
	})
	return n
}

func simStats(url string) (partnersim.Stats, error) {
	var st partnersim.State
	// An account no event has: the counters without the records.
	resp, err := http.Get(url + "/_sim/state?account=-none-")
	if err != nil {
		return st.Stats, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st.Stats, fmt.Errorf("/_sim/state: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st.Stats, err
}

// checkClusterRow reads partnersim's log and state: how many events were
// answered 2xx or 409 (docs/partner-api.md: both end an event), whether any
// account's versions went down in arrival order, the overlap counter, and
// whether every record holds the newest version and data of the work.
func checkClusterRow(t *testing.T, row *clusterRow, url string, work []demo.Entry) {
	t.Helper()
	ended := map[string]bool{}
	lastVersion := map[string]int64{}
	for since := int64(0); ; {
		var page struct {
			Entries []partnersim.LogEntry `json:"entries"`
			Next    int64                 `json:"next"`
		}
		getJSON(t, fmt.Sprintf("%s/_sim/log?since=%d&limit=10000", url, since), &page)
		if len(page.Entries) == 0 {
			break
		}
		for _, e := range page.Entries {
			row.puts++
			if e.Status/100 == 2 || e.Status == http.StatusConflict {
				ended[e.IdempotencyKey] = true
			}
			if e.Version < lastVersion[e.Account] {
				if row.reorders++; row.reorders <= 2 {
					t.Logf("reorder: %+v after version %d", e, lastVersion[e.Account])
				}
			}
			lastVersion[e.Account] = max(lastVersion[e.Account], e.Version)
		}
		since = page.Next
	}
	for _, e := range work {
		if ended[e.Get("id")] {
			row.answered++
		}
	}
	var st partnersim.State
	getJSON(t, url+"/_sim/state", &st)
	row.overlaps = st.Stats.Overlaps
	want := demo.Expected(work)
	row.stateOK = len(st.Records) == len(want)
	for _, r := range st.Records {
		w, ok := want[r.Entity+"/"+r.Key]
		if !ok || r.Deleted || r.Version != w.Version || string(r.Data) != w.Data {
			row.stateOK = false
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

// profileToken is the admin.token of the measured processes.
const profileToken = "measure-profile"

// fetchProfile takes a CPU profile of the process whose admin server is at
// addr and writes it to -cluster.profile-out.
func fetchProfile(t *testing.T, addr, row string) {
	out := *clusterProfOut
	if out == "" {
		out = os.TempDir()
	}
	out = filepath.Join(out, fmt.Sprintf("streamsync-cluster-%s.pprof", row))
	var resp *http.Response
	var err error
	for i := 0; i < 100; i++ { // the admin server listens a moment after start
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, *clusterProfSecs), nil)
		req.Header.Set("Authorization", "Bearer "+profileToken)
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	_ = os.MkdirAll(filepath.Dir(out), 0o755)
	f, err := os.Create(out)
	if err != nil {
		t.Errorf("profile: %v", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		t.Errorf("profile: %v", err)
		return
	}
	t.Logf("profile of the first process (%s, %d s): %s", row, *clusterProfSecs, out)
}
