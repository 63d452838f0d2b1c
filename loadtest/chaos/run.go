package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamsync/streamsync/internal/cutproxy"
	"github.com/streamsync/streamsync/partnersim"
)

// backend is the Redis a fault's streamsync runs on.
type backend struct {
	env    []string              // streamsync's redis.* settings
	client redis.UniversalClient // the suite's own client, for clean-up
	wait   int                   // redis.wait_replicas
	// prefix, when set, names the fault's keys from base (a Cluster puts
	// them where the fault strikes); else "chaos:BASE:".
	prefix func(base string) (string, error)
	// redisProxy, when set, stands between streamsync and Redis.
	redisProxy *cutproxy.Proxy
}

// stage is what a fault sees while it runs: the Redis, the proxy in front
// of the partner, and the settings of the suite.
type stage struct {
	cfg   config
	be    backend
	proxy *cutproxy.Proxy
	ch    *attempts       // nil unless the fault has the attempt log on
	pg    *cutproxy.Proxy // the outbox relay's link to PostgreSQL (fault.postgresProxy)
	// prefix starts the names of the fault's keys.
	prefix string
}

// fault applies one fault and returns when it is over (the moment the
// resume time counts from), with a note for the table.
type fault struct {
	name    string
	backend func(config) (backend, error)
	apply   func(ctx context.Context, s *stage) (end time.Time, note string, err error)
	// attempts turns the attempt log on (ClickHouse behind a proxy of its
	// own); after the tally, its note says what the table holds.
	attempts bool
	// outbox has the producer commit its events to a PostgreSQL outbox
	// table that streamsync relays, instead of posting them to the ingest.
	outbox bool
	// postgresProxy puts a proxy of its own (stage.pg) between the outbox
	// relay and PostgreSQL; the producer's inserts go straight to it.
	postgresProxy bool
}

// runFault runs one fault from start to tally.
func runFault(ctx context.Context, cfg config, f fault) (Row, error) {
	be, err := f.backend(cfg)
	if err != nil {
		return Row{}, fmt.Errorf("%s: redis: %w", f.name, err)
	}
	defer be.client.Close()
	if be.redisProxy != nil {
		defer be.redisProxy.Close()
	}
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec", LogMax: 10_000_000})
	if err != nil {
		return Row{}, err
	}
	defer sim.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Row{}, err
	}
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	proxy, err := cutproxy.New(ln.Addr().String())
	if err != nil {
		return Row{}, err
	}
	defer proxy.Close()

	base := fmt.Sprintf("%s-%d", strings.Join(strings.Fields(f.name)[:2], "-"), time.Now().UnixNano())
	prefix := "chaos:" + base + ":"
	if be.prefix != nil {
		if prefix, err = be.prefix(base); err != nil {
			return Row{}, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	defer deleteKeys(be.client, prefix)
	ingest, err := freeAddr()
	if err != nil {
		return Row{}, err
	}
	logPath := filepath.Join(cfg.dir, strings.ReplaceAll(f.name, " ", "-")+".log")
	env := append([]string{}, be.env...)
	var ch *attempts
	if f.attempts {
		if ch, err = newAttempts(ctx, cfg); err != nil {
			return Row{}, fmt.Errorf("%s: clickhouse: %w", f.name, err)
		}
		defer ch.close()
		env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR="+ch.proxy.Addr(), "STREAMSYNC_CLICKHOUSE__DATABASE="+ch.db,
			"STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+filepath.Join(cfg.dir, "spool-"+ch.db))
	} else {
		env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR=")
	}
	var ob *outboxTable
	var pg *cutproxy.Proxy
	if f.outbox {
		if ob, err = newOutboxTable(ctx, cfg.postgres); err != nil {
			return Row{}, fmt.Errorf("%s: postgres: %w", f.name, err)
		}
		defer ob.close()
		dsn := cfg.postgres
		if f.postgresProxy {
			if pg, err = cutproxy.New("127.0.0.1:" + cfg.postgresPort); err != nil {
				return Row{}, err
			}
			defer pg.Close()
			dsn = "postgres://postgres@" + pg.Addr() + "/postgres?sslmode=disable"
		}
		env = append(env, "STREAMSYNC_OUTBOX__DSN="+dsn, "STREAMSYNC_OUTBOX__TABLE="+ob.table)
	}
	child, err := startStreamsync(cfg.bin, logPath, append(env,
		"STREAMSYNC_STREAM__EVENTS="+prefix+"events", "STREAMSYNC_STREAM__GROUP=g", "STREAMSYNC_STREAM__DEAD="+prefix+"dead",
		"STREAMSYNC_STREAM__DELAYED="+prefix+"delayed", "STREAMSYNC_STREAM__RETRY="+prefix+"retry", "STREAMSYNC_STREAM__CONSUMER=chaos",
		"STREAMSYNC_ADMIN__ADDR=", "STREAMSYNC_LOG__LEVEL=warn", "STREAMSYNC_INGEST__ADDR="+ingest,
		"STREAMSYNC_SINK__BASE_URL=http://"+proxy.Addr(), "STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET=sec",
		fmt.Sprintf("STREAMSYNC_REDIS__WAIT_REPLICAS=%d", be.wait), "STREAMSYNC_REDIS__WAIT_TIMEOUT=500ms",
	))
	if err != nil {
		return Row{}, err
	}
	defer child.stop()
	pr := &producer{url: "http://" + ingest + "/v1/events", outbox: ob, rate: cfg.rate, keys: cfg.keys}
	if err := waitFor(ctx, 30*time.Second, func() bool { return pr.ready() }); err != nil {
		return Row{}, fmt.Errorf("%s: the ingest never answered (see %s): %w", f.name, logPath, err)
	}

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); pr.run(stop) }()
	sleep(ctx, cfg.before)
	st := &stage{cfg: cfg, be: be, proxy: proxy, ch: ch, pg: pg, prefix: prefix}
	end, note, ferr := f.apply(ctx, st)
	if ferr != nil {
		close(stop)
		<-done
		return Row{}, fmt.Errorf("%s: applying the fault: %w", f.name, ferr)
	}
	sleep(ctx, cfg.after)
	close(stop)
	<-done

	acks, sent, refused := pr.result()
	fmt.Fprintf(os.Stderr, "chaos: %d requests to the ingest, %s each on average\n", pr.posts, pr.postTime/time.Duration(max(pr.posts, 1)))
	want := map[string]int64{}
	for _, a := range acks {
		want[a.Key] = max(want[a.Key], a.Version)
	}
	final := func() map[string]int64 {
		m := map[string]int64{}
		for _, r := range sim.Snapshot("").Records {
			m[r.Key] = r.Version
		}
		return m
	}
	drained := waitFor(ctx, cfg.drain, func() bool {
		f := final()
		for k, v := range want {
			if f[k] < v {
				return false
			}
		}
		return true
	}) == nil
	var writes []Write
	for _, e := range sim.Log(0, 0) {
		if e.Method == http.MethodPut {
			writes = append(writes, Write{Seq: e.Seq, At: time.UnixMicro(e.AtUS), Key: e.Key, Version: e.Version, Status: e.Status})
		}
	}
	row := Tally(f.name, sent, acks, writes, final(), end)
	row.WaitReplicas, row.Refused = be.wait, refused
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	if !drained {
		notes = append(notes, fmt.Sprintf("not all delivered after %s", cfg.drain))
	}
	dead := prefix + "dead"
	if be.prefix != nil {
		dead = strings.TrimSuffix(eventsKey(prefix), "events") + "dead"
	}
	if n, err := be.client.XLen(context.Background(), dead).Result(); err == nil && n > 0 {
		notes = append(notes, fmt.Sprintf("%d dead letters", n))
	}
	if ch != nil {
		note, delivered := ch.held(ctx)
		notes = append(notes, note)
		row.Unlogged = max(row.Delivered-int(delivered), 0)
	}
	if ob != nil {
		if row.OutboxLeft, err = ob.left(ctx); err != nil {
			return Row{}, fmt.Errorf("%s: outbox rows left: %w", f.name, err)
		}
		if row.OutboxLeft > 0 {
			notes = append(notes, fmt.Sprintf("%d outbox rows not relayed", row.OutboxLeft))
		}
	}
	row.Note = strings.Join(notes, "; ")
	return row, nil
}

// child is a `streamsync run` process.
type child struct {
	cmd *exec.Cmd
	log *os.File
}

func startStreamsync(bin, logPath string, env []string) (*child, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s run: %w", bin, err)
	}
	return &child{cmd: cmd, log: lf}, nil
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s).
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	c.log.Close()
}

// producer sends batches of events to the ingest at a rate, each batch
// again until it is answered 202 (as a producer does); each event writes
// one of keys records at the record's next version.
type producer struct {
	url    string
	outbox *outboxTable // when set, events go through it instead of the ingest
	rate   int          // events per second
	keys   int

	mu       sync.Mutex
	acks     []Ack
	sent     int
	refused  int
	posts    int
	postTime time.Duration
}

const batchSize = 20

var httpc = &http.Client{Timeout: 5 * time.Second}

// send hands one batch (a JSON array of events) over: to the outbox table
// when there is one (committed), else to the ingest (202); it reports
// whether the batch was acknowledged.
func (p *producer) send(body []byte) bool {
	if p.outbox != nil {
		return p.outbox.insert(body) == nil
	}
	resp, err := httpc.Post(p.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusAccepted
}

func (p *producer) ready() bool {
	resp, err := httpc.Post(p.url, "application/json", strings.NewReader(`[]`))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// run sends until stop is closed, from producerWorkers goroutines: worker
// w writes the records k ≡ w (mod producerWorkers), so each record's
// versions (and each account's events: account = k mod 50) leave in order,
// one batch in flight per worker.
func (p *producer) run(stop <-chan struct{}) {
	var wg sync.WaitGroup
	for w := range producerWorkers {
		wg.Go(func() { p.work(w, stop) })
	}
	wg.Wait()
}

const producerWorkers = 5

func (p *producer) work(w int, stop <-chan struct{}) {
	tick := time.NewTicker(time.Second * batchSize * producerWorkers / time.Duration(p.rate))
	defer tick.Stop()
	var mine []int
	for k := w; k < p.keys; k += producerWorkers {
		mine = append(mine, k)
	}
	version := make([]int64, p.keys)
	next := 0
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var b bytes.Buffer
		batch := make([]Ack, 0, batchSize)
		b.WriteByte('[')
		for i := range batchSize {
			k := mine[next%len(mine)]
			next++
			version[k]++
			key := fmt.Sprintf("k%d", k)
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"%s-v%d","account":"acct-%d","entity":"order","key":%q,"op":"upsert","version":%d,"data":{"v":%d}}`,
				key, version[k], k%50, key, version[k], version[k])
			batch = append(batch, Ack{Key: key, Version: version[k]})
		}
		b.WriteByte(']')
		p.mu.Lock()
		p.sent += len(batch)
		p.mu.Unlock()
		for {
			t0 := time.Now()
			ok := p.send(b.Bytes())
			p.mu.Lock()
			p.posts++
			p.postTime += time.Since(t0)
			p.mu.Unlock()
			if ok {
				now := time.Now()
				for i := range batch {
					batch[i].At = now
				}
				p.mu.Lock()
				p.acks = append(p.acks, batch...)
				p.mu.Unlock()
				break
			}
			p.mu.Lock()
			p.refused++
			p.mu.Unlock()
			select {
			case <-stop:
				return // never acknowledged: sent, not counted as acked
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

func (p *producer) result() (acks []Ack, sent, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Ack(nil), p.acks...), p.sent, p.refused
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitFor polls ok every 50 ms until it holds or d passes.
func waitFor(ctx context.Context, d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", d)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// deleteKeys removes the keys of one fault's run.
func deleteKeys(c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		_ = c.Del(ctx, iter.Val()).Err()
	}
	if err := iter.Err(); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "chaos: cleaning %s*: %v\n", prefix, err)
	}
}
