package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/outbox"
	"github.com/streamsync/streamsync/partnersim"
)

// 5,000 outbox rows written by 8 concurrent producer transactions, a fifth
// of them rolled back, while `streamsync run` relays them and is killed
// with SIGKILL twice: every committed row's event reaches the partner
// exactly once (a batch relayed again after a kill is skipped as stale), no
// rolled-back one does, and the table ends empty.
func TestOutboxRelaySurvivesKills(t *testing.T) {
	rdb, keys, env := streams(t, "outbox")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	table := "test_outbox_" + hex.EncodeToString(b)
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (id BIGSERIAL PRIMARY KEY, event JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
		CREATE TABLE `+table+`_orders (id BIGSERIAL PRIMARY KEY, name TEXT)`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP TABLE IF EXISTS `+table+`, `+table+`_orders`) })

	sim, err := partnersim.New(partnersim.Options{Faults: partnersim.Faults{Latency: partnersim.Duration(time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_SINK__BASE_URL="+hs.URL,
		"STREAMSYNC_OUTBOX__DSN="+testenv.PostgresDSN(t), "STREAMSYNC_OUTBOX__TABLE="+table, "STREAMSYNC_OUTBOX__BATCH=100")

	p := startProcess(t, env)
	t.Cleanup(func() { p.kill() })

	const producers, perProducer = 8, 625
	var committed sync.Map
	var wg sync.WaitGroup
	var written atomic.Int64
	for w := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				id := fmt.Sprintf("ob-%d-%d", w, i)
				ev := fmt.Sprintf(`{"id":%q,"account":"acc-%d","entity":"order","key":%q,"op":"upsert","version":1,"data":{"n":%d}}`, id, i%40, id, i)
				tx, err := pool.Begin(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				_, err1 := tx.Exec(ctx, `INSERT INTO `+table+`_orders (name) VALUES ($1)`, id)
				_, err2 := tx.Exec(ctx, `INSERT INTO `+table+` (event) VALUES ($1)`, ev)
				if err1 != nil || err2 != nil {
					t.Error(err1, err2)
					_ = tx.Rollback(ctx)
					return
				}
				if i%5 == 4 {
					_ = tx.Rollback(ctx)
				} else if err := tx.Commit(ctx); err != nil {
					t.Error(err)
					return
				} else {
					committed.Store(id, true)
				}
				written.Add(1)
			}
		}()
	}
	appended := func() int64 { n, _ := rdb.XLen(ctx, keys.Events).Result(); return n }
	for i, at := range []int64{1000, 2500} {
		testenv.WaitFor(t, time.Minute, fmt.Sprintf("%d events relayed before kill %d", at, i+1), func() bool { return appended() >= at })
		p.kill()
		p = startProcess(t, env)
	}
	wg.Wait()
	want := 0
	committed.Range(func(any, any) bool { want++; return true })
	if want != producers*perProducer*4/5 {
		t.Fatalf("%d committed, want %d", want, producers*perProducer*4/5)
	}
	rows := func() int {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n)
		return n
	}
	steps := func(s string) int { n, _ := rdb.HGet(ctx, keys.Steps, s).Int(); return n }
	testenv.WaitFor(t, 2*time.Minute, "every committed row delivered", func() bool {
		return rows() == 0 && steps("delivered") >= want && int(appended()) == steps("delivered")+steps("skipped_stale")
	})
	if d := steps("delivered"); d != want {
		t.Fatalf("%d delivered for %d committed rows", d, want)
	}
	got := 0
	for _, r := range sim.Snapshot("").Records {
		if _, ok := committed.Load(r.Key); !ok {
			t.Errorf("partner has %s, which was rolled back", r.Key)
		}
		got++
	}
	if got != want {
		t.Fatalf("partner has %d records, want %d", got, want)
	}
	t.Logf("%d committed rows, %d entries appended (%d relayed again after a kill, skipped as stale)", want, appended(), steps("skipped_stale"))
}

// Two `streamsync run` relaying one table, and the one in the middle of a
// batch — its events appended, its DELETE held back by a table lock the test
// takes — killed with SIGKILL: its row locks die with its session, the
// other instance relays the batch again, the table ends empty and nothing
// holds a lock on it, the second copies carry the same ids and versions and
// are skipped as stale, so the partner gets every event once; and each
// account's events reach the stream in commit order.
func TestOutboxTwoRelaysOneKilledMidBatch(t *testing.T) {
	rdb, keys, env := streams(t, "outbox2")
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	table := "test_outbox_" + hex.EncodeToString(b)
	if err := outbox.EnsureTable(ctx, pool, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP TABLE IF EXISTS `+table) })

	const total, accounts, batch = 500, 5, 100
	// Two transactions: the one that takes the lower ids (rows 1..250)
	// commits after the other (rows 251..500), so commit order is 251..500,
	// then 1..250.
	insert := func(tx pgx.Tx, from, to int) {
		if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (event)
			SELECT jsonb_build_object('id', 'k' || g, 'account', 'acc-' || (g % $3), 'entity', 'order', 'key', 'k' || g,
			                          'op', 'upsert', 'version', 1, 'data', jsonb_build_object('g', g))
			FROM generate_series($1::int, $2::int) AS g ORDER BY g`, from, to, accounts); err != nil {
			t.Fatal(err)
		}
	}
	late, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	insert(late, 1, total/2)
	early, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	insert(early, total/2+1, total)
	if err := early.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := late.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	commitRank := func(g int) int {
		if g > total/2 {
			return g - total/2
		}
		return g + total/2
	}
	// SHARE lets the relays lock rows (FOR UPDATE) but not delete them.
	hold, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hold.Rollback(ctx) }()
	if _, err := hold.Exec(ctx, `LOCK TABLE `+table+` IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}

	sim, err := partnersim.New(partnersim.Options{Faults: partnersim.Faults{Latency: partnersim.Duration(time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_SINK__BASE_URL="+hs.URL,
		"STREAMSYNC_OUTBOX__TABLE="+table, fmt.Sprintf("STREAMSYNC_OUTBOX__BATCH=%d", batch))
	procs := map[string]*process{}
	for _, name := range []string{"relay-a", "relay-b"} {
		p := startProcess(t, append(env, "STREAMSYNC_OUTBOX__DSN="+testenv.PostgresDSN(t)+"&application_name="+name))
		t.Cleanup(func() { p.kill() })
		procs[name] = p
	}

	appended := func() int64 { n, _ := rdb.XLen(ctx, keys.Events).Result(); return n }
	var stuck string
	testenv.WaitFor(t, time.Minute, "a relay's batch appended and its DELETE waiting", func() bool {
		err := pool.QueryRow(ctx, `SELECT application_name FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM%' AND application_name LIKE 'relay-%'`).Scan(&stuck)
		return err == nil && appended() == batch
	})
	procs[stuck].kill()
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	rows := func() int {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n)
		return n
	}
	steps := func(s string) int { n, _ := rdb.HGet(ctx, keys.Steps, s).Int(); return n }
	testenv.WaitFor(t, time.Minute, "every row relayed by the other instance and delivered", func() bool {
		return rows() == 0 && steps("delivered") >= total && int(appended()) == steps("delivered")+steps("skipped_stale")
	})
	var locks int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE relation = $1::regclass`, table).Scan(&locks); err != nil || locks != 0 {
		t.Fatalf("%d locks left on the table (%v)", locks, err)
	}
	if n := appended(); n != total+batch {
		t.Fatalf("%d entries, want %d: the killed batch once more", n, total+batch)
	}
	if d, s := steps("delivered"), steps("skipped_stale"); d != total || s != batch {
		t.Fatalf("delivered %d, skipped stale %d; want %d and %d", d, s, total, batch)
	}
	if got := len(sim.Snapshot("").Records); got != total {
		t.Fatalf("partner has %d records, want %d", got, total)
	}
	// Each account's first copies are in commit order.
	xs, err := rdb.XRange(ctx, keys.Events, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	seen, last := map[string]bool{}, map[string]int{}
	for _, x := range xs {
		id := x.Values["id"].(string)
		if seen[id] {
			continue
		}
		seen[id] = true
		var g int
		_, _ = fmt.Sscanf(id, "k%d", &g)
		acc := x.Values["account"].(string)
		if commitRank(g) <= last[acc] {
			t.Fatalf("%s: row %d (commit rank %d) after commit rank %d", acc, g, commitRank(g), last[acc])
		}
		last[acc] = commitRank(g)
	}
}
