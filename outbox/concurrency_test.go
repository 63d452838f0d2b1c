package outbox

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
