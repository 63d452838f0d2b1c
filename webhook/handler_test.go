package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/inbound"
	"github.com/streamsync/streamsync/profile"
)

// The spec's test vector, sent as it is, is taken: its change appended
// with the webhook-id as ref, answered 200 only then.
func TestSpecVectorApplied(t *testing.T) {
	e := start(t, nil)
	st, body := e.post(t, "erp", map[string]string{"webhook-id": vectorID, "webhook-timestamp": fmt.Sprint(vectorTimestamp),
		"webhook-signature": vectorSignature}, vectorBody)
	if st != http.StatusOK || body["applied"] != float64(1) {
		t.Fatalf("answer %d %v, want 200 applied 1", st, body)
	}
	calls := e.app.taken()
	if len(calls) != 1 || calls[0].partner != "erp" || calls[0].via != inbound.ViaWebhook || calls[0].ref != vectorID ||
		len(calls[0].changes) != 1 || calls[0].changes[0].Key != "2432232314" || calls[0].changes[0].Entity != "contact" {
		t.Fatalf("appended %+v", calls)
	}
	if e.outcome("erp", outcomeApplied) != 1 {
		t.Errorf("applied not counted")
	}
}

// While a secret is rotated, a signature under either secret is good, and
// so is a header holding several signatures of which one matches.
func TestRotatedSecrets(t *testing.T) {
	const newSecret = "whsec_bmV3LXNlY3JldC1rZXktMDEyMzQ1Njc4OQ=="
	e := start(t, func(c *Config) {
		p := c.Partners["erp"]
		p.Secrets = []string{vectorSecret, newSecret}
		c.Partners["erp"] = p
	})
	ts := e.now
	if st, b := e.post(t, "erp", signed(t, newSecret, "m-new", ts, `{"test": 1}`), `{"test": 1}`); st != 200 {
		t.Errorf("signed with the new secret: %d %v", st, b)
	}
	if st, b := e.post(t, "erp", signed(t, vectorSecret, "m-old", ts, `{"test": 2}`), `{"test": 2}`); st != 200 {
		t.Errorf("signed with the old secret: %d %v", st, b)
	}
	h := signed(t, newSecret, "m-both", ts, `{"test": 3}`)
	h["webhook-signature"] = "v1,bm90LXRoZS1zaWduYXR1cmU= " + h["webhook-signature"]
	if st, b := e.post(t, "erp", h, `{"test": 3}`); st != 200 {
		t.Errorf("several signatures, the second good: %d %v", st, b)
	}
	if st, _ := e.post(t, "erp", signed(t, "whsec_b3RoZXItc2VjcmV0LWtleS0wMTIzNDU2Nzg5", "m-other", ts, `{"test": 4}`), `{"test": 4}`); st != 401 {
		t.Errorf("signed with a secret not configured: %d, want 401", st)
	}
	if n := len(e.app.taken()); n != 3 {
		t.Errorf("%d webhooks appended, want 3", n)
	}
}

// A webhook without a good signature, or signed too long ago or too far
// ahead, is answered 401 {"error"}, counted by reason and recorded, and
// never appended.
func TestRefusedWebhooks(t *testing.T) {
	e := start(t, nil)
	good := func() map[string]string { return signed(t, vectorSecret, "m-1", e.now, `{"test": 1}`) }
	for _, tc := range []struct {
		name   string
		edit   func(h map[string]string) string // returns the body sent
		reason string
	}{
		{"no signature", func(h map[string]string) string { delete(h, "webhook-signature"); return `{"test": 1}` }, ReasonMissingSignature},
		{"no id", func(h map[string]string) string { delete(h, "webhook-id"); return `{"test": 1}` }, ReasonMissingSignature},
		{"no timestamp", func(h map[string]string) string { delete(h, "webhook-timestamp"); return `{"test": 1}` }, ReasonMissingSignature},
		{"not unix seconds", func(h map[string]string) string { h["webhook-timestamp"] = "yesterday"; return `{"test": 1}` }, ReasonBadTimestamp},
		{"bad signature", func(h map[string]string) string { h["webhook-signature"] = "v1,AAAA"; return `{"test": 1}` }, ReasonBadSignature},
		{"body changed", func(map[string]string) string { return `{"test": 2}` }, ReasonBadSignature},
		{"other id", func(h map[string]string) string { h["webhook-id"] = "m-2"; return `{"test": 1}` }, ReasonBadSignature},
		{"stale", func(h map[string]string) string {
			for k, v := range signed(t, vectorSecret, "m-1", e.now.Add(-5*time.Minute-time.Second), `{"test": 1}`) {
				h[k] = v
			}
			return `{"test": 1}`
		}, ReasonStaleTimestamp},
		{"future", func(h map[string]string) string {
			for k, v := range signed(t, vectorSecret, "m-1", e.now.Add(5*time.Minute+time.Second), `{"test": 1}`) {
				h[k] = v
			}
			return `{"test": 1}`
		}, ReasonStaleTimestamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := good()
			body := tc.edit(h)
			before, rows := e.refused("erp", tc.reason), len(e.rec.all())
			st, ans := e.post(t, "erp", h, body)
			if st != http.StatusUnauthorized || !strings.HasPrefix(fmt.Sprint(ans["error"]), tc.reason+": ") {
				t.Fatalf("answer %d %v, want 401 %s", st, ans, tc.reason)
			}
			if e.refused("erp", tc.reason) != before+1 {
				t.Errorf("refusal not counted as %s", tc.reason)
			}
			if all := e.rec.all(); len(all) != rows+1 || all[rows].partner != "erp" || all[rows].id != h["webhook-id"] || !strings.HasPrefix(all[rows].reason, tc.reason+": ") {
				t.Errorf("recorded %+v", all[rows:])
			}
		})
	}
	// Five minutes either way is still good.
	for _, d := range []time.Duration{-5 * time.Minute, 5 * time.Minute} {
		if st, b := e.post(t, "erp", signed(t, vectorSecret, fmt.Sprint("edge", d), e.now.Add(d), `{"test": 1}`), `{"test": 1}`); st != 200 {
			t.Errorf("signed %s from now: %d %v", d, st, b)
		}
	}
	if n := len(e.app.taken()); n != 2 {
		t.Errorf("%d appended, want only the 2 good ones", n)
	}
}

// A webhook-id applied once is answered 200 again and not appended again,
// also when the partner re-signs it later with a new timestamp.
func TestReplayAppliedOnce(t *testing.T) {
	e := start(t, nil)
	h := signed(t, vectorSecret, "m-1", e.now, `{"test": 1}`)
	if st, b := e.post(t, "erp", h, `{"test": 1}`); st != 200 || b["applied"] != float64(1) {
		t.Fatalf("first: %d %v", st, b)
	}
	if st, b := e.post(t, "erp", h, `{"test": 1}`); st != 200 || b["duplicate"] != true {
		t.Fatalf("replay: %d %v, want 200 duplicate", st, b)
	}
	e.now = e.now.Add(3 * time.Minute)
	if st, b := e.post(t, "erp", signed(t, vectorSecret, "m-1", e.now, `{"test": 1}`), `{"test": 1}`); st != 200 || b["duplicate"] != true {
		t.Fatalf("re-signed retry: %d %v, want 200 duplicate", st, b)
	}
	if n := len(e.app.taken()); n != 1 {
		t.Fatalf("appended %d times, want once", n)
	}
	if e.outcome("erp", outcomeDuplicate) != 2 {
		t.Errorf("duplicates counted %v, want 2", e.outcome("erp", outcomeDuplicate))
	}
	ttl := e.rdb.PTTL(context.Background(), e.seen+":m-1").Val()
	if ttl < 2*DefaultTolerance || ttl > DefaultSeenTTL {
		t.Errorf("the id is remembered %s, want at least twice the tolerance, at most %s", ttl, DefaultSeenTTL)
	}
}

// While a webhook-id is being applied, a copy of it is answered 503 (so
// the partner sends it again) and not appended; once the first is in, a
// copy is a duplicate.
func TestConcurrentCopyWaitsForTheFirst(t *testing.T) {
	e := start(t, nil)
	e.app.gate, e.app.entered = make(chan struct{}), make(chan struct{}, 1)
	h := signed(t, vectorSecret, "m-1", e.now, `{"test": 1}`)
	first := make(chan int)
	go func() {
		st, _ := e.post(t, "erp", h, `{"test": 1}`)
		first <- st
	}()
	<-e.app.entered
	e.app.mu.Lock()
	e.app.entered = nil
	e.app.mu.Unlock()
	for range 3 {
		if st, b := e.post(t, "erp", h, `{"test": 1}`); st != http.StatusServiceUnavailable {
			t.Errorf("a copy while the first is applied: %d %v, want 503", st, b)
		}
	}
	close(e.app.gate)
	if st := <-first; st != 200 {
		t.Fatalf("the first: %d", st)
	}
	if st, b := e.post(t, "erp", h, `{"test": 1}`); st != 200 || b["duplicate"] != true {
		t.Errorf("a copy after: %d %v", st, b)
	}
	if n := len(e.app.taken()); n != 1 {
		t.Errorf("appended %d times, want once", n)
	}
}

// Many copies at once: exactly one is appended, every other answered 503
// or 200 duplicate.
func TestConcurrentReplaysAppliedOnce(t *testing.T) {
	e := start(t, nil)
	h := signed(t, vectorSecret, "m-1", e.now, `{"test": 1}`)
	var wg sync.WaitGroup
	statuses := make(chan int, 20)
	for range 20 {
		wg.Go(func() {
			st, _ := e.post(t, "erp", h, `{"test": 1}`)
			statuses <- st
		})
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 200 && st != 503 {
			t.Errorf("status %d", st)
		}
	}
	if n := len(e.app.taken()); n != 1 {
		t.Fatalf("appended %d times, want once", n)
	}
}

// An append that fails is answered 503 and leaves the id unmarked, so the
// partner's retry applies the webhook.
func TestAppendFailureNotSeen(t *testing.T) {
	e := start(t, nil)
	e.app.fail = errDown
	h := signed(t, vectorSecret, "m-1", e.now, `{"test": 1}`)
	if st, b := e.post(t, "erp", h, `{"test": 1}`); st != http.StatusServiceUnavailable {
		t.Fatalf("append failed: %d %v, want 503", st, b)
	}
	if n := e.rdb.Exists(context.Background(), e.seen+":m-1").Val(); n != 0 {
		t.Fatalf("the id is kept after a failed append")
	}
	e.app.mu.Lock()
	e.app.fail = nil
	e.app.mu.Unlock()
	if st, b := e.post(t, "erp", h, `{"test": 1}`); st != 200 || b["applied"] != float64(1) {
		t.Fatalf("the retry: %d %v, want 200 applied", st, b)
	}
	if n := len(e.app.taken()); n != 1 || e.outcome("erp", outcomeAppendFailed) != 1 {
		t.Errorf("appended %d, failures counted %v", n, e.outcome("erp", outcomeAppendFailed))
	}
}

// A verified body that the profile cannot map is answered 400 with the
// reason, recorded, and not marked seen (a mended profile applies the
// partner's retry).
func TestUnmappedBody(t *testing.T) {
	e := start(t, nil)
	for _, body := range []string{`{"bad": 1}`, `not json`} {
		st, b := e.post(t, "erp", signed(t, vectorSecret, "m-"+body[:3], e.now, body), body)
		if st != http.StatusBadRequest || !strings.HasPrefix(fmt.Sprint(b["error"]), ReasonUnmapped+": ") {
			t.Errorf("%s: %d %v, want 400 unmapped", body, st, b)
		}
	}
	if e.refused("erp", ReasonUnmapped) != 2 || len(e.rec.all()) != 2 || e.rec.all()[0].id != "m-{\"b" {
		t.Errorf("refusals counted %v, recorded %+v", e.refused("erp", ReasonUnmapped), e.rec.all())
	}
	if n := e.rdb.Exists(context.Background(), e.seen+":m-{\"b").Val(); n != 0 || len(e.app.taken()) != 0 {
		t.Errorf("an unmapped webhook was kept or appended")
	}
}

// A body over the limit is answered 413 and a body that comes too slowly
// 408, neither appended.
func TestBodyBounded(t *testing.T) {
	e := start(t, func(c *Config) { c.MaxBodyBytes = 1024; c.ReadTimeout = 300 * time.Millisecond })
	big := `{"test": 1, "pad": "` + strings.Repeat("x", 2048) + `"}`
	if st, b := e.post(t, "erp", signed(t, vectorSecret, "m-big", e.now, big), big); st != http.StatusRequestEntityTooLarge {
		t.Errorf("2 KiB body: %d %v, want 413", st, b)
	}
	h := signed(t, vectorSecret, "m-slow", e.now, `{"test": 1, "pad": "xxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	var lines []string
	for k, v := range h {
		lines = append(lines, k+": "+v)
	}
	st, took := testenvTrickle(t, e, `{"test": 1, "pad": "xxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`, lines)
	if st != http.StatusRequestTimeout || took > 5*time.Second {
		t.Errorf("a body at 50 B/s: %d after %s, want 408 within the read timeout", st, took)
	}
	if e.refused("erp", ReasonBodyTooLarge) != 1 || e.refused("erp", ReasonBodyTooSlow) != 1 || len(e.app.taken()) != 0 {
		t.Errorf("too large %v, too slow %v, appended %d", e.refused("erp", ReasonBodyTooLarge), e.refused("erp", ReasonBodyTooSlow), len(e.app.taken()))
	}
}

// A partner not configured is answered 404, without its name as a label.
func TestUnknownPartner(t *testing.T) {
	e := start(t, nil)
	if st, b := e.post(t, "nobody", signed(t, vectorSecret, "m-1", e.now, `{"test": 1}`), `{"test": 1}`); st != http.StatusNotFound {
		t.Fatalf("%d %v, want 404", st, b)
	}
	if e.refused(unknownPartner, ReasonUnknownPartner) != 1 || len(e.app.taken()) != 0 {
		t.Errorf("not counted, or appended")
	}
}

// The built-in profile takes the built-in API's record.changed webhook.
func TestBuiltInProfilePayload(t *testing.T) {
	bi, err := profile.BuiltIn(profile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, func(c *Config) {
		p := c.Partners["erp"]
		p.Profile = bi
		c.Partners["erp"] = p
	})
	body := `{"type":"record.changed","timestamp":"2021-02-25T15:02:10Z","data":{"entity":"contact","key":"k1","account":"a1","version":17,"data":{"name":"Li Lei"},"deleted":false}}`
	if st, b := e.post(t, "erp", signed(t, vectorSecret, "evt-17", e.now, body), body); st != 200 || b["applied"] != float64(1) {
		t.Fatalf("%d %v", st, b)
	}
	c := e.app.taken()[0].changes[0]
	if c.Entity != "contact" || c.Key != "k1" || c.Account != "a1" || c.Version != 17 || string(c.Data) != `{"name":"Li Lei"}` || c.Deleted {
		t.Errorf("change %+v", c)
	}
}
