package partnerread_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnerread"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/profile"
	"github.com/streamsync/streamsync/reconcile"
	"github.com/streamsync/streamsync/source"
)

// crmProfile reads a partner that pages by offset, keeps no versions, names
// fields its own way, formats numbers and times its own way, and is read
// by its own ids.
const crmProfile = `name: crm
base_url: http://placeholder.invalid
versions: none
defaults:
  create: {method: POST, path: /x, id: .id}
  update: {method: PATCH, path: "/x/{partner_id}"}
  delete: {method: DELETE, path: "/x/{partner_id}"}
  find: {method: GET, path: /x, query: {external_id: "{key}"}, id: .id}
entities:
  contact:
    read:
      get: {path: "/crm/contacts/{partner_id}"}
      list: {path: /crm/contacts}
      paging: {kind: offset, size: 3, size_param: limit}
      items: .data.rows
      item: '{key: .external_id, account: .owner, version: .updated_at, deleted: (.state == "archived"), data: {name: .full_name, seats: .seat_count, since: .customer_since}}'
    compare:
      fields: [name, seats, since]
      times: [since]
`

// crm is the in-test partner: rows in a list whose order is shuffled on
// every request; when page 2 is first asked for, a row that sat on page 1
// is deleted and another inserted (a partner written to while it is read).
type crm struct {
	mu      sync.Mutex
	rows    []map[string]any
	mutated bool
	rng     *rand.Rand
	onPage2 func(c *crm)
}

func (c *crm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := strings.CutPrefix(r.URL.Path, "/crm/contacts/"); ok {
		for _, row := range c.rows {
			if row["id"] == id {
				_ = json.NewEncoder(w).Encode(row)
				return
			}
		}
		http.NotFound(w, r)
		return
	}
	off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if off > 0 && !c.mutated {
		c.mutated = true
		c.onPage2(c)
	}
	// Shuffle all rows but the last: the order is unstable.
	n := len(c.rows) - 1
	c.rng.Shuffle(n, func(i, j int) { c.rows[i], c.rows[j] = c.rows[j], c.rows[i] })
	page := []map[string]any{}
	for i := off; i < min(off+limit, len(c.rows)); i++ {
		page = append(page, c.rows[i])
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"rows": page}})
}

func (c *crm) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.rows, func(r map[string]any) bool { return r["external_id"] == key })
}

func crmRow(key, name string, seats json.Number, since string) map[string]any {
	return map[string]any{"id": "p-" + key, "external_id": key, "full_name": name, "seat_count": seats,
		"customer_since": since, "owner": "acc", "updated_at": "2026-03-01T10:00:00Z", "state": "active"}
}

// Reconciliation through a profile, over real ClickHouse and Redis, against
// a partner that pages by offset, keeps no versions and names fields its
// own way, whose list is shuffled and written to while it is read: the
// formatting of numbers and times is no difference, the unstable list
// makes no false missing or extra, and the real differences are found and
// repaired (the differing record re-sent at our version, the missing one
// sent, the extra one deleted only because point reads confirmed it).
func TestReconcileThroughProfile(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	conn, db := testenv.ClickHouse(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })

	// Ours: k01..k10, version 5.
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	oursHS := httptest.NewServer(sim)
	t.Cleanup(oursHS.Close)
	var recs []partnersim.RecordState
	for i := 1; i <= 10; i++ {
		key := fmt.Sprintf("k%02d", i)
		data := fmt.Sprintf(`{"name":"N%d","seats":%d.1,"since":"2026-01-02T02:04:05Z","internal":"ours only"}`, i, i)
		recs = append(recs, partnersim.RecordState{Entity: "contact", Key: key, Account: "acc", Version: 5, Data: json.RawMessage(data)})
	}
	if _, err := sim.Seed(partnersim.SeedSpec{Records: recs}); err != nil {
		t.Fatal(err)
	}
	ours, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: oursHS.URL, ClientID: "id", ClientSecret: "sec", PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ours.Close() })

	// Theirs: x50 (deleted while the list is read), k01..k08 with the
	// numbers and times written differently, k03 truly different, k09
	// missing, k10 created while the list is read, x99 extra (kept last).
	c := &crm{rng: rand.New(rand.NewPCG(1, 2))}
	c.rows = append(c.rows, crmRow("x50", "gone soon", "1", "2026-01-02T03:04:05+01:00"))
	for i := 1; i <= 8; i++ {
		key, name := fmt.Sprintf("k%02d", i), fmt.Sprintf("N%d", i)
		if i == 3 {
			name = "changed at the partner"
		}
		c.rows = append(c.rows, crmRow(key, name, json.Number(fmt.Sprintf("%d.10", i)), "2026-01-02T03:04:05+01:00"))
	}
	c.rows = append(c.rows, crmRow("x99", "theirs only", "1e2", "2026-01-02T03:04:05+01:00"))
	c.onPage2 = func(c *crm) {
		c.rows = slices.DeleteFunc(c.rows, func(r map[string]any) bool { return r["external_id"] == "x50" })
		c.rows = slices.Insert(c.rows, 0, crmRow("k10", "N10", "10.1", "2026-01-02T02:04:05.000Z"))
	}
	theirsHS := httptest.NewServer(c)
	t.Cleanup(theirsHS.Close)
	p, err := profile.Parse([]byte(crmProfile), "crm")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := partnerread.New(partnerread.Config{Profile: p, BaseURL: theirsHS.URL,
		IDs: func(_ context.Context, _, key string) (string, error) {
			if strings.HasPrefix(key, "k") {
				return "p-" + key, nil // the id map holds what we created
			}
			return "", nil
		},
		Find: func(_ context.Context, _, key string) (string, bool, error) { return "p-" + key, c.has(key), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = theirs.Close() })

	var mu sync.Mutex
	var repairs []event.Event
	rc, err := reconcile.New(reconcile.Config{Database: db, Entities: []string{"contact"}, Repair: true, RepairExtra: true,
		Hash: theirs.Hash, NoVersions: p.Versions() == profile.VersionsNone},
		reconcile.Deps{CH: conn, Ours: ours, Theirs: theirs, Ledger: reconcile.RedisLedger{RDB: rdb, Key: func(e string) string { return prefix + "ledger:" + e }},
			Append: func(_ context.Context, events []event.Event) error {
				mu.Lock()
				defer mu.Unlock()
				repairs = append(repairs, events...)
				return nil
			}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rc.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: ours %d theirs %d equal %d missing %d extra %d differs %d rechecked %d cleared %d repaired %d",
		rep.Ours, rep.Theirs, rep.Equal, rep.Missing, rep.Extra, rep.Differs, rep.Rechecked, rep.Cleared, rep.Repaired)
	if rep.Missing != 1 || rep.Extra != 1 || rep.Differs != 1 || rep.Behind != 0 || rep.Ahead != 0 {
		t.Fatalf("want missing 1 (k09), extra 1 (x99), differs 1 (k03); got %+v", rep)
	}
	got := map[string]event.Event{}
	for _, d := range rep.Differences {
		if want := map[string]string{"k09": reconcile.ClassMissing, "x99": reconcile.ClassExtra, "k03": reconcile.ClassDiffers}[d.Key]; want != d.Class {
			t.Errorf("difference %s %s, want %q", d.Class, d.Key, want)
		}
	}
	for _, e := range repairs {
		got[e.Key] = e
	}
	if len(repairs) != 3 || got["k03"].Op != event.OpUpsert || got["k03"].Version != 5 || !strings.Contains(string(got["k03"].Data), `"N3"`) ||
		got["k09"].Op != event.OpUpsert || got["x99"].Op != event.OpDelete {
		t.Fatalf("repairs %+v", repairs)
	}
	if rep.Cleared == 0 {
		t.Errorf("the unstable list suggested no false difference (rechecked %d): the test does not test the re-check", rep.Rechecked)
	}
}
