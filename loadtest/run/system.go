package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/loadtest"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// system is partnersim and streamsync, run as processes of their own.
type system struct {
	dir                         string
	keys                        layout.Keys
	db                          string
	simURL, ingestURL, adminURL string
	ingestToken                 string // the load driver's, in ingest.tokens
	sim, pipe                   *exec.Cmd
	profPath                    string
	prefix                      string
	rdb                         *redis.Client
	notes                       []string
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startSystem(ctx context.Context, o options, dir string) (*system, error) {
	for _, b := range []string{"bin/streamsync", "bin/partnersim"} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("%s missing: run `make build` first (make loadtest does)", b)
		}
	}
	simAddr, _ := freePort()
	ingestAddr, _ := freePort()
	adminAddr, _ := freePort()
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	s := &system{dir: dir, db: "loadtest_" + tag, simURL: "http://" + simAddr, ingestURL: "http://" + ingestAddr + "/v1/events", adminURL: "http://" + adminAddr,
		ingestToken: rand.Text()}
	prefix := "loadtest:" + tag + ":"
	s.prefix = prefix
	s.keys = layout.NewKeys(prefix+"events", "streamsync", prefix+"dead", prefix+"delayed", prefix+"retry")

	simLog, _ := os.Create(filepath.Join(dir, "partnersim.log"))
	s.sim = exec.Command("bin/partnersim", "--addr", simAddr, "--latency", o.partnerLatency.String(),
		"--error-rate", fmt.Sprint(o.errorRate), "--rate-429", fmt.Sprint(o.rate429), "--log-max", "20000000")
	s.sim.Stdout, s.sim.Stderr = simLog, simLog
	if err := s.sim.Start(); err != nil {
		return nil, err
	}
	pipeLog, _ := os.Create(filepath.Join(dir, "pipeline.log"))
	s.pipe = exec.Command("bin/streamsync", "run", "--config", "config/streamsync.example.yaml")
	s.pipe.Env = append(os.Environ(),
		"STREAMSYNC_REDIS__ADDR="+o.redisAddr, "STREAMSYNC_STREAM__EVENTS="+s.keys.Events, "STREAMSYNC_STREAM__DEAD="+s.keys.Dead,
		"STREAMSYNC_STREAM__DELAYED="+s.keys.Delayed, "STREAMSYNC_STREAM__RETRY="+s.keys.Retry, "STREAMSYNC_STREAM__CONSUMER=loadtest",
		"STREAMSYNC_SINK__BASE_URL="+s.simURL, "STREAMSYNC_CLICKHOUSE__ADDR="+o.chAddr, "STREAMSYNC_CLICKHOUSE__DATABASE="+s.db,
		"STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+filepath.Join(dir, "spool"), "STREAMSYNC_INGEST__ADDR="+ingestAddr,
		"STREAMSYNC_INGEST__TOKENS=loadtest:"+s.ingestToken, // producers send a token, as in production
		"STREAMSYNC_ADMIN__ADDR="+adminAddr, "STREAMSYNC_ADMIN__TOKEN="+profileToken, "STREAMSYNC_LOG__LEVEL=warn")
	s.pipe.Stdout, s.pipe.Stderr = pipeLog, pipeLog
	if err := s.pipe.Start(); err != nil {
		s.stop()
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for !(status(s.adminURL+"/readyz") == 200 && status(s.simURL+"/healthz") == 200) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("system not ready in 30s; see %s", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s, nil
}

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (s *system) pipelinePID() int { return s.pipe.Process.Pid }

func (s *system) stop() {
	for _, c := range []*exec.Cmd{s.pipe, s.sim} {
		if c != nil && c.Process != nil && c.ProcessState == nil {
			_ = c.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = c.Process.Kill()
			}
		}
	}
}

func (s *system) describe(o options) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("Host %s (2 cores). streamsync run (ingest on, attempt log on → ClickHouse %s database %s) and partnersim "+
		"(latency %s, 503 share %g, 429 share %g) as processes of their own; Redis %s. Offered with %s; story seed %d over %d accounts; %s.",
		host, o.chAddr, s.db, o.partnerLatency, o.errorRate, o.rate429, o.redisAddr, offeredWith(o), o.seed, o.accounts, howLong(o))
}

// howLong is how long a level sends, or for a backlog run that it has none.
func howLong(o options) string {
	if o.backlog > 0 {
		return "one backlog, drained to the end"
	}
	return o.duration.String() + " per level"
}

func offeredWith(o options) string {
	switch {
	case o.backlog > 0:
		return fmt.Sprintf("a backlog of about %d events of the story appended straight to the events stream with pipelined XADD "+
			"(1,000 a round trip, unpaced, no HTTP ingest) while the pipeline runs, then drained", o.backlog)
	case o.k6 != "":
		return "k6 (loadtest/k6/ingest.js) on POST /v1/events"
	case o.mode == "xadd":
		return "XADD paced by vegeta's constant pacer"
	case o.batch > 1:
		return fmt.Sprintf("vegeta on POST /v1/events, %d events per request as a JSON array (a malformed event in a request of its own), requests paced at level/%d a second", o.batch, o.batch)
	}
	return "vegeta on POST /v1/events, one event per request"
}

// profileToken is the pipeline's admin.token: profiles are served only
// behind one (docs/security.md).
const profileToken = "loadtest-profile"

// captureProfile takes a CPU profile of the pipeline for d (in the background).
func (s *system) captureProfile(d time.Duration) {
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.adminURL+"/debug/pprof/profile?seconds="+strconv.Itoa(int(d.Seconds())), nil)
		req.Header.Set("Authorization", "Bearer "+profileToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return
		}
		path := filepath.Join(s.dir, "pipeline-cpu.pprof")
		f, err := os.Create(path)
		if err != nil {
			return
		}
		io.Copy(f, resp.Body)
		f.Close()
		s.profPath = path
	}()
}

// profile names the top costs of the captured profile.
func (s *system) profile() string {
	if s.profPath == "" {
		return ""
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=20", "bin/streamsync", s.profPath).CombinedOutput()
	if err != nil {
		return ""
	}
	lines := strings.Split(string(out), "\n")
	return "## Where the pipeline's time goes (CPU profile of the highest level, `go tool pprof -top`)\n\n```\n" + strings.Join(lines, "\n") + "```\n"
}

// cleanup deletes the run's Redis keys and ClickHouse database, once the
// processes are stopped.
func (s *system) cleanup(rdb *redis.Client, o options) {
	s.stop()
	ctx := context.Background()
	loadtest.DeleteKeys(ctx, rdb, s.prefix)
	if conn, err := attemptlog.Open(attemptlog.Options{Addr: o.chAddr, Username: "default"}); err == nil {
		_ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s.db)
		conn.Close()
	}
}
