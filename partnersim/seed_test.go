package partnersim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// listAll pages through GET /v1/{entity} and returns the keys in order.
func listAll(tb testing.TB, base, entity, account string, limit int) []string {
	tb.Helper()
	var keys []string
	cursor := ""
	for {
		u := fmt.Sprintf("%s/v1/%s?limit=%d&cursor=%s&account=%s", base, entity, limit, cursor, account)
		resp, err := http.Get(u)
		if err != nil {
			tb.Fatal(err)
		}
		var page struct {
			Items []struct {
				Key string `json:"key"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			tb.Fatal(err)
		}
		resp.Body.Close()
		if len(page.Items) > limit {
			tb.Fatalf("page of %d items, limit %d", len(page.Items), limit)
		}
		for _, it := range page.Items {
			keys = append(keys, it.Key)
		}
		if page.NextCursor == "" {
			return keys
		}
		cursor = page.NextCursor
	}
}

func post(tb testing.TB, url string, body any, out any) int {
	tb.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func TestSeedListAndIndex(t *testing.T) {
	sim, _ := New(Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	var ans map[string]int
	if st := post(t, srv.URL+"/_sim/seed", SeedSpec{Entity: "reg", Count: 10000, Accounts: 3, Version: 7}, &ans); st != 200 || ans["seeded"] != 10000 {
		t.Fatalf("seed: %d %v", st, ans)
	}
	// Keys written one by one after the bulk land in the pending part of the
	// index; listing must merge both parts in order.
	for _, k := range []string{"a", "reg-x", "zzz", SeedKey("", 5000) + "b"} {
		sim.mu.Lock()
		sim.setRecord(recordID{"reg", k}, &record{Account: "acc-0", Version: 1, Data: json.RawMessage(`{}`)})
		sim.mu.Unlock()
	}
	keys := listAll(t, srv.URL, "reg", "", 999)
	if len(keys) != 10004 || !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(keys) {
		t.Fatalf("listed %d keys (sorted %v), want 10004 distinct sorted keys", len(keys), slices.IsSorted(keys))
	}
	if acc := listAll(t, srv.URL, "reg", "acc-1", 500); len(acc) != 3333 {
		t.Fatalf("acc-1 has 3333 records, listed %d", len(acc))
	}
}

func TestDrift(t *testing.T) {
	sim, _ := New(Options{Seed: 3})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	if _, err := sim.Seed(SeedSpec{Entity: "reg", Count: 200, Version: 5}); err != nil {
		t.Fatal(err)
	}
	var d Drifted
	if st := post(t, srv.URL+"/_sim/drift", DriftSpec{Entity: "reg", Drop: 3, Alter: 4, Age: 5, Bump: 6, Add: 7}, &d); st != 200 {
		t.Fatalf("drift: %d", st)
	}
	if len(d.Dropped) != 3 || len(d.Altered) != 4 || len(d.Aged) != 5 || len(d.Bumped) != 6 || len(d.Added) != 7 {
		t.Fatalf("drifted %+v", d)
	}
	st := sim.Snapshot("")
	byKey := map[string]RecordState{}
	for _, r := range st.Records {
		byKey[r.Key] = r
	}
	seen := map[string]bool{}
	for _, group := range [][]Ref{d.Dropped, d.Altered, d.Aged, d.Bumped} {
		for _, r := range group {
			if seen[r.Key] {
				t.Fatalf("%s drifted twice", r.Key)
			}
			seen[r.Key] = true
		}
	}
	for _, r := range d.Dropped {
		if _, ok := byKey[r.Key]; ok {
			t.Fatalf("dropped %s is still there", r.Key)
		}
	}
	for _, r := range d.Altered {
		if rec := byKey[r.Key]; rec.Version != 5 || bytes.Contains(rec.Data, []byte(`"i"`)) {
			t.Fatalf("altered %s: %+v", r.Key, rec)
		}
	}
	for _, r := range d.Aged {
		if byKey[r.Key].Version != 4 {
			t.Fatalf("aged %s: %+v", r.Key, byKey[r.Key])
		}
	}
	for _, r := range d.Bumped {
		if byKey[r.Key].Version != 6 {
			t.Fatalf("bumped %s: %+v", r.Key, byKey[r.Key])
		}
	}
	if keys := listAll(t, srv.URL, "reg", "", 1000); len(keys) != 200-3+7 {
		t.Fatalf("listed %d, want %d", len(keys), 200-3+7)
	}
	if st := post(t, srv.URL+"/_sim/drift", DriftSpec{Entity: "Bad"}, nil); st != 400 {
		t.Fatalf("bad entity: %d", st)
	}
}

// BenchmarkListPage shows a page's cost does not grow with the records held.
func BenchmarkListPage(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			sim, _ := New(Options{})
			_, _ = sim.Seed(SeedSpec{Entity: "reg", Count: n})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodGet, "/v1/reg?limit=1000", nil)
				sim.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
