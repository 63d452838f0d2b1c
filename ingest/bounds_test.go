package ingest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/httpserve"
	"github.com/streamsync/streamsync/internal/testenv"
)

// startBounded starts an ingest with prepared events, at most maxEvents
// events a request and the given HTTP limits.
func startBounded(t *testing.T, maxEvents int, limits httpserve.Limits) (string, func() int64) {
	t.Helper()
	keys := preparedKeys(t)
	s, err := New(Config{Addr: "127.0.0.1:0", Stream: keys.Events, Keys: keys, MaxEvents: maxEvents, HTTP: limits,
		Limits: event.Limits{MaxBytes: 4096}, PartnerNames: []string{"partner", "Other-Partner"}, CheckEvery: time.Hour}, testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	rdb := testenv.Redis(t)
	appended := func() int64 {
		n, _ := rdb.XLen(context.Background(), keys.Events).Result()
		p, _ := rdb.HLen(context.Background(), keys.Prepared).Result()
		return n + p
	}
	return "http://" + s.Addr() + "/v1/events", appended
}

func events(n int, ev func(i int) string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = ev(i)
	}
	return "[" + strings.Join(items, ",") + "]"
}

func reasonOf(ans map[string]any) string {
	errs, _ := ans["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	r, _ := errs[0].(map[string]any)["reason"].(string)
	return r
}

// More than ingest.max_events events (or ids) in one request: 413 and
// nothing appended or prepared, decided while the body is read — a body of
// a million empty objects is refused, not answered with a million reasons.
func TestMaxEventsPerRequest(t *testing.T) {
	url, appended := startBounded(t, 5, httpserve.Limits{})
	ok := func(i int) string { return pev(fmt.Sprint("m", i)) }
	tests := []struct {
		name, path, body string
		status           int
	}{
		{"max_events events", "", events(5, ok), 202},
		{"one more", "", events(6, ok), 413},
		{"one more, prepared", "?prepare=1", events(6, ok), 413},
		{"one more, invalid ones", "", events(6, func(int) string { return "{}" }), 413},
		{"a million empty objects", "", "[" + strings.Repeat("{},", 1_000_000) + "{}]", 413},
		{"one more id to confirm", "/confirm", `{"ids":["a","b","c","d","e","f"]}`, 413},
		{"one more id to cancel", "/cancel", `{"ids":["a","b","c","d","e","f"]}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := appended()
			st, ans, _ := postAs(t, url+tt.path, "", tt.body)
			if st != tt.status {
				t.Fatalf("%d (%q, rejected %v), want %d", st, reasonOf(ans), ans["rejected"], tt.status)
			}
			if st == 413 && (!strings.Contains(reasonOf(ans), "ingest.max_events") || appended() != before) {
				t.Fatalf("%v; %d appended", ans, appended()-before)
			}
		})
	}
}

// A rejected batch names at most 100 events and counts them all.
func TestRejectedReasonsAreCapped(t *testing.T) {
	url, appended := startBounded(t, 1000, httpserve.Limits{})
	body := events(400, func(i int) string {
		if i%2 == 0 {
			return pev(fmt.Sprint("good-", i))
		}
		return fmt.Sprintf(`{"id":"bad-%d","op":"merge"}`, i)
	})
	st, ans, _ := postAs(t, url, "", body)
	errs, _ := ans["errors"].([]any)
	if st != 400 || len(errs) != 100 || ans["rejected"] != float64(200) {
		t.Fatalf("%d: %d reasons, rejected %v; want 400 with 100 reasons and rejected 200", st, len(errs), ans["rejected"])
	}
	if first, last := errs[0].(map[string]any), errs[99].(map[string]any); first["index"] != float64(1) || first["id"] != "bad-1" || last["index"] != float64(199) {
		t.Fatalf("reasons from %v to %v, want the first 100 rejected in order", first, last)
	}
	if n := appended(); n != 0 {
		t.Fatalf("a rejected batch appended %d", n)
	}
}

// Origins streamsync or a partner writes, and fields only streamsync
// writes, are refused by the ingest in any case, with a reason naming the
// field.
func TestReservedOriginsAndFields(t *testing.T) {
	url, appended := startBounded(t, 100, httpserve.Limits{})
	with := func(extra string) string {
		return `{"id":"r1","account":"a","entity":"order","key":"k","op":"upsert","version":3,"data":{"x":1}` + extra + `}`
	}
	tests := []struct {
		name, body, reason string
	}{
		{"origin reconcile", with(`,"origin":"reconcile"`), `origin: "reconcile" is reserved`},
		{"origin backfill", with(`,"origin":"backfill"`), `origin: "backfill" is reserved`},
		{"origin in another case", with(`,"origin":" Reconcile"`), `origin: " Reconcile" is reserved`},
		{"the partner's name", with(`,"origin":"partner"`), `origin: "partner" is a partner's name`},
		{"another partner's name", with(`,"origin":"other-partner"`), `origin: "other-partner" is a partner's name`},
		{"a proof", with(`,"ss_proof":"deadbeef"`), "ss_proof: fields starting with ss_"},
		{"a producer", with(`,"ss_producer":"billing"`), "ss_producer: fields starting with ss_"},
		{"a replay mark", with(`,"_ss_replay":"1"`), "_ss_replay: fields starting with"},
		{"a dead-letter field", with(`,"dead_reason":"invalid"`), "dead_reason: fields starting with"},
		{"an escaped name", with(`,"\u0073s_proof":"x"`), "ss_proof: fields starting with"},
		{"a producer in capitals", with(`,"SS_producer":"billing"`), "SS_producer: fields starting with ss_, _ss_ or dead_ (in any case)"},
		{"a proof in capitals", with(`,"_SS_proof":"x"`), "_SS_proof: fields starting with"},
		{"a dead-letter field in capitals", with(`,"DEAD_reason":"invalid"`), "DEAD_reason: fields starting with"},
		{"mixed case, escaped", with(`,"\u0053s_Producer":"x"`), "Ss_Producer: fields starting with"},
		{"with other problems", `{"id":"r2","origin":"backfill"}`, `origin: "backfill" is reserved`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"", "?prepare=1"} {
				st, ans, _ := postAs(t, url+path, "", tt.body)
				if st != 400 || !strings.Contains(reasonOf(ans), tt.reason) {
					t.Fatalf("POST %s: %d %v, want 400 naming %q", path, st, ans, tt.reason)
				}
			}
		})
	}
	if n := appended(); n != 0 {
		t.Fatalf("refused events appended: %d", n)
	}
	for _, ok := range []string{with(`,"origin":"crm"`), with(`,"origin":"partners"`), strings.Replace(with(""), `{"x":1}`, `{"ss_note":1,"dead_line":"x"}`, 1)} {
		if st, ans, _ := postAs(t, url, "", ok); st != 202 {
			t.Fatalf("%s: %d %v, want 202", ok, st, ans)
		}
	}
}

// An item larger than an entry of event.max_bytes may be in JSON
// (event.Limits.MaxJSONBytes) is refused with a reason naming it before it
// is parsed, whatever it holds — here one event whose extra fields, which
// the ingest drops, make it larger; nothing is appended or prepared. An
// item within the bound is taken, its extra fields dropped.
func TestOversizedItemRefused(t *testing.T) {
	url, appended := startBounded(t, 100, httpserve.Limits{}) // event.max_bytes 4096
	max := event.Limits{MaxBytes: 4096}.MaxJSONBytes()
	wide := func(id string, size int) string {
		b := []byte(`{"id":"` + id + `","account":"a","entity":"order","key":"k-` + id + `","op":"upsert","version":1,"data":{}`)
		for i := 0; len(b) < size-1; i++ {
			b = fmt.Appendf(b, `,"f%d":0`, i)
		}
		return string(append(b, '}'))
	}
	small, big := wide("small", max-16), wide("big", max+1)
	for _, path := range []string{"", "?prepare=1"} {
		st, ans, _ := postAs(t, url+path, "", "["+small+","+big+"]")
		errs, _ := ans["errors"].([]any)
		if st != 400 || len(errs) != 1 || errs[0].(map[string]any)["index"] != float64(1) || errs[0].(map[string]any)["id"] != "big" ||
			!strings.Contains(reasonOf(ans), fmt.Sprintf("%d bytes of JSON, more than an entry of event.max_bytes (4096) may take with JSON's syntax (%d)", len(big), max)) {
			t.Fatalf("POST %s: %d %v; want 400 naming item 1, its id and its size", path, st, ans)
		}
	}
	if n := appended(); n != 0 {
		t.Fatalf("a batch with an oversized item appended %d", n)
	}
	if st, ans, _ := postAs(t, url, "", small); st != 202 {
		t.Fatalf("an item of %d bytes (bound %d): %d %v, want 202", len(small), max, st, ans)
	}
}

// A body that comes more slowly than the minimum rate is answered 408 once
// the grace has passed, and nothing is appended or released — on every path
// that reads a body (events, prepare, confirm, cancel).
func TestSlowBodyRefused(t *testing.T) {
	url, appended := startBounded(t, 100, httpserve.Limits{BodyGrace: 200 * time.Millisecond, MinBodyRate: 1000})
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/v1/events")
	for _, tt := range []struct{ path, body string }{
		{"/v1/events", pev("slow")},
		{"/v1/events?prepare=1", pev("slow")},
		{"/v1/events/confirm", `{"ids":["slow-1","slow-2","slow-3"]}`},
		{"/v1/events/cancel", `{"ids":["slow-1","slow-2","slow-3"]}`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			status, took := testenv.Trickle(t, addr, "POST", tt.path, tt.body, "Content-Type: application/json")
			if status != http.StatusRequestTimeout || took > 3*time.Second {
				t.Fatalf("%d after %s, want 408 within 3s", status, took)
			}
		})
	}
	if n := appended(); n != 0 {
		t.Fatalf("a slow body appended %d", n)
	}
}

// An answer does not echo what a request makes long: the id of a rejected
// event is clipped to an id's most bytes, and a confirm or cancel naming an
// id longer than that is refused instead of answered with it in unknown.
func TestAnswersDoNotEchoLongIDs(t *testing.T) {
	url, _ := startBounded(t, 100, httpserve.Limits{})
	long := strings.Repeat("i", 50_000)
	st, ans, _ := postAs(t, url, "", events(100, func(i int) string { return fmt.Sprintf(`{"id":"%s-%d"}`, long, i) }))
	errs, _ := ans["errors"].([]any)
	if st != 400 || len(errs) != 100 {
		t.Fatalf("%d, %d reasons", st, len(errs))
	}
	for _, e := range errs {
		if id := e.(map[string]any)["id"].(string); len(id) > event.MaxIDBytes+len("…") || !strings.HasPrefix(id, "iii") {
			t.Fatalf("a rejected event's id of %d bytes in the answer", len(id))
		}
	}
	for _, path := range []string{"/confirm", "/cancel"} {
		st, ans, _ := postAs(t, url+path, "", `{"ids":["ok","`+long+`"]}`)
		if st != 400 || !strings.Contains(reasonOf(ans), "ids[1] is 50000 bytes") {
			t.Fatalf("%s with a 50,000-byte id: %d %q", path, st, reasonOf(ans))
		}
	}
}
