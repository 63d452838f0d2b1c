package scripts

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sandbox is a copy of the project's scripts and freshly built binaries in a
// directory of its own, so that run.sh's .run/, lock and streamsync.yaml never
// touch the checkout, with free ports for everything run.sh starts.
type sandbox struct {
	root string
	env  []string
	port map[string]string
}

func newSandbox(tb testing.TB, bin string) *sandbox {
	tb.Helper()
	root := tb.TempDir()
	for _, f := range []string{"run.sh", "infra.sh"} {
		copyFile(tb, f, filepath.Join(root, "scripts", f))
	}
	copyFile(tb, "../examples/partners/crm.yaml", filepath.Join(root, "examples", "partners", "crm.yaml"))
	if err := os.Symlink(bin, filepath.Join(root, "bin")); err != nil {
		tb.Fatal(err)
	}
	s := &sandbox{root: root, port: map[string]string{}}
	for _, name := range []string{"redis", "clickhouse", "clickhouse_http", "partner", "crm", "admin", "ingest", "source"} {
		s.port[name] = freePort(tb)
	}
	s.env = append(os.Environ(),
		"STREAMSYNC_DEV_REDIS_PORT="+s.port["redis"], "STREAMSYNC_DEV_CLICKHOUSE_PORT="+s.port["clickhouse"],
		"STREAMSYNC_DEV_CLICKHOUSE_HTTP_PORT="+s.port["clickhouse_http"],
		"PARTNER_ADDR=127.0.0.1:"+s.port["partner"], "ADMIN_ADDR=127.0.0.1:"+s.port["admin"], "INGEST_ADDR=127.0.0.1:"+s.port["ingest"],
		"SOURCE_ADDR=127.0.0.1:"+s.port["source"], "CRM_ADDR=127.0.0.1:"+s.port["crm"],
		"DEMO_RATE=20", "DEMO_EVENTS=100000")
	tb.Cleanup(func() { s.killLeftovers(tb) })
	return s
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		tb.Fatal(err)
	}
}

func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// start runs scripts/run.sh in its own process group, its stdout a pipe the
// test reads, and returns once it said "healthy", with the lines it writes
// from then on (the latest 10,000 not yet taken; none once out is closed).
func (s *sandbox) start(tb testing.TB) (*exec.Cmd, io.ReadCloser, <-chan string) {
	tb.Helper()
	cmd := exec.Command("scripts/run.sh")
	cmd.Dir, cmd.Env = s.root, s.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	healthy := make(chan bool, 1)
	lines := make(chan string, 10000)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "run: healthy") {
				healthy <- true
				break
			}
		}
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody takes them: the output is still read, so run.sh never blocks on it
			}
		}
		select {
		case healthy <- false:
		default:
		}
	}()
	select {
	case ok := <-healthy:
		if !ok {
			_ = cmd.Wait()
			tb.Fatalf("run.sh ended before it was healthy: %s\n%s", stderr.String(), s.logs())
		}
	case <-time.After(3 * time.Minute):
		tb.Fatalf("run.sh not healthy after 3 minutes\n%s", s.logs())
	}
	return cmd, out, lines
}

func (s *sandbox) logs() string {
	b, _ := os.ReadFile(filepath.Join(s.root, ".run", "run.log"))
	return string(b)
}

// processes lists the live processes that belong to the sandbox: working
// directory or command line inside it, or listening on one of its ports.
func (s *sandbox) processes() []string {
	var found []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid := filepath.Base(d)
		if pid == fmt.Sprint(os.Getpid()) {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join(d, "cwd"))
		raw, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
		mine := strings.HasPrefix(cwd, s.root) || strings.Contains(cmdline, s.root)
		for _, p := range s.port {
			if strings.Contains(cmdline, "127.0.0.1:"+p) {
				mine = true
			}
		}
		if mine && cmdline != "" {
			found = append(found, pid+" "+cmdline)
		}
	}
	return found
}

// stopped waits for run.sh to end and for every process it started to be gone.
func (s *sandbox) stopped(tb testing.TB, cmd *exec.Cmd) {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		tb.Fatalf("run.sh still running 2 minutes after its reader went away\n%s", s.logs())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := s.processes()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("processes outlived run.sh:\n%s\n%s", strings.Join(left, "\n"), s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *sandbox) killLeftovers(tb testing.TB) {
	for _, p := range s.processes() {
		var pid int
		if _, err := fmt.Sscan(p, &pid); err == nil {
			tb.Logf("killing leftover %s", p)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// cliFindsTheRun: the CLI, run in the project root with no settings of its
// own, reads the streamsync.yaml the run wrote and talks to the run's Redis;
// `scripts/infra.sh env` exports the same address for shells elsewhere.
func (s *sandbox) cliFindsTheRun(tb testing.TB) {
	tb.Helper()
	env := s.cliEnv()
	yml, err := os.ReadFile(filepath.Join(s.root, "streamsync.yaml"))
	if err != nil || !strings.Contains(string(yml), "addr: 127.0.0.1:"+s.port["redis"]) {
		tb.Fatalf("streamsync.yaml (%v) does not name the run's Redis 127.0.0.1:%s:\n%s", err, s.port["redis"], yml)
	}
	status := exec.Command("bin/streamsync", "status", "--format", "json")
	status.Dir, status.Env = s.root, env
	out, err := status.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"stream_length"`) {
		tb.Errorf("bin/streamsync status next to the run: %v\n%s", err, out)
	}
	infraEnv := exec.Command("scripts/infra.sh", "env")
	infraEnv.Dir, infraEnv.Env = s.root, s.env
	out, err = infraEnv.Output()
	if err != nil || !strings.Contains(string(out), "export STREAMSYNC_REDIS__ADDR=127.0.0.1:"+s.port["redis"]+"\n") {
		tb.Errorf("scripts/infra.sh env: %v\n%s", err, out)
	}
}

// cliEnv is the environment of a CLI next to the run: no settings of its
// own, so that it reads the run's streamsync.yaml.
func (s *sandbox) cliEnv() []string {
	var env []string
	for _, kv := range s.env {
		if !strings.HasPrefix(kv, "STREAMSYNC_REDIS__") && !strings.HasPrefix(kv, "STREAMSYNC_CONFIG=") {
			env = append(env, kv)
		}
	}
	return env
}

func buildBinaries(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts Redis, ClickHouse and the demo: skipped with -short")
	}
	for _, b := range []string{"redis-server", "clickhouse-server", "clickhouse-client"} {
		if _, err := exec.LookPath(b); err != nil {
			tb.Fatalf("%s not installed: run `make up` once (it installs it)", b)
		}
	}
	bin := tb.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/...")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// `make run | head -1`: once the reader of its output is gone, run.sh stops
// everything it started, Redis and ClickHouse included, and nothing outlives
// it. Before that, a second run in the same checkout refuses naming the
// running one (and leaves its logs alone), and a run in another checkout
// refuses naming the port that is taken.
func TestRunStopsWhenOutputCloses(t *testing.T) {
	s := newSandbox(t, buildBinaries(t))
	cmd, out, _ := s.start(t)
	logBefore, _ := os.ReadFile(filepath.Join(s.root, ".run", "streamsync.log"))
	s.cliFindsTheRun(t)

	second := exec.Command("scripts/run.sh")
	second.Dir, second.Env = s.root, s.env
	msg, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "already running in this checkout") {
		t.Errorf("second run.sh in the same checkout: err %v, output %q; want a refusal naming the running one", err, msg)
	}
	logAfter, _ := os.ReadFile(filepath.Join(s.root, ".run", "streamsync.log"))
	if len(logAfter) < len(logBefore) || !strings.Contains(string(logAfter), "streamsync running") {
		t.Errorf("the second run.sh touched the first one's log: %d bytes before, %d after", len(logBefore), len(logAfter))
	}

	other := newSandbox(t, filepath.Join(s.root, "bin"))
	other.env = s.env // the same ports, from another checkout
	third := exec.Command("scripts/run.sh")
	third.Dir, third.Env = other.root, other.env
	msg, err = third.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "127.0.0.1:"+s.port["partner"]) || !strings.Contains(string(msg), "PARTNER_ADDR") {
		t.Errorf("run.sh of another checkout on taken ports: err %v, output %q; want a refusal naming the port and PARTNER_ADDR", err, msg)
	}
	if len(s.processes()) < 4 {
		t.Errorf("the refused runs stopped the first one's processes: %q", s.processes())
	}

	out.Close() // the reader goes away, as `head -1` does
	s.stopped(t, cmd)
}

// The demo's two partners and its two-way sync (docs/quickstart.md): the
// changes made in the crm reach our system and those made in our system
// reach the crm, each echo coming back ends skipped_loop, the run's output
// shows a summary line per partner and direction, and nothing of the crm
// ends dead (the partner of sink.* only the story's malformed entries).
// Then Ctrl-C on `make run | tee log`: the terminal sends SIGINT to the
// whole process group, tee dies with it, and the clean-up, writing to a
// closed pipe, still stops everything.
func TestRunSyncsTwoPartnersBothWaysAndStopsOnInterrupt(t *testing.T) {
	s := newSandbox(t, buildBinaries(t))
	cmd, out, lines := s.start(t)
	s.twoWaySettles(t, lines)
	s.nothingDeadButTheMalformed(t)
	out.Close()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	s.stopped(t, cmd)
}

// summaryRe is a summary line of one partner and direction.
var summaryRe = regexp.MustCompile(`msg=summary partner=(\S+) direction=(in|out) delivered_total=(\d+) .*skipped_loop_total=(\d+) `)

// twoWaySettles waits for the run's summary lines to show, for the crm in
// both directions, the first round of changes delivered (5 each way) and
// their echoes skipped as loops, and a line of the partner of sink.*.
func (s *sandbox) twoWaySettles(tb testing.TB, lines <-chan string) {
	tb.Helper()
	type counts struct{ delivered, loops int }
	latest := map[string]counts{}
	done := func() bool {
		in, out := latest["crm in"], latest["crm out"]
		_, partner := latest["partner out"]
		return partner && in.delivered >= 5 && in.loops >= 5 && out.delivered >= 5 && out.loops >= 5
	}
	deadline := time.After(2 * time.Minute)
	for !done() {
		select {
		case l := <-lines:
			if m := summaryRe.FindStringSubmatch(l); m != nil {
				d, _ := strconv.Atoi(m[3])
				loops, _ := strconv.Atoi(m[4])
				latest[m[1]+" "+m[2]] = counts{d, loops}
			}
		case <-deadline:
			changes, _ := os.ReadFile(filepath.Join(s.root, ".run", "changes.log"))
			tb.Fatalf("after 2 minutes the summary lines say %+v; want crm in and out each with 5 delivered and 5 skipped_loop, and partner out\nchanges.log:\n%s\n%s", latest, changes, s.logs())
		}
	}
}

// nothingDeadButTheMalformed: `bin/streamsync dead list` next to the run
// lists no dead letter of the crm, and only invalid ones (the story's
// malformed entries) of the partner of sink.*.
func (s *sandbox) nothingDeadButTheMalformed(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command("bin/streamsync", "dead", "list")
	cmd.Dir, cmd.Env = s.root, s.cliEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("bin/streamsync dead list: %v\n%s", err, out)
	}
	rows := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(rows) == 0 || !strings.HasPrefix(rows[0], "PARTNER") {
		tb.Fatalf("bin/streamsync dead list: no header:\n%s", out)
	}
	col := strings.Index(rows[0], "REASON")
	for _, r := range rows[1:] {
		if !strings.HasPrefix(r, "partner ") || len(r) < col || !strings.HasPrefix(r[col:], "invalid ") {
			tb.Errorf("dead next to the run: %q; want only the partner's invalid entries\n%s", r, out)
		}
	}
}
