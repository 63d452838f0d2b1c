package partnersim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// The Standard Webhooks spec's own test vector.
func TestWebhookSignVector(t *testing.T) {
	key, err := webhookKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := WebhookSign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if got != "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature %s", got)
	}
}

func TestEchoOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    EchoOptions
		ok   bool
	}{
		{"off", EchoOptions{}, true},
		{"webhook", EchoOptions{URL: "http://x/h", Secret: testEchoSecret}, true},
		{"events without token", EchoOptions{URL: "http://x/v1/events", Format: EchoEvents}, true},
		{"webhook without secret", EchoOptions{URL: "http://x/h"}, false},
		{"secret without whsec_", EchoOptions{URL: "http://x/h", Secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, false},
		{"secret not base64", EchoOptions{URL: "http://x/h", Secret: "whsec_!!!"}, false},
		{"unknown format", EchoOptions{URL: "http://x/h", Format: "kafka"}, false},
		{"not a URL", EchoOptions{URL: "x/h", Format: EchoEvents}, false},
		{"negative delay", EchoOptions{URL: "http://x/h", Format: EchoEvents, Delay: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "MfKQ9r8") {
				t.Fatalf("the secret is in the error: %v", err)
			}
		})
	}
}

// Every applied write of the built-in API comes back as a signed webhook
// of this exact shape, with the next version (stored) and no origin;
// refused and replayed writes make none.
func TestEchoWebhookV1(t *testing.T) {
	rc := startReceiver(t, nil, nil)
	s := start(t, echoOpts(rc, EchoWebhook))
	t.Cleanup(s.srv.Close)

	if st, b := s.put("contact", "k1", rec("a1", 5, `{"name":"Li"}`), "e1"); st != http.StatusCreated || b["version"] != float64(5) {
		t.Fatalf("PUT: %d %v (the answer shows the write)", st, b)
	}
	reqs := rc.waitN(t, 1)
	webhooks(t, reqs)
	want := `{"type":"record.changed","timestamp":"2026-01-02T03:04:05Z","data":{"entity":"contact","key":"k1","account":"a1","version":6,"data":{"name":"Li"},"deleted":false}}`
	if string(reqs[0].body) != want {
		t.Fatalf("echo\n %s\nwant\n %s", reqs[0].body, want)
	}
	if _, b := s.get("/v1/contact/k1"); b["version"] != float64(6) {
		t.Fatalf("stored version %v, want 6: the echo's version is the record's", b["version"])
	}

	s.put("contact", "k1", rec("a1", 6, `{"name":"x"}`), "")    // stale: no echo
	s.put("contact", "k1", rec("a1", 5, `{"name":"Li"}`), "e1") // replayed: no echo
	if st, _ := s.del("contact", "k1", "10"); st != http.StatusNoContent {
		t.Fatal(st)
	}
	st, _ := s.do(http.MethodPost, "/v1/contact/_bulk", "application/json",
		`{"items":[{"key":"k2","account":"a1","version":1,"data":{"n":2}},{"key":"k3","account":"a2","version":1,"data":{"n":3}}]}`, nil)
	if st != http.StatusOK {
		t.Fatal(st)
	}
	got := webhooks(t, rc.waitN(t, 4))
	if len(got) != 4 {
		t.Fatalf("%d echoes, want 4 (refused and replayed writes make none)", len(got))
	}
	del := got[1]["data"].(map[string]any)
	if del["deleted"] != true || del["version"] != float64(11) || del["data"] != nil {
		t.Fatalf("delete echo %v", del)
	}
	ids := map[string]bool{}
	for i, r := range rc.got() {
		ids[r.header.Get("webhook-id")] = true
		if strings.Contains(string(r.body), "origin") {
			t.Fatalf("echo %d carries an origin: %s", i, r.body)
		}
	}
	if len(ids) != 4 {
		t.Fatalf("webhook ids %v are not unique", ids)
	}
	testenv.WaitFor(t, 5*time.Second, "echo counts", func() bool {
		e := echoStats(s.srv)
		return e.Made == 4 && e.Sent == 4 && e.Pending == 0 && e.Failed == 0
	})
}

// A crm write's echo carries the record exactly as its GET answers it,
// updated_at moved on by a second (stored); a delete says deleted with the
// archived record.
func TestEchoWebhookCRM(t *testing.T) {
	rc := startReceiver(t, nil, nil)
	c := startCRM(t, echoOpts(rc, EchoWebhook))
	t.Cleanup(c.srv.Close)

	id := c.create("contact", "r-1", `{"name":"Li"}`, "")
	got := webhooks(t, rc.waitN(t, 1))
	data := got[0]["data"].(map[string]any)
	read := c.call(http.MethodGet, "/crm/v2/contact/"+id, "", nil).data()
	if data["object"] != "contact" || data["deleted"] != false || asJSON(t, data["record"]) != asJSON(t, read) {
		t.Fatalf("echo %v\nGET %v", data, read)
	}
	if read["updated_at"] != "2026-01-02T11:04:06+08:00" {
		t.Fatalf("updated_at %v: want the write's time plus a second", read["updated_at"])
	}

	c.call(http.MethodPatch, "/crm/v2/contact/"+id, `{"fields":{"seat":"A3"}}`, nil)
	c.call(http.MethodPost, "/crm/v2/contact/batch_upsert", `{"items":[{"external_id":"r-2","owner":"a","fields":{}}]}`, nil)
	c.call(http.MethodDelete, "/crm/v2/contact/"+id, "", nil)
	c.call(http.MethodDelete, "/crm/v2/contact/"+id, "", nil) // archived already: nothing changes, no echo
	got = webhooks(t, rc.waitN(t, 4))
	if len(got) != 4 {
		t.Fatalf("%d echoes, want 4", len(got))
	}
	patched := got[1]["data"].(map[string]any)["record"].(map[string]any)
	if patched["updated_at"] != "2026-01-02T11:04:07+08:00" || asJSON(t, patched["fields"]) != `{"name":"Li","seat":"A3"}` {
		t.Fatalf("patch echo %v", patched)
	}
	del := got[3]["data"].(map[string]any)
	rec := del["record"].(map[string]any)
	if del["deleted"] != true || rec["id"] != id || rec["external_id"] != "r-1" || rec["archived"] != true {
		t.Fatalf("delete echo %v", del)
	}
}

// The events format plays our own system: the ingest's shape, a bearer
// token, new ids and versions, parents, no origin.
func TestEchoEvents(t *testing.T) {
	rc := startReceiver(t, nil, nil)
	s := start(t, echoOpts(rc, EchoEvents))
	t.Cleanup(s.srv.Close)
	s.put("main", "m1", rec("a1", 3, `{"t":1}`), "")
	s.put("sub", "s1", recWithParent("a1", 7, `{"t":2}`, "main", "m1"), "")
	s.del("sub", "s1", "9")

	var events []map[string]any
	testenv.WaitFor(t, 10*time.Second, "3 events", func() bool {
		events = nil
		for _, r := range rc.got() {
			if r.header.Get("Authorization") != "Bearer tok-1" {
				t.Fatalf("authorization %q", r.header.Get("Authorization"))
			}
			var batch []map[string]any
			if err := json.Unmarshal(r.body, &batch); err != nil {
				t.Fatalf("body %s is not a JSON array: %v", r.body, err)
			}
			events = append(events, batch...)
		}
		return len(events) >= 3
	})
	want := []struct {
		key, op                 string
		version                 float64
		parentEntity, parentKey any
	}{{"m1", "upsert", 4, nil, nil}, {"s1", "upsert", 8, "main", "m1"}, {"s1", "delete", 10, "main", "m1"}}
	ids := map[any]bool{}
	for i, w := range want {
		ev := events[i]
		ids[ev["id"]] = true
		if ev["key"] != w.key || ev["op"] != w.op || ev["version"] != w.version || ev["account"] != "a1" ||
			ev["parent_entity"] != w.parentEntity || ev["parent_key"] != w.parentKey || ev["origin"] != nil || ev["ts"] == nil {
			t.Fatalf("event %d %v, want %+v", i, ev, w)
		}
		if _, ok := ev["data"]; ok != (w.op == "upsert") {
			t.Fatalf("event %d data %v", i, ev["data"])
		}
	}
	if len(ids) != 3 || !strings.HasPrefix(events[0]["id"].(string), "echo-") {
		t.Fatalf("event ids %v", ids)
	}
}

// A receiver that hangs never delays a write's answer: writes are
// answered while the echo waits, a full queue drops echoes (counted), and
// the queued ones are sent once the receiver answers.
func TestEchoNeverDelaysWrites(t *testing.T) {
	release := make(chan struct{})
	rc := startReceiver(t, nil, release)
	s := start(t, both(echoOpts(rc, EchoWebhook), func(o *Options) { o.Echo.Queue, o.Echo.Senders = 2, 1 }))
	t.Cleanup(s.srv.Close)
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	for i := range 10 {
		if st, b := s.put("contact", "k", rec("a", int64(10*(i+1)), `{}`), ""); st/100 != 2 {
			t.Fatalf("PUT %d: %d %v", i, st, b)
		}
	}
	e := echoStats(s.srv)
	if e.Made != 10 || e.Dropped == 0 || e.Dropped+e.Pending != 10 || e.Sent != 0 {
		t.Fatalf("while the receiver hangs: %+v", e)
	}
	close(release)
	released = true
	testenv.WaitFor(t, 10*time.Second, "the queued echoes sent", func() bool {
		e := echoStats(s.srv)
		return e.Pending == 0 && e.Sent+e.Dropped == 10
	})
}

func TestEchoRetries(t *testing.T) {
	tests := []struct {
		name                  string
		status                func(n int) int
		sent, failed, retries int64
		requests              int
	}{
		{"recovers", func(n int) int { return map[bool]int{true: 503, false: 200}[n <= 2] }, 1, 0, 2, 3},
		{"429 is retried", func(n int) int { return map[bool]int{true: 429, false: 204}[n == 1] }, 1, 0, 1, 2},
		{"gives up after the last attempt", func(int) int { return 500 }, 0, 1, 2, 3},
		{"a 400 is not retried", func(int) int { return 400 }, 0, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := startReceiver(t, tt.status, nil)
			s := start(t, both(echoOpts(rc, EchoWebhook), func(o *Options) { o.Echo.Attempts = 3 }))
			t.Cleanup(s.srv.Close)
			if st, _ := s.put("contact", "k", rec("a", 1, `{}`), ""); st != http.StatusCreated {
				t.Fatal(st)
			}
			testenv.WaitFor(t, 10*time.Second, "the echo settled", func() bool { return echoStats(s.srv).Pending == 0 })
			e := echoStats(s.srv)
			if e.Sent != tt.sent || e.Failed != tt.failed || e.Retries != tt.retries || len(rc.got()) != tt.requests {
				t.Fatalf("%+v after %d requests", e, len(rc.got()))
			}
			reqs := rc.got()
			if reqs[0].header.Get("webhook-id") != reqs[len(reqs)-1].header.Get("webhook-id") {
				t.Fatal("a retry must keep its webhook-id")
			}
		})
	}
}

// Echoes of one record keep their order, and a delay holds them.
func TestEchoDelayAndOrder(t *testing.T) {
	rc := startReceiver(t, nil, nil)
	s := start(t, both(echoOpts(rc, EchoWebhook), func(o *Options) { o.Echo.Delay = 20 * time.Millisecond }))
	t.Cleanup(s.srv.Close)
	for i := range 20 {
		s.put("contact", "k", rec("a", int64(10*(i+1)), `{}`), "")
	}
	got := webhooks(t, rc.waitN(t, 20))
	for i, w := range got {
		if v := w["data"].(map[string]any)["version"]; v != float64(10*(i+1)+1) {
			t.Fatalf("echo %d has version %v: out of order", i, v)
		}
	}
}

func TestEchoSecretNotBase64Refused(t *testing.T) {
	_, err := New(Options{Echo: EchoOptions{URL: "http://127.0.0.1:1/h", Secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("k"))[:2] + "!"}})
	if err == nil {
		t.Fatal("a bad secret was taken")
	}
}
