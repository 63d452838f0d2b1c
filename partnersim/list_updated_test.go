package partnersim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// updated_since lists the records written at or after it — writes,
// deletes (as tombstones) and /_sim/change — and pages through them with
// the cursor.
func TestListUpdatedSince(t *testing.T) {
	s := start(t, nil)
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		s.put("contact", k, rec("acc", 1, `{}`), "")
	}
	s.clock.Add(time.Minute)
	s.token = s.fetchToken()
	since := s.clock.Now().UnixMilli()
	s.put("contact", "b", rec("acc", 2, `{"n":2}`), "")
	s.del("contact", "c", "2")
	if _, err := s.srv.Change(ChangeSpec{Entity: "contact", Key: "e", Data: json.RawMessage(`{"n":5}`)}); err != nil {
		t.Fatal(err)
	}
	s.put("contact", "g", rec("other", 1, `{}`), "")

	list := func(q string) (keys []string, deleted map[string]bool) {
		t.Helper()
		deleted = map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			st, b := s.do(http.MethodGet, "/v1/contact?limit=2&"+q+"&cursor="+url.QueryEscape(cursor), "", "", nil)
			var page struct {
				Items      []listItem `json:"items"`
				NextCursor string     `json:"next_cursor"`
			}
			if err := json.Unmarshal(b, &page); err != nil || st != http.StatusOK {
				t.Fatalf("%s: %d %s", q, st, b)
			}
			for _, it := range page.Items {
				keys = append(keys, it.Key)
				deleted[it.Key] = it.Deleted
				if it.UpdatedAt == "" {
					t.Fatalf("item %s without updated_at", it.Key)
				}
			}
			if page.NextCursor == "" {
				return keys, deleted
			}
			if pages > 10 {
				t.Fatal("too many pages")
			}
			cursor = page.NextCursor
		}
	}
	keys, deleted := list("updated_since=" + strconv.FormatInt(since, 10))
	if want := "[b c e g]"; fmtKeys(keys) != want || !deleted["c"] || deleted["b"] {
		t.Fatalf("updated since: %v (deleted %v), want %s with c deleted", keys, deleted, want)
	}
	keys, _ = list("updated_since=" + strconv.FormatInt(since, 10) + "&account=acc")
	if fmtKeys(keys) != "[b c e]" {
		t.Fatalf("updated since, account acc: %v", keys)
	}
	keys, _ = list("updated_since=" + strconv.FormatInt(since+1, 10))
	if len(keys) != 0 {
		t.Fatalf("updated since a later ms: %v", keys)
	}
	keys, deleted = list("")
	if fmtKeys(keys) != "[a b d e f g]" || deleted["c"] {
		t.Fatalf("without the filter: %v (the tombstone is not listed)", keys)
	}
	if st, _ := s.do(http.MethodGet, "/v1/contact?updated_since=yesterday", "", "", nil); st != http.StatusBadRequest {
		t.Fatalf("bad updated_since: %d", st)
	}
}

// updated_after lists the crm records updated at or after it (archived
// ones too), and offset and total count within them.
func TestCRMListUpdatedAfter(t *testing.T) {
	c := startCRM(t, nil)
	ids := map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		ids[k] = c.create("contact", k, `{}`, "")
	}
	c.clock.Add(10 * time.Second)
	after := c.clock.Now().Format(time.RFC3339)
	c.call(http.MethodPatch, "/crm/v2/contact/"+ids["b"], `{"fields":{"n":1}}`, nil)
	c.call(http.MethodDelete, "/crm/v2/contact/"+ids["d"], "", nil)
	c.create("contact", "f", `{}`, "")

	var got []string
	for offset := 0; ; offset += 2 {
		r := c.call(http.MethodGet, "/crm/v2/contact?limit=2&offset="+strconv.Itoa(offset)+"&updated_after="+url.QueryEscape(after), "", nil)
		if r.code() != 0 || r.data()["total"] != float64(3) {
			t.Fatalf("offset %d: %s", offset, r.raw)
		}
		for _, it := range r.items() {
			got = append(got, it.(map[string]any)["external_id"].(string))
		}
		if len(r.items()) < 2 {
			break
		}
	}
	if fmtKeys(got) != "[b d f]" {
		t.Fatalf("updated after: %v", got)
	}
	// The same instant written in another zone, and a second later.
	utc := c.clock.Now().UTC().Format(time.RFC3339)
	if r := c.call(http.MethodGet, "/crm/v2/contact?updated_after="+url.QueryEscape(utc), "", nil); r.data()["total"] != float64(3) {
		t.Fatalf("in UTC: %s", r.raw)
	}
	later := c.clock.Now().Add(time.Second).Format(time.RFC3339)
	if r := c.call(http.MethodGet, "/crm/v2/contact?updated_after="+url.QueryEscape(later), "", nil); r.data()["total"] != float64(0) {
		t.Fatalf("a second later: %s", r.raw)
	}
	if r := c.call(http.MethodGet, "/crm/v2/contact?updated_after=yesterday", "", nil); r.code() != CRMCodeInvalid {
		t.Fatalf("bad updated_after: %s", r.raw)
	}
}

func fmtKeys(k []string) string { return fmt.Sprint(k) }

// /_sim/state counts the requests by route, the crm API's too, and not
// its own.
func TestStateRequestsByRoute(t *testing.T) {
	s := start(t, nil)
	s.put("contact", "k", rec("a", 1, `{}`), "")
	s.put("contact", "k", rec("a", 2, `{}`), "")
	s.get("/v1/contact/k")
	s.get("/v1/contact")
	s.do(http.MethodPost, "/crm/v2/contact", "application/json", `{"external_id":"x"}`, nil)
	s.get("/_sim/state")
	st := s.srv.Snapshot("")
	want := map[string]int64{"POST /oauth/token": 1, "PUT /v1/{entity}/{key}": 2, "GET /v1/{entity}/{key}": 1, "GET /v1/{entity}": 1}
	if len(st.Stats.ByRoute) != len(want) {
		t.Fatalf("by route %v, want %v", st.Stats.ByRoute, want)
	}
	for k, n := range want {
		if st.Stats.ByRoute[k] != n {
			t.Fatalf("by route %v, want %v", st.Stats.ByRoute, want)
		}
	}
	if st.CRM.Requests["POST /crm/v2/contact"] != 1 {
		t.Fatalf("crm requests %v", st.CRM.Requests)
	}
}
