package reconcile_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/reconcile"
	"github.com/streamsync/streamsync/sinks/attemptlog"
)

// diffAccounts is "class key account" of every listed difference.
func diffAccounts(rep reconcile.Report) []string {
	var out []string
	for _, d := range rep.Differences {
		out = append(out, fmt.Sprintf("%s %s %q", d.Class, d.Key, d.Account))
	}
	slices.Sort(out)
	return out
}

// Against the ledger every difference names its account, and --account
// works: missing records showed account "" and --account could not report
// them. New ledger entries keep the account; an entry written before that
// (no account) takes it from the attempt log, else from the partner's record.
func TestLedgerDifferencesNameTheirAccount(t *testing.T) {
	w := newWorld(t)
	w.startPipeline()
	w.appendEvents(
		upsert("e1", "acc-1", "reg", "k1", 1, `{"a":1}`),
		upsert("e2", "acc-1", "reg", "k2", 1, `{"b":2}`),
		upsert("e3", "acc-2", "reg", "k3", 1, `{"c":3}`),
		upsert("e4", "acc-2", "reg", "k4", 1, `{"d":4}`),
	)
	w.waitDelivered(4)
	lose(t, w, "reg", "k1")
	lose(t, w, "reg", "k3")

	// Entries as streamsync wrote them before the ledger kept accounts.
	ctx := context.Background()
	old := func(key string, version int64, data string) {
		v := fmt.Sprintf("%d|%s|0|old-%s", version, event.ContentHash([]byte(data)), key)
		if err := w.rdb.HSet(ctx, w.keys.Ledger("reg"), key, v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	old("o-logged", 3, `{"o":1}`)  // the partner lost it; the attempt log knows it is acc-2's
	old("o-partner", 2, `{"p":2}`) // the partner has it, of acc-1, at a lower version
	old("o-nowhere", 1, `{"n":1}`) // nobody knows whose it is
	w.seed(w.theirs, rec("reg", "o-partner", "acc-1", 1, `{"p":1}`))
	if err := attemptlog.EnsureSchema(ctx, w.conn, w.db); err != nil {
		t.Fatal(err)
	}
	b, err := w.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.attempts (ts, event_id, row_id, account, entity, key, step)", w.db))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(time.Now().Add(-10*time.Minute).UTC(), "old-o-logged", "row-o-logged", "acc-2", "reg", "o-logged", "delivered"); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}

	run := func(cfg reconcile.Config) reconcile.Report {
		t.Helper()
		rep, err := w.reconciler(cfg, false).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run(reconcile.Config{})
	want := []string{`behind o-partner "acc-1"`, `missing k1 "acc-1"`, `missing k3 "acc-2"`, `missing o-logged "acc-2"`, `missing o-nowhere ""`}
	if got := diffAccounts(rep); !slices.Equal(got, want) {
		t.Fatalf("differences %v, want %v", got, want)
	}
	if notes := strings.Join(rep.Notes, " "); !strings.Contains(notes, "3 ledger entries were written before the ledger kept accounts") {
		t.Fatalf("notes %v should say how entries without an account were attributed", rep.Notes)
	}

	rep = run(reconcile.Config{Accounts: []string{"acc-2"}})
	if got, want := diffAccounts(rep), []string{`missing k3 "acc-2"`, `missing o-logged "acc-2"`}; !slices.Equal(got, want) || rep.Missing != 2 ||
		rep.Ours != 3 || rep.Theirs != 1 || rep.Equal != 1 || rep.Found() != 2 {
		t.Fatalf("--account acc-2: %v %+v", got, rep)
	}
	rep = run(reconcile.Config{Accounts: []string{"acc-1"}})
	if got, want := diffAccounts(rep), []string{`behind o-partner "acc-1"`, `missing k1 "acc-1"`}; !slices.Equal(got, want) ||
		rep.Ours != 3 || rep.Theirs != 2 || rep.Equal != 1 {
		t.Fatalf("--account acc-1: %v %+v", got, rep)
	}

	// By point reads of the records delivered in the window: the old entry
	// takes the attempt log's account.
	rep = run(reconcile.Config{Recent: time.Hour})
	if got, want := diffAccounts(rep), []string{`missing o-logged "acc-2"`}; !slices.Equal(got, want) {
		t.Fatalf("--recent: %v %+v", got, rep)
	}
}
