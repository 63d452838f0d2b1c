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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/streamsync/streamsync/internal/testenv"
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
