package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/testenv"
)

// A transaction that took a lower id and commits after a higher one has
// been committed and relayed is relayed too: the relay keeps no id cursor.
func TestRelayLateCommitOfALowerID(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	r := f.relay(t, 100, nil)
	late, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = late.Rollback(ctx) }()
	var lowID int64
	if err := late.QueryRow(ctx, `INSERT INTO `+f.table+` (event) VALUES ($1) RETURNING id`, evt("late", 1)).Scan(&lowID); err != nil {
		t.Fatal(err)
	}
	highID := f.insert(t, evt("early", 2), true)
	if highID <= lowID {
		t.Fatalf("ids %d, %d: want the early commit's higher", lowID, highID)
	}
	if n, err := r.RelayOnce(ctx); err != nil || n != 1 {
		t.Fatalf("first pass: %d %v, want the committed row", n, err)
	}
	if err := late.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := r.RelayOnce(ctx); err != nil || n != 1 {
		t.Fatalf("pass after the late commit: %d %v, want its row", n, err)
	}
	xs := f.stream(t, f.keys.Events)
	if len(xs) != 2 || xs[0].Values["id"] != "early" || xs[1].Values["id"] != "late" {
		t.Fatalf("stream %v, want early then late", xs)
	}
	if n := f.rows(t); n != 0 {
		t.Fatalf("%d rows left", n)
	}
}

// Two relays and producers whose ids are taken in one order and committed in
// the other: each account's events reach the stream once each, in the order
// their transactions committed.
func TestTwoRelaysKeepEachAccountsCommitOrder(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 2 {
		r := f.relay(t, 7, nil)
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(runCtx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	// Per account, rounds of four transactions: each inserts its row (ids
	// in insertion order), then they commit one after another in reverse,
	// and the commit order is recorded as each COMMIT returns.
	const accounts, rounds, width = 3, 40, 4
	committed := make([][]string, accounts)
	var pw sync.WaitGroup
	for a := range accounts {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for round := range rounds {
				txs := make([]pgx.Tx, width)
				ids := make([]string, width)
				for i := range width {
					tx, err := f.pool.Begin(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					txs[i] = tx
					ids[i] = fmt.Sprintf("a%d-r%d-t%d", a, round, i)
					ev := fmt.Sprintf(`{"id":%q,"account":"acc-%d","entity":"x","key":%q,"op":"upsert","version":1,"data":{}}`, ids[i], a, ids[i])
					if _, err := tx.Exec(ctx, `INSERT INTO `+f.table+` (event) VALUES ($1)`, ev); err != nil {
						t.Error(err)
						return
					}
				}
				for i := width - 1; i >= 0; i-- {
					if err := txs[i].Commit(ctx); err != nil {
						t.Error(err)
						return
					}
					committed[a] = append(committed[a], ids[i])
				}
			}
		}()
	}
	pw.Wait()
	total := accounts * rounds * width
	testenv.WaitFor(t, 30*time.Second, "every row relayed", func() bool {
		n, _ := f.rdb.XLen(ctx, f.keys.Events).Result()
		return int(n) >= total && f.rows(t) == 0
	})
	xs := f.stream(t, f.keys.Events)
	if len(xs) != total {
		t.Fatalf("%d entries for %d rows", len(xs), total)
	}
	got := make([][]string, accounts)
	for _, x := range xs {
		var a int
		if _, err := fmt.Sscanf(x.Values["account"].(string), "acc-%d", &a); err != nil {
			t.Fatal(err)
		}
		got[a] = append(got[a], x.Values["id"].(string))
	}
	for a := range accounts {
		for i := range committed[a] {
			if got[a][i] != committed[a][i] {
				t.Fatalf("account %d: entry %d is %s, committed %s there (stream %v, commits %v)",
					a, i, got[a][i], committed[a][i], got[a][max(0, i-4):i+1], committed[a][max(0, i-4):i+1])
			}
		}
	}
}

// A relay that goes silent in the middle of a batch, its connection left
// open (a host gone), holds the table's lock only for Config.Hold: then
// PostgreSQL ends its session and another relay relays the batch.
func TestRelayGoneSilentMidBatchLosesTheTable(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for i := range 10 {
		f.insert(t, evt(fmt.Sprintf("s%d", i), i+1), true)
	}
	silent := f.relay(t, 100, nil)
	silent.cfg.Hold = 300 * time.Millisecond
	stuck, release := make(chan struct{}), make(chan struct{})
	silent.afterAppend = func() error { close(stuck); <-release; return nil }
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	errc := make(chan error, 1)
	go func() { _, err := silent.RelayOnce(ctx); errc <- err }()
	<-stuck
	other := f.relay(t, 100, nil)
	testenv.WaitFor(t, 10*time.Second, "the other relay relays the batch", func() bool {
		n, err := other.RelayOnce(ctx)
		return err == nil && n == 10
	})
	unblock()
	if err := <-errc; err == nil {
		t.Fatal("the silent relay's batch committed after its session was ended")
	}
	if n := f.rows(t); n != 0 {
		t.Fatalf("%d rows left", n)
	}
	if xs := f.stream(t, f.keys.Events); len(xs) != 20 {
		t.Fatalf("%d entries, want the batch twice", len(xs))
	}
}

// A table made before the commit-order stamp gets it from a relay whose
// user owns it; a relay whose user does not warns with the statements to
// run and relays in id order.
func TestRelayAddsCommitOrderToAnOldTable(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	old := f.table + "_old"
	if _, err := f.pool.Exec(ctx, `CREATE TABLE `+old+` (id BIGSERIAL PRIMARY KEY, event JSONB NOT NULL,
		created_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = f.pool.Exec(context.Background(), `DROP TABLE IF EXISTS `+old) })
	role := f.table + "_nonowner"
	for _, q := range []string{`CREATE ROLE ` + role + ` LOGIN`, `GRANT SELECT, UPDATE, DELETE ON ` + old + ` TO ` + role} {
		if _, err := f.pool.Exec(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	t.Cleanup(func() {
		_, _ = f.pool.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = f.pool.Exec(context.Background(), `DROP ROLE IF EXISTS `+role)
	})
	if _, err := f.pool.Exec(ctx, `INSERT INTO `+old+` (event) VALUES ($1)`, evt("o1", 1)); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = role
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var logs strings.Builder
	var mu sync.Mutex
	nonOwner, err := NewRelay(Config{Table: old, Keys: f.keys, Limits: event.Limits{MaxBytes: 4096},
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))}, pool, f.rdb)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := nonOwner.RelayOnce(ctx); err != nil || n != 1 {
		t.Fatalf("relay as a user who does not own the table: %d %v", n, err)
	}
	mu.Lock()
	warned := logs.String()
	mu.Unlock()
	if !strings.Contains(warned, "level=WARN") || !strings.Contains(warned, "no commit-order stamp") ||
		!strings.Contains(warned, "CREATE CONSTRAINT TRIGGER") {
		t.Fatalf("want a WARN with the statements; log: %s", warned)
	}
	if has, err := HasCommitOrder(ctx, f.pool, old); err != nil || has {
		t.Fatalf("stamp after the non-owner: %v %v", has, err)
	}

	owner, err := NewRelay(Config{Table: old, Keys: f.keys, Limits: event.Limits{MaxBytes: 4096}}, f.pool, f.rdb)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := owner.RelayOnce(ctx); err != nil || n != 0 {
		t.Fatalf("owner's pass: %d %v", n, err)
	}
	if has, err := HasCommitOrder(ctx, f.pool, old); err != nil || !has {
		t.Fatalf("stamp after the owner's relay: %v %v", has, err)
	}
	// The producer's user needs only INSERT: the trigger runs as the owner.
	if _, err := f.pool.Exec(ctx, `GRANT INSERT ON `+old+` TO `+role+`; GRANT USAGE ON SEQUENCE `+old+`_id_seq TO `+role); err != nil {
		t.Fatal(err)
	}
	var seq *int64
	if _, err := f.pool.Exec(ctx, `REVOKE UPDATE ON `+old+` FROM `+role); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO `+old+` (event) VALUES ($1)`, evt("o2", 2)); err != nil {
		t.Fatalf("insert by a producer with INSERT only: %v", err)
	}
	if err := f.pool.QueryRow(ctx, `SELECT commit_seq FROM `+old).Scan(&seq); err != nil || seq == nil {
		t.Fatalf("commit_seq %v %v, want stamped", seq, err)
	}
}

type lockedWriter struct {
	w  *strings.Builder
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
