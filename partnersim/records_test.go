package partnersim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestPut(t *testing.T) {
	s := start(t, nil)
	steps := []struct {
		name, entity, key, body string
		status                  int
		errKey                  string
		current                 float64
	}{
		{"create", "main_registration", "m-1", rec("acc", 5, `{"name":"Li"}`), http.StatusCreated, "", 0},
		{"replace with a newer version", "main_registration", "m-1", rec("acc", 6, `{"name":"Lei"}`), http.StatusOK, "", 0},
		{"same version is stale", "main_registration", "m-1", rec("acc", 6, `{"name":"x"}`), http.StatusConflict, "stale_version", 6},
		{"older version is stale", "main_registration", "m-1", rec("acc", 2, `{"name":"x"}`), http.StatusConflict, "stale_version", 6},
		{"child before parent", "sub_registration", "s-1", recWithParent("acc", 1, `{}`, "main_registration", "m-2"), http.StatusConflict, "parent_missing", 0},
		{"child after parent", "sub_registration", "s-1", recWithParent("acc", 1, `{}`, "main_registration", "m-1"), http.StatusCreated, "", 0},
		{"unknown body fields are ignored", "main_registration", "m-3", `{"account":"acc","version":1,"data":{},"extra":[1]}`, http.StatusCreated, "", 0},
		{"not JSON", "main_registration", "m-4", `{"account":`, http.StatusBadRequest, "invalid_request", 0},
		{"version a string", "main_registration", "m-4", `{"account":"a","version":"1","data":{}}`, http.StatusBadRequest, "invalid_request", 0},
		{"no account", "main_registration", "m-4", `{"version":1,"data":{}}`, http.StatusUnprocessableEntity, "invalid_record", 0},
		{"version zero", "main_registration", "m-4", rec("a", 0, `{}`), http.StatusUnprocessableEntity, "invalid_record", 0},
		{"data not an object", "main_registration", "m-4", rec("a", 1, `[1]`), http.StatusUnprocessableEntity, "invalid_record", 0},
		{"parent without key", "main_registration", "m-4", recWithParent("a", 1, `{}`, "main_registration", ""), http.StatusUnprocessableEntity, "invalid_record", 0},
		{"bad entity", "Main", "m-4", rec("a", 1, `{}`), http.StatusBadRequest, "invalid_request", 0},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			st, body := s.put(tt.entity, tt.key, tt.body, "")
			if st != tt.status {
				t.Fatalf("status %d, want %d (%v)", st, tt.status, body)
			}
			if tt.errKey != "" && body["error"] != tt.errKey {
				t.Fatalf("error %v, want %s", body["error"], tt.errKey)
			}
			if tt.current != 0 && body["current_version"] != tt.current {
				t.Fatalf("current_version %v, want %v", body["current_version"], tt.current)
			}
		})
	}
	st, body := s.get("/v1/main_registration/m-1")
	if st != http.StatusOK || body["version"] != float64(6) || body["account"] != "acc" || body["data"].(map[string]any)["name"] != "Lei" || body["updated_at"] == "" {
		t.Fatalf("GET after the steps: %d %v", st, body)
	}
}

// Keys are path-escaped (RFC 3986 segment): every awkward character survives.
func TestKeysArePathEscaped(t *testing.T) {
	s := start(t, nil)
	keys := []string{"a/b", "q?x=1", "h#1", "100%", "with space", "ünï", "semi;colon", "plus+sign"}
	for i, k := range keys {
		if st, body := s.put("x", k, rec("acc", int64(i+1), `{"i":1}`), ""); st != http.StatusCreated {
			t.Fatalf("PUT %q: %d %v", k, st, body)
		}
		if st, body := s.get("/v1/x/" + url.PathEscape(k)); st != http.StatusOK || body["version"] != float64(i+1) {
			t.Fatalf("GET %q: %d %v", k, st, body)
		}
	}
	got := map[string]bool{}
	for _, r := range s.srv.Snapshot("").Records {
		got[r.Key] = true
	}
	for _, k := range keys {
		if !got[k] {
			t.Errorf("key %q was stored as something else: %v", k, got)
		}
	}
}

func TestDelete(t *testing.T) {
	s := start(t, nil)
	if st, _ := s.put("x", "k", rec("acc", 5, `{}`), ""); st != http.StatusCreated {
		t.Fatal(st)
	}
	steps := []struct {
		name, version string
		status        int
		errKey        string
	}{
		{"missing version", "", http.StatusBadRequest, "invalid_request"},
		{"stale version", "5", http.StatusConflict, "stale_version"},
		{"delete", "6", http.StatusNoContent, ""},
		{"already gone", "7", http.StatusNotFound, "not_found"},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			st, body := s.del("x", "k", tt.version)
			if st != tt.status {
				t.Fatalf("status %d, want %d (%v)", st, tt.status, body)
			}
			if tt.errKey != "" && body["error"] != tt.errKey {
				t.Fatalf("error %v, want %s", body["error"], tt.errKey)
			}
		})
	}
	if st, _ := s.get("/v1/x/k"); st != http.StatusNotFound {
		t.Fatalf("GET after delete: %d", st)
	}
	if st, body := s.put("x", "k", rec("acc", 6, `{}`), ""); st != http.StatusConflict || body["error"] != "stale_version" {
		t.Fatalf("an upsert older than the delete must be stale: %d %v", st, body)
	}
	if st, _ := s.put("x", "k", rec("acc", 7, `{}`), ""); st != http.StatusCreated {
		t.Fatalf("an upsert newer than the delete recreates: %d", st)
	}
	if st, _ := s.del("x", "never", "1"); st != http.StatusNotFound {
		t.Fatalf("delete of a record never seen: %d", st)
	}
}

func TestList(t *testing.T) {
	s := start(t, nil)
	for i, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
		acc := "a"
		if i == 4 {
			acc = "b"
		}
		s.put("x", k, rec(acc, 1, `{"n":1}`), "")
	}
	s.put("y", "other", rec("a", 1, `{}`), "")
	s.del("x", "k3", "2")

	var keys []string
	cursor := ""
	pages := 0
	for {
		path := "/v1/x?account=a&limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		st, body := s.get(path)
		if st != http.StatusOK {
			t.Fatalf("list: %d %v", st, body)
		}
		pages++
		for _, it := range body["items"].([]any) {
			m := it.(map[string]any)
			if m["account"] != "a" || m["version"] != float64(1) || m["data"] == nil {
				t.Fatalf("item %v", m)
			}
			keys = append(keys, m["key"].(string))
		}
		cursor = body["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if strings.Join(keys, ",") != "k1,k2,k4" || pages != 2 {
		t.Fatalf("keys %v over %d pages; want k1,k2,k4 over 2 (deleted and other accounts left out)", keys, pages)
	}
	if _, body := s.get("/v1/x"); len(body["items"].([]any)) != 4 {
		t.Fatalf("all accounts: %v", body)
	}
	for _, bad := range []string{"/v1/x?limit=0", "/v1/x?limit=1001", "/v1/x?cursor=!!!"} {
		if st, _ := s.get(bad); st != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, st)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	s := start(t, nil)
	body := recWithParent("acc", 3, `{"a":1}`, "main_registration", "m-1")

	// A non-2xx answer is not remembered: the same request succeeds once the parent is there.
	if st, b := s.put("sub_registration", "s-1", body, "evt-1"); st != http.StatusConflict || b["error"] != "parent_missing" {
		t.Fatalf("first try: %d %v", st, b)
	}
	s.put("main_registration", "m-1", rec("acc", 1, `{}`), "evt-0")
	st1, b1 := s.put("sub_registration", "s-1", body, "evt-1")
	if st1 != http.StatusCreated {
		t.Fatalf("second try: %d %v", st1, b1)
	}
	// A repeat gets the first 2xx answer again, not a 409 stale_version.
	resp := s.doResp(http.MethodPut, "/v1/sub_registration/s-1", "application/json", body, map[string]string{IdempotencyHeader: "evt-1"})
	b2 := decodeBody(t, resp)
	resp.Body.Close()
	if resp.StatusCode != st1 || b2["updated_at"] != b1["updated_at"] || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat: %d %v, want %d %v", resp.StatusCode, b2, st1, b1)
	}
	// The same key with another body is refused.
	if st, b := s.put("sub_registration", "s-1", recWithParent("acc", 4, `{"a":2}`, "main_registration", "m-1"), "evt-1"); st != http.StatusUnprocessableEntity || b["error"] != "idempotency_mismatch" {
		t.Fatalf("mismatch: %d %v", st, b)
	}
	// So is the same key on another record.
	if st, b := s.put("sub_registration", "s-2", body, "evt-1"); st != http.StatusUnprocessableEntity || b["error"] != "idempotency_mismatch" {
		t.Fatalf("mismatch on another key: %d %v", st, b)
	}
	if n := s.srv.Snapshot("").Stats.IdempotentReplays; n != 1 {
		t.Fatalf("replays = %d", n)
	}
	// Deletes are idempotent too.
	if st, _ := s.doDelete("sub_registration", "s-1", "9", "evt-d"); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if st, _ := s.doDelete("sub_registration", "s-1", "9", "evt-d"); st != http.StatusNoContent {
		t.Fatalf("repeated delete: %d, want the first answer again", st)
	}
}

func (s *sim) doDelete(entity, key, version, idemKey string) (int, []byte) {
	s.tb.Helper()
	return s.do(http.MethodDelete, "/v1/"+entity+"/"+url.PathEscape(key)+"?version="+version, "", "", map[string]string{IdempotencyHeader: idemKey})
}
