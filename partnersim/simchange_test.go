package partnersim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// A change made on the simulator's side gets a new version — one, not
// two: the change is its own echo — and is emitted like a write.
func TestSimChangeV1(t *testing.T) {
	rc := startReceiver(t, nil, nil)
	s := start(t, echoOpts(rc, EchoWebhook))
	t.Cleanup(s.srv.Close)
	s.put("contact", "k1", rec("a1", 5, `{"name":"Li"}`), "") // stored, after its echo: version 6

	steps := []struct {
		name, body string
		status     int
		version    float64
		deleted    bool
	}{
		{"edit", `{"entity":"contact","key":"k1","data":{"name":"Lei"}}`, http.StatusOK, 7, false},
		{"new record", `{"entity":"contact","key":"k2","account":"a2","data":{"n":1}}`, http.StatusOK, 1, false},
		{"delete", `{"entity":"contact","key":"k2","delete":true}`, http.StatusOK, 2, true},
		{"delete again", `{"entity":"contact","key":"k2","delete":true}`, http.StatusNotFound, 0, false},
		{"new record without account", `{"entity":"contact","key":"k3","data":{}}`, http.StatusBadRequest, 0, false},
		{"stale version", `{"entity":"contact","key":"k1","version":3,"data":{}}`, http.StatusConflict, 0, false},
		{"missing parent", `{"entity":"contact","key":"k1","data":{},"parent":{"entity":"org","key":"o"}}`, http.StatusConflict, 0, false},
		{"data not an object", `{"entity":"contact","key":"k1","data":[1]}`, http.StatusBadRequest, 0, false},
		{"unknown field", `{"entity":"contact","key":"k1","data":{},"origin":"x"}`, http.StatusBadRequest, 0, false},
	}
	emitted := 1
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			st, b := s.do(http.MethodPost, "/_sim/change", "application/json", tt.body, nil)
			if st != tt.status {
				t.Fatalf("%d %s", st, b)
			}
			if st != http.StatusOK {
				return
			}
			emitted++
			echo := webhooks(t, rc.waitN(t, emitted))[emitted-1]["data"].(map[string]any)
			if echo["version"] != tt.version || echo["deleted"] != tt.deleted {
				t.Fatalf("echo %v, want version %v deleted %v", echo, tt.version, tt.deleted)
			}
		})
	}
	if _, b := s.get("/v1/contact/k1"); b["version"] != float64(7) || b["data"].(map[string]any)["name"] != "Lei" {
		t.Fatalf("GET after the change: %v", b)
	}
	if n := len(rc.got()); n != emitted {
		t.Fatalf("%d echoes, want %d", n, emitted)
	}
}

func TestSimChangeCRM(t *testing.T) {
	rc := startReceiver(t, nil, nil)
	c := startCRM(t, echoOpts(rc, EchoWebhook))
	t.Cleanup(c.srv.Close)
	post := func(body string) (int, map[string]any) {
		req := c.request(http.MethodPost, "/_sim/change", body, nil)
		r := c.send(req)
		return r.status, r.body
	}
	st, b := post(`{"api":"crm","entity":"org","key":"o-1","account":"acc","data":{"name":"ACME"}}`)
	if st != http.StatusOK || b["external_id"] != "o-1" || b["updated_at"] != "2026-01-02T11:04:05+08:00" {
		t.Fatalf("create: %d %v", st, b)
	}
	st, b = post(`{"api":"crm","entity":"contact","key":"r-1","account":"acc","data":{"a":1},"parent":{"entity":"org","key":"o-1"}}`)
	if st != http.StatusOK || b["parent_id"] != "c_000001" {
		t.Fatalf("create with parent: %d %v", st, b)
	}
	st, b = post(`{"api":"crm","entity":"org","key":"o-1","data":{"name":"ACME Ltd"}}`)
	if st != http.StatusOK || b["updated_at"] != "2026-01-02T11:04:06+08:00" || b["owner"] != "acc" {
		t.Fatalf("edit (a new updated_at in the same second): %d %v", st, b)
	}
	if st, b = post(`{"api":"crm","entity":"org","key":"o-1","delete":true}`); st != http.StatusOK || b["archived"] != true {
		t.Fatalf("delete: %d %v", st, b)
	}
	if st, _ = post(`{"api":"crm","entity":"org","key":"o-1","version":2,"data":{}}`); st != http.StatusBadRequest {
		t.Fatalf("a crm version: %d", st)
	}
	got := webhooks(t, rc.waitN(t, 4))
	rec := got[1]["data"].(map[string]any)["record"].(map[string]any)
	if rec["external_id"] != "r-1" || rec["parent_id"] != "c_000001" || got[3]["data"].(map[string]any)["deleted"] != true {
		t.Fatalf("echoes %v", got)
	}
}

// /_sim/changes makes 1,000 changes, each one echo; the same seed makes
// the same data.
func TestSimChangesBulk(t *testing.T) {
	rc := startReceiver(t, nil, nil)
	s := start(t, both(echoOpts(rc, EchoEvents), func(o *Options) { o.Echo.Senders = 4 }))
	t.Cleanup(s.srv.Close)
	if _, err := s.srv.Seed(SeedSpec{Entity: "contact", Count: 500, Prefix: "r-"}); err != nil {
		t.Fatal(err)
	}
	st, b := s.do(http.MethodPost, "/_sim/changes", "application/json", `{"entity":"contact","count":1000,"prefix":"r-","seed":7}`, nil)
	if st != http.StatusOK || string(b) != "{\"changed\":1000}\n" {
		t.Fatalf("%d %s", st, b)
	}
	testenv.WaitFor(t, 20*time.Second, "1000 echoes", func() bool { return echoStats(s.srv).Sent == 1000 })
	keys := map[string]float64{}
	for _, r := range rc.got() {
		var batch []map[string]any
		if err := json.Unmarshal(r.body, &batch); err != nil {
			t.Fatal(err)
		}
		for _, ev := range batch {
			keys[ev["key"].(string)] = ev["version"].(float64)
		}
	}
	if len(keys) != 1000 || keys[SeedKey("r-", 0)] != 2 || keys[SeedKey("r-", 999)] != 1 {
		t.Fatalf("%d keys; r-0 at %v (seeded at 1), r-999 at %v (new)", len(keys), keys[SeedKey("r-", 0)], keys[SeedKey("r-", 999)])
	}
	first := s.srv.Snapshot("").Records[0].Data
	other := start(t, nil)
	if _, err := other.srv.Changes(ChangesSpec{Entity: "contact", Count: 1, Prefix: "r-", Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if again := other.srv.Snapshot("").Records[0].Data; string(again) != string(first) {
		t.Fatalf("seed 7 made %s, then %s", first, again)
	}
}
