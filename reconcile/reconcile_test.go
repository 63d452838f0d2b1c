package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/reconcile"
)

// seedClasses makes one record of every class (and some equal ones) between
// our source and the partner: keys needing escaping, several accounts, an
// entity the partner has nothing of.
func seedClasses(w *world) {
	w.seedBoth(
		rec("reg", "same", "acc-1", 5, `{"a":1,"b":"x"}`),
		rec("reg", "a/b c%3F", "acc-2", 5, `{"k":"escaped"}`),
		rec("reg", "é?#", "acc-1", 2, `{"n":1}`),
	)
	w.seed(w.ours,
		rec("reg", "versions-differ-data-same", "acc-1", 9, `{"b":2,"a":1}`),
		rec("reg", "missing one", "acc-2", 3, `{"m":1}`),
		rec("reg", "behind", "acc-1", 7, `{"v":7}`),
		rec("reg", "ahead", "acc-1", 7, `{"v":7}`),
		rec("reg", "differs", "acc-2", 7, `{"v":7}`),
		rec("only_ours", "o1", "acc-3", 1, `{}`),
	)
	w.seed(w.theirs,
		rec("reg", "versions-differ-data-same", "acc-1", 12, `{ "a":1, "b":2 }`),
		rec("reg", "extra/1", "acc-2", 4, `{"x":1}`),
		rec("reg", "behind", "acc-1", 6, `{"v":6}`),
		rec("reg", "ahead", "acc-1", 8, `{"v":8}`),
		rec("reg", "differs", "acc-2", 7, `{"v":"changed there"}`),
	)
}

func TestEveryClass(t *testing.T) {
	w := newWorld(t)
	seedClasses(w)
	rep, err := w.reconciler(reconcile.Config{Entities: []string{"reg", "only_ours"}, BatchSize: 3}, true).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"equal": 4, "missing": 2, "extra": 1, "behind": 1, "ahead": 1, "differs": 1}
	for class, n := range want {
		if got := rep.ByClass(class); got != n {
			t.Errorf("%s: %d, want %d", class, got, n)
		}
	}
	if rep.Ours != 9 || rep.Theirs != 8 || rep.Against != "source" || rep.Status != reconcile.StatusDifferences || rep.ExitCode() != 1 {
		t.Fatalf("report %+v", rep)
	}
	got := map[string]string{}
	for _, d := range rep.Differences {
		got[d.Entity+"/"+d.Key] = fmt.Sprintf("%s %s %d/%d", d.Class, d.Account, d.OurVersion, d.TheirVersion)
	}
	wantDiffs := map[string]string{
		"reg/missing one": "missing acc-2 3/0", "only_ours/o1": "missing acc-3 1/0", "reg/extra/1": "extra acc-2 0/4",
		"reg/behind": "behind acc-1 7/6", "reg/ahead": "ahead acc-1 7/8", "reg/differs": "differs acc-2 7/7",
	}
	if fmt.Sprint(got) != fmt.Sprint(wantDiffs) {
		t.Fatalf("differences\n got %v\nwant %v", got, wantDiffs)
	}
	// The run and its differences are in ClickHouse; its items are gone.
	var runs, diffs, items uint64
	var status string
	row := w.conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count(), any(status) FROM %s.reconcile_runs WHERE run_id = ? AND missing = 2 AND equal = 4", w.db), rep.RunID)
	if err := row.Scan(&runs, &status); err != nil || runs != 1 || status != "differences" {
		t.Fatalf("reconcile_runs: %d rows, status %q, %v", runs, status, err)
	}
	_ = w.conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s.reconcile_diffs WHERE run_id = ?", w.db), rep.RunID).Scan(&diffs)
	_ = w.conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s.reconcile_items WHERE run_id = ?", w.db), rep.RunID).Scan(&items)
	if diffs != 6 || items != 0 {
		t.Fatalf("reconcile_diffs has %d rows (want 6), reconcile_items %d (want 0 after the run)", diffs, items)
	}
	var out bytes.Buffer
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	_ = json.Unmarshal(out.Bytes(), &j)
	for _, k := range []string{"run_id", "against", "ours", "theirs", "equal", "missing", "extra", "behind", "ahead", "differs", "repaired"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON output lacks %q: %s", k, out.String())
		}
	}
	out.Reset()
	_ = rep.WriteTable(&out)
	if !strings.Contains(out.String(), "ahead") || !strings.Contains(out.String(), `"missing one"`) {
		t.Fatalf("table output:\n%s", out.String())
	}
}

func TestAccountsFilter(t *testing.T) {
	w := newWorld(t)
	seedClasses(w)
	rep, err := w.reconciler(reconcile.Config{Entities: []string{"reg"}, Accounts: []string{"acc-2"}}, true).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// acc-2: a/b c%3F equal, missing one, extra/1, differs.
	if rep.Equal != 1 || rep.Missing != 1 || rep.Extra != 1 || rep.Differs != 1 || rep.Behind != 0 || rep.Ahead != 0 {
		t.Fatalf("acc-2 only: %+v", rep)
	}
}

func TestRepairEventsOnly(t *testing.T) {
	w := newWorld(t)
	seedClasses(w)
	rep, err := w.reconciler(reconcile.Config{Entities: []string{"reg", "only_ours"}, Repair: true}, true).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	evs := w.streamEvents()
	if rep.Repaired != 4 || len(evs) != 4 {
		t.Fatalf("repaired %d, %d events appended; want 4 (2 missing, behind, differs)", rep.Repaired, len(evs))
	}
	byKey := map[string]map[string]any{}
	for _, e := range evs {
		byKey[e["key"].(string)] = e
		if e["origin"] != "reconcile" || e["op"] != "upsert" || !strings.HasPrefix(e["id"].(string), "rc-"+rep.RunID+"-") {
			t.Fatalf("repair event %v", e)
		}
	}
	if byKey["behind"]["version"] != "7" || byKey["differs"]["version"] != "8" || byKey["missing one"]["version"] != "3" {
		t.Fatalf("versions: behind %v (want ours, 7), differs %v (want theirs+1, 8), missing %v (want 3)",
			byKey["behind"]["version"], byKey["differs"]["version"], byKey["missing one"]["version"])
	}
	if byKey["differs"]["data"] != `{"v":7}` {
		t.Fatalf("differs repair carries %v, want our data", byKey["differs"]["data"])
	}
	if _, ok := byKey["ahead"]; ok {
		t.Fatal("an ahead record was repaired")
	}
	if _, ok := byKey["extra/1"]; ok {
		t.Fatal("an extra record was deleted without --repair-extra")
	}
}

// TestRepairThenZero is the one that matters: a run repairs, a real
// pipeline delivers the repairs to the partner, and a second run finds
// nothing.
func TestRepairThenZero(t *testing.T) {
	w := newWorld(t)
	w.seedBoth(rec("reg", "same", "acc-1", 5, `{"a":1}`), rec("reg", "sp ace/slash", "acc-2", 5, `{"b":1}`))
	child := rec("reg", "child", "acc-1", 4, `{"of":"m1"}`)
	child.Parent = &partnersim.Ref{Entity: "main", Key: "m1"}
	w.seed(w.ours, child,
		rec("main", "m1", "acc-1", 2, `{"title":"parent"}`),
		rec("reg", "missing", "acc-2", 3, `{"m":1}`),
		rec("reg", "behind", "acc-1", 7, `{"v":7}`),
		rec("reg", "differs", "acc-2", 7, `{"v":7}`),
	)
	w.seed(w.theirs,
		rec("reg", "extra", "acc-3", 4, `{"x":1}`),
		rec("reg", "behind", "acc-1", 6, `{"v":6}`),
		rec("reg", "differs", "acc-2", 7, `{"v":"edited there"}`),
	)
	w.startPipeline()
	first, err := w.reconciler(reconcile.Config{Entities: []string{"main", "reg"}, Repair: true, RepairExtra: true}, true).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if first.Found() != 6 || first.Repaired != 6 || first.ExitCode() != 1 {
		t.Fatalf("first run: %+v", first)
	}
	w.waitDelivered(6)
	second, err := w.reconciler(reconcile.Config{Entities: []string{"main", "reg"}}, true).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if second.Found() != 0 || second.ExitCode() != 0 || second.Equal != 7 {
		t.Fatalf("second run after the repairs were delivered: %+v", second)
	}
}
