//go:build measure

package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/demo"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/loadtest"
	"github.com/streamsync/streamsync/partnersim"
)

// `make bench-partners` = go test -tags measure -run MeasurePartnerIsolation -v ./cmd/streamsync
// with these flags after the package to change the run.
var (
	isoRuns       = flag.String("partners.runs", "healthy,outage,healthy,outage", "TestMeasurePartnerIsolation: the runs in order, each healthy (both partners up) or outage (partner b down for -partners.outage-for)")
	isoRate       = flag.Int("partners.rate", 1000, "TestMeasurePartnerIsolation: events a second offered on POST /v1/events")
	isoDuration   = flag.Duration("partners.duration", 90*time.Second, "TestMeasurePartnerIsolation: how long each run offers events")
	isoOutageAt   = flag.Duration("partners.outage-at", 15*time.Second, "TestMeasurePartnerIsolation: when partner b goes down, from the first event sent")
	isoOutageFor  = flag.Duration("partners.outage-for", 60*time.Second, "TestMeasurePartnerIsolation: how long partner b stays down")
	isoAccounts   = flag.Int("partners.accounts", 2000, "TestMeasurePartnerIsolation: accounts the events spread over")
	isoLatency    = flag.Duration("partners.latency", time.Millisecond, "TestMeasurePartnerIsolation: partnersim --latency of both partners")
	isoClickHouse = flag.Bool("partners.clickhouse", true, "TestMeasurePartnerIsolation: attempt log on (ClickHouse), as in production")
	isoProfile    = flag.String("partners.profile", "", "TestMeasurePartnerIsolation: a directory: CPU-profile streamsync (admin /debug/pprof/profile) for -partners.profile-seconds from the outage's end (the catch-up; the same moment in a healthy run) in each run, into RUN-N.pprof")
	isoProfSecs   = flag.Int("partners.profile-seconds", 10, "TestMeasurePartnerIsolation: length of that profile")
	isoEnv        = flag.String("partners.env", "", "TestMeasurePartnerIsolation: more settings of the streamsync process, NAME=VALUE separated by spaces (e.g. STREAMSYNC_PARTNERS__B__RATE_LIMIT=2000)")
	isoTimeout    = flag.Duration("partners.timeout", 10*time.Minute, "TestMeasurePartnerIsolation: longest wait, after the last event is sent, for both partners to have every event")
)

// isoRun is what one run measured.
type isoRun struct {
	name            string
	sent, accepted  int
	sendSeconds     float64
	a, b            isoPartner
	outageFrom      time.Time // zero when b stayed up
	outageTo        time.Time
	start, sendEnd  time.Time
	streamsyncCPU   float64 // seconds of CPU from the first event sent to the last event finished
	redisCPU        float64
	simCPU          [2]float64
	driverCPU       float64 // this process: vegeta, the outage schedule, the polling
	machineCPU      float64 // seconds of CPU the whole machine used (every process, ours and others'), same span
	loadBefore      string
	loadAfter       string
	finishedSeconds float64 // from the first event sent until both partners had every event
}

// isoPartner is one partner's side of a run.
type isoPartner struct {
	delivered   int     // events answered 2xx, each counted once
	rate        float64 // delivered / seconds from the first event sent to its last arrival
	all         loadtest.Percentiles
	window      loadtest.Percentiles // events sent during the outage window (the same window in a healthy run)
	before      loadtest.Percentiles // events sent before it
	after       loadtest.Percentiles // events sent after it: the down partner's catch-up runs then
	minSecond   int                  // fewest deliveries in one second of the window
	calls, fail int                  // requests at the partner, and those not answered 2xx
	dead        int64
	stale       int // events skipped as stale: a newer version of their record was delivered first
	steps       map[string]string
	lastArrival time.Time
	// For the partner that was down: events sent before it came back and
	// not yet delivered then, and when the last of them arrived.
	backlog        int
	caughtUp       time.Time
	firstAfter     time.Time // its first 2xx after the outage
	stateOK        bool
	records, wrong int
}

// TestMeasurePartnerIsolation is a measurement, not a test of behaviour:
// two partnersim processes of the built-in API, a (sink.*) and b
// (partners.b.*), one `streamsync run` process with the ingest on behind a
// producer token and (by default) the attempt log in ClickHouse, and vegeta
// offering -partners.rate plain upserts a second on POST /v1/events for
// -partners.duration. In an "outage" run partner b answers 503 to everything
// (POST /_sim/faults {"outage":true}) from -partners.outage-at for
// -partners.outage-for. After the last event it waits until each partner's
// step counters hold a terminal step for every accepted event, then reads
// each partnersim's request log: an event's ingest→partner latency is from
// the moment vegeta sent its request (the event's `ts` is stamped then) to
// partnersim's arrival time of the event's first call answered 2xx. It fails
// only when an event is missing at a partner, dead, or a partner's final
// state is wrong — never on speed.
func TestMeasurePartnerIsolation(t *testing.T) {
	rdb := testenv.Redis(t)
	sim := buildPartnersim(t)
	var runs []isoRun
	for i, name := range strings.Split(*isoRuns, ",") {
		name = strings.TrimSpace(name)
		if name != "healthy" && name != "outage" {
			t.Fatalf("-partners.runs: %q is neither healthy nor outage", name)
		}
		r := measureIsolation(t, rdb, sim, i, name)
		runs = append(runs, r)
		t.Logf("run %d (%s): a %s; b %s", i+1, name, r.a.summary(), r.b.summary())
	}
	t.Log("\n" + isoTable(runs))
}

func (p isoPartner) summary() string {
	return fmt.Sprintf("%d delivered (%d stale), %.0f/s, p50 %s p99 %s max %s, window p50 %s p99 %s, %d dead, %d calls (%d not 2xx)",
		p.delivered, p.stale, p.rate, ms(p.all.P50), ms(p.all.P99), ms(p.all.Max), ms(p.window.P50), ms(p.window.P99), p.dead, p.calls, p.fail)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func measureIsolation(t *testing.T, rdb *redis.Client, simBin string, i int, name string) isoRun {
	ctx := context.Background()
	r := isoRun{name: name}
	prefix := fmt.Sprintf("%siso%d:", testenv.Prefix(t), i)
	defer testenv.DeleteKeys(rdb, prefix)
	keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	bKeys := keys.ForPartner("b")

	var sims [2]*exec.Cmd
	var simURLs [2]string
	for j := range sims {
		addr := freeAddr(t)
		sims[j] = exec.Command(simBin, "--addr", addr, "--api", partnersim.APIV1, "--latency", isoLatency.String(), "--log-max", "2000000")
		log := &strings.Builder{}
		sims[j].Stdout, sims[j].Stderr = log, log
		if err := sims[j].Start(); err != nil {
			t.Fatal(err)
		}
		defer func(c *exec.Cmd) { _ = c.Process.Signal(syscall.SIGTERM); _ = c.Wait() }(sims[j])
		simURLs[j] = "http://" + addr
		testenv.WaitFor(t, 30*time.Second, "partnersim answers", func() bool { _, err := simStats(simURLs[j]); return err == nil })
	}

	ingestAddr, adminAddr := freeAddr(t), freeAddr(t)
	token := rand.Text()
	env := []string{
		"STREAMSYNC_REDIS__ADDR=" + testenv.RedisAddr(t), "STREAMSYNC_STREAM__EVENTS=" + keys.Events, "STREAMSYNC_STREAM__GROUP=g",
		"STREAMSYNC_STREAM__DEAD=" + keys.Dead, "STREAMSYNC_STREAM__DELAYED=" + keys.Delayed, "STREAMSYNC_STREAM__RETRY=" + keys.Retry,
		"STREAMSYNC_STREAM__CONSUMER=iso", "STREAMSYNC_LOG__LEVEL=warn",
		"STREAMSYNC_INGEST__ADDR=" + ingestAddr, "STREAMSYNC_INGEST__TOKENS=bench:" + token,
		"STREAMSYNC_ADMIN__ADDR=" + adminAddr, "STREAMSYNC_ADMIN__TOKEN=" + profileToken,
		"STREAMSYNC_SINK__BASE_URL=" + simURLs[0], "STREAMSYNC_SINK__CLIENT_ID=" + partnersim.DefaultClientID,
		"STREAMSYNC_SINK__CLIENT_SECRET=" + partnersim.DefaultClientSecret,
		"STREAMSYNC_PARTNERS__B__BASE_URL=" + simURLs[1], "STREAMSYNC_PARTNERS__B__CLIENT_ID=" + partnersim.DefaultClientID,
		"STREAMSYNC_PARTNERS__B__CLIENT_SECRET=" + partnersim.DefaultClientSecret,
	}
	if *isoClickHouse {
		_, db := testenv.ClickHouse(t) // dropped when the test ends
		env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR="+testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE="+db,
			"STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+filepath.Join(t.TempDir(), "spool"))
	} else {
		env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR=")
	}
	env = append(env, strings.Fields(*isoEnv)...)
	p := startProcess(t, env)
	defer p.kill()
	testenv.WaitFor(t, 30*time.Second, "streamsync ready", func() bool { return httpStatus("http://"+adminAddr+"/readyz") == 200 })

	work := loadtest.Upserts(loadtest.UpsertsConfig{N: *isoRate * int(isoDuration.Seconds()), Accounts: *isoAccounts, Seed: uint64(100 + i)})
	load, _ := os.ReadFile("/proc/loadavg")
	r.loadBefore = strings.Join(strings.Fields(string(load))[:3], " ")
	cpu0, redis0, sim0, sim1 := loadtest.ProcCPUSeconds(p.cmd.Process.Pid), redisCPU(t, rdb),
		loadtest.ProcCPUSeconds(sims[0].Process.Pid), loadtest.ProcCPUSeconds(sims[1].Process.Pid)

	mach0, driver0 := machineCPU(), loadtest.ProcCPUSeconds(os.Getpid())
	r.start = time.Now()
	faultsDone := make(chan struct{})
	stopFaults := make(chan struct{})
	if name == "outage" {
		go func() {
			defer close(faultsDone)
			// A schedule, not a wait for a condition: the outage is set at
			// fixed times into the run.
			select {
			case <-time.After(time.Until(r.start.Add(*isoOutageAt))):
			case <-stopFaults:
				return
			}
			setOutage(t, simURLs[1], true)
			r.outageFrom = time.Now()
			select {
			case <-time.After(time.Until(r.outageFrom.Add(*isoOutageFor))):
			case <-stopFaults:
			}
			setOutage(t, simURLs[1], false)
			r.outageTo = time.Now()
		}()
	} else {
		close(faultsDone)
	}
	if *isoProfile != "" {
		go func() {
			time.Sleep(time.Until(r.start.Add(*isoOutageAt + *isoOutageFor))) // a schedule: the outage's end
			isoCPUProfile(t, adminAddr, filepath.Join(*isoProfile, fmt.Sprintf("%s-%d.pprof", name, i+1)))
		}()
	}
	sent := loadtest.Attack(ctx, "ingest", "http://"+ingestAddr+"/v1/events", token, nil, "", work, *isoRate, 1)
	r.sendEnd = time.Now()
	<-faultsDone
	close(stopFaults)
	r.sent, r.sendSeconds = len(sent), r.sendEnd.Sub(r.start).Seconds()
	sentAt := map[string]time.Time{}
	for _, s := range sent {
		if s.Accepted {
			r.accepted++
			sentAt[s.ID] = s.At
		}
	}
	if r.accepted != len(work) {
		t.Errorf("run %d: ingest accepted %d of %d events", i+1, r.accepted, len(work))
	}

	deadline := time.Now().Add(*isoTimeout)
	for terminalSteps(ctx, rdb, layout.Shards{keys}) < int64(r.accepted) || terminalSteps(ctx, rdb, layout.Shards{bKeys}) < int64(r.accepted) {
		if time.Now().After(deadline) {
			a, _ := rdb.HGetAll(ctx, keys.Steps).Result()
			b, _ := rdb.HGetAll(ctx, bKeys.Steps).Result()
			t.Fatalf("run %d: not finished %s after the last event: steps a %v b %v\n%s", i+1, *isoTimeout, a, b, tail(p.out.String(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.finishedSeconds = time.Since(r.start).Seconds()
	r.streamsyncCPU = loadtest.ProcCPUSeconds(p.cmd.Process.Pid) - cpu0
	r.redisCPU = redisCPU(t, rdb) - redis0
	r.machineCPU = machineCPU() - mach0
	r.driverCPU = loadtest.ProcCPUSeconds(os.Getpid()) - driver0
	r.simCPU = [2]float64{loadtest.ProcCPUSeconds(sims[0].Process.Pid) - sim0, loadtest.ProcCPUSeconds(sims[1].Process.Pid) - sim1}
	load, _ = os.ReadFile("/proc/loadavg")
	r.loadAfter = strings.Join(strings.Fields(string(load))[:3], " ")

	winFrom, winTo := r.start.Add(*isoOutageAt), r.start.Add(*isoOutageAt+*isoOutageFor)
	if !r.outageFrom.IsZero() {
		winFrom, winTo = r.outageFrom, r.outageTo
	}
	for j, pk := range []layout.Keys{keys, bKeys} {
		side := &r.a
		if j == 1 {
			side = &r.b
		}
		*side = isoMeasure(t, simURLs[j], sentAt, r.start, winFrom, winTo, !r.outageTo.IsZero() && j == 1)
		side.dead, _ = rdb.XLen(ctx, pk.Dead).Result()
		side.steps, _ = rdb.HGetAll(ctx, pk.Steps).Result()
		side.stateOK, side.records, side.wrong = isoState(t, simURLs[j], work)
		side.stale = atoi(side.steps["skipped_stale"])
		if side.delivered+side.stale != r.accepted || side.dead != 0 || !side.stateOK {
			t.Errorf("run %d partner %d: %d of %d accepted events delivered, %d dead, %d records (%d wrong); steps %v",
				i+1, j, side.delivered, r.accepted, side.dead, side.records, side.wrong, side.steps)
		}
	}
	return r
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// machineCPU is the CPU seconds every process of the machine has used
// since boot (/proc/stat: user, nice, system, irq, softirq, steal).
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		if i < len(f) {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	return float64(ticks) / 100
}

func setOutage(t *testing.T, url string, on bool) {
	resp, err := http.Post(url+"/_sim/faults", "application/json", strings.NewReader(fmt.Sprintf(`{"outage":%t}`, on)))
	if err != nil {
		t.Errorf("setting the outage: %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Errorf("setting the outage: %s", resp.Status)
	}
}

// isoMeasure reads one partnersim's log: each event's first 2xx arrival.
func isoMeasure(t *testing.T, url string, sentAt map[string]time.Time, start, winFrom, winTo time.Time, wasDown bool) isoPartner {
	var p isoPartner
	first := map[string]time.Time{}
	for since := int64(0); ; {
		var page struct {
			Entries []partnersim.LogEntry `json:"entries"`
			Next    int64                 `json:"next"`
		}
		getJSON(t, fmt.Sprintf("%s/_sim/log?since=%d&limit=20000", url, since), &page)
		if len(page.Entries) == 0 {
			break
		}
		for _, e := range page.Entries {
			p.calls++
			if e.Status/100 != 2 {
				p.fail++
				continue
			}
			if _, ok := first[e.IdempotencyKey]; !ok {
				first[e.IdempotencyKey] = time.UnixMicro(e.AtUS)
			}
		}
		since = page.Next
	}
	var all, window, before, after []time.Duration
	perSecond := map[int]int{}
	for id, at := range first {
		s, ok := sentAt[id]
		if !ok {
			continue
		}
		p.delivered++
		all = append(all, at.Sub(s))
		switch {
		case s.Before(winFrom):
			before = append(before, at.Sub(s))
		case s.Before(winTo):
			window = append(window, at.Sub(s))
		default:
			after = append(after, at.Sub(s))
		}
		if !at.Before(winFrom) && at.Before(winTo) {
			perSecond[int(at.Sub(winFrom)/time.Second)]++
		}
		if at.After(p.lastArrival) {
			p.lastArrival = at
		}
		if wasDown && s.Before(winTo) {
			if at.After(p.caughtUp) {
				p.caughtUp = at
			}
			if !at.Before(winTo) {
				p.backlog++
			}
		}
		if wasDown && !at.Before(winTo) && (p.firstAfter.IsZero() || at.Before(p.firstAfter)) {
			p.firstAfter = at
		}
	}
	p.all, p.window = loadtest.Percentile(all), loadtest.Percentile(window)
	p.before, p.after = loadtest.Percentile(before), loadtest.Percentile(after)
	if p.delivered > 0 {
		p.rate = float64(p.delivered) / p.lastArrival.Sub(start).Seconds()
	}
	p.minSecond = -1
	for s := 0; s < int(winTo.Sub(winFrom)/time.Second); s++ {
		if p.minSecond < 0 || perSecond[s] < p.minSecond {
			p.minSecond = perSecond[s]
		}
	}
	return p
}

// isoState reports whether the partner holds each record of work at its
// newest version and data, how many records it holds, and how many differ.
func isoState(t *testing.T, url string, work []demo.Entry) (bool, int, int) {
	var st partnersim.State
	getJSON(t, url+"/_sim/state", &st)
	want := demo.Expected(work)
	wrong := 0
	for _, r := range st.Records {
		w, ok := want[r.Entity+"/"+r.Key]
		if !ok || r.Deleted || r.Version != w.Version || string(r.Data) != w.Data {
			wrong++
		}
	}
	return wrong == 0 && len(st.Records) == len(want), len(st.Records), wrong
}

// redisCPU is the test Redis' user+system CPU seconds (INFO cpu).
func redisCPU(t *testing.T, rdb *redis.Client) float64 {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		t.Fatalf("INFO cpu: %v", err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if name == "used_cpu_sys" || name == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}

// isoCPUProfile saves -partners.profile-seconds of streamsync's CPU profile to path.
func isoCPUProfile(t *testing.T, adminAddr, path string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+adminAddr+"/debug/pprof/profile?seconds="+strconv.Itoa(*isoProfSecs), nil)
	req.Header.Set("Authorization", "Bearer "+profileToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Logf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Logf("profile: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.ReadFrom(resp.Body); err != nil {
		t.Logf("profile: %v", err)
		return
	}
	t.Logf("profile: %s", path)
}

// isoTable is the runs as markdown tables: partner a (the healthy one) side
// by side over the runs, then partner b.
func isoTable(runs []isoRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d events/s offered for %s a run; outage runs: b down from %s for %s\n\n", *isoRate, *isoDuration, *isoOutageAt, *isoOutageFor)
	fmt.Fprintln(&b, "| run | b | offered → accepted/s | a delivered/s | a p50 / p99 / max, all events | a p50 / p99, sent before the window | in the window | after it | a fewest/s in the window | a dead |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|")
	for i, r := range runs {
		fmt.Fprintf(&b, "| %d | %s | %d → %.0f | %.0f | %s / %s / %s | %s / %s | %s / %s | %s / %s | %d | %d |\n", i+1, r.bState(),
			*isoRate, float64(r.accepted)/r.sendSeconds, r.a.rate, ms(r.a.all.P50), ms(r.a.all.P99), ms(r.a.all.Max),
			ms(r.a.before.P50), ms(r.a.before.P99), ms(r.a.window.P50), ms(r.a.window.P99), ms(r.a.after.P50), ms(r.a.after.P99), r.a.minSecond, r.a.dead)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| run | b | seconds until both had every event | streamsync CPU s (cores) | Redis CPU s | partnersims a + b CPU s | driver (vegeta) CPU s | machine CPU s (cores), every process | of which not ours | load before → after |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|")
	for i, r := range runs {
		busy := r.finishedSeconds
		others := r.machineCPU - r.streamsyncCPU - r.redisCPU - r.simCPU[0] - r.simCPU[1] - r.driverCPU
		fmt.Fprintf(&b, "| %d | %s | %.1f | %.1f (%.2f) | %.1f | %.1f + %.1f | %.1f | %.1f (%.2f) | %.1f (%.2f) | %s → %s |\n", i+1, r.bState(), busy,
			r.streamsyncCPU, r.streamsyncCPU/busy, r.redisCPU, r.simCPU[0], r.simCPU[1], r.driverCPU, r.machineCPU, r.machineCPU/busy,
			others, others/busy, r.loadBefore, r.loadAfter)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| run | b | b delivered | b skipped as stale | b dead | b calls (not 2xx) | b backlog when it came back | first 2xx after | every event sent before it came back delivered after | last event delivered, after the last sent | records at b |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|---|")
	for i, r := range runs {
		after, caught := "—", "—"
		if !r.outageTo.IsZero() {
			after = fmt.Sprintf("%.2f s", r.b.firstAfter.Sub(r.outageTo).Seconds())
			caught = fmt.Sprintf("%.2f s", r.b.caughtUp.Sub(r.outageTo).Seconds())
		}
		backlog := "—"
		if !r.outageTo.IsZero() {
			backlog = strconv.Itoa(r.b.backlog)
		}
		state := "all right"
		if !r.b.stateOK {
			state = fmt.Sprintf("WRONG: %d records, %d differ", r.b.records, r.b.wrong)
		}
		fmt.Fprintf(&b, "| %d | %s | %d/%d | %d | %d | %d (%d) | %s | %s | %s | %.2f s | %s |\n", i+1, r.bState(), r.b.delivered, r.accepted, r.b.stale, r.b.dead,
			r.b.calls, r.b.fail, backlog, after, caught, r.b.lastArrival.Sub(r.sendEnd).Seconds(), state)
	}
	return b.String()
}

func (r isoRun) bState() string {
	if r.outageTo.IsZero() {
		return "up"
	}
	return fmt.Sprintf("down %.0f–%.0f s", r.outageFrom.Sub(r.start).Seconds(), r.outageTo.Sub(r.start).Seconds())
}
