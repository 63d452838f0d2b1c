package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/partnersim"
)

// twoWaySetup is a running streamsync between our system and partner
// erp, each a partnersim that echoes every write it gets as a change of
// its own (a new version, no origin): ours to the ingest as events, the
// partner as a signed webhook.
type twoWaySetup struct {
	rdb        *redis.Client
	keys       layout.Keys // the events stream's shard
	erp        layout.Keys // erp's key set
	ours, them *partnersim.Server
	p          *process
	env        []string
}

const twoWaySecret = "whsec_" + "c3RyZWFtc3luYy10d28td2F5LXRlc3Qta2V5LTMy" // base64 of a 32-byte key

func newTwoWay(t *testing.T, conflict string) *twoWaySetup {
	t.Helper()
	rdb, keys, env := streams(t, "twoway")
	ingestAddr := freeAddr(t)
	ours, err := partnersim.New(partnersim.Options{API: partnersim.APIV1,
		Echo: partnersim.EchoOptions{URL: "http://" + ingestAddr + "/v1/events", Format: partnersim.EchoEvents, Token: "ours-token"}})
	if err != nil {
		t.Fatal(err)
	}
	them, err := partnersim.New(partnersim.Options{API: partnersim.APIV1,
		Echo: partnersim.EchoOptions{URL: "http://" + ingestAddr + "/v1/partners/erp/webhooks", Format: partnersim.EchoWebhook, Secret: twoWaySecret}})
	if err != nil {
		t.Fatal(err)
	}
	hsOurs, hsThem := httptest.NewServer(ours), httptest.NewServer(them)
	t.Cleanup(func() { hsOurs.Close(); hsThem.Close(); ours.Close(); them.Close() })
	env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_INGEST__ADDR="+ingestAddr, "STREAMSYNC_INGEST__TOKENS=oursystem:ours-token",
		"STREAMSYNC_PARTNERS__ERP__BASE_URL="+hsThem.URL, "STREAMSYNC_PARTNERS__ERP__WEBHOOKS__SECRETS="+twoWaySecret,
		"STREAMSYNC_PARTNERS__ERP__CONFLICT__DEFAULT="+conflict, "STREAMSYNC_OURS__BASE_URL="+hsOurs.URL,
		"STREAMSYNC_RETRY__INITIAL=20ms", "STREAMSYNC_RETRY__MAX=200ms")
	p := startProcess(t, env)
	t.Cleanup(p.kill)
	if _, err := base64.StdEncoding.DecodeString(twoWaySecret[len("whsec_"):]); err != nil {
		t.Fatal(err)
	}
	return &twoWaySetup{rdb: rdb, keys: keys, erp: keys.ForPartner("erp"), ours: ours, them: them, p: p, env: env}
}

// steps are the step counts of one key set.
func (s *twoWaySetup) steps(k layout.Keys) map[string]int {
	c, _ := s.rdb.HGetAll(context.Background(), k.Steps).Result()
	out := map[string]int{}
	for name, v := range c {
		var n int
		fmt.Sscan(v, &n)
		out[name] = n
	}
	return out
}

// settled waits until both directions have ended n more events than
// before (ended: delivered, skipped or dead) and neither partnersim has an
// echo still to send.
func (s *twoWaySetup) settled(t *testing.T, outN, inN int) {
	t.Helper()
	ended := func(k layout.Keys) int {
		st := s.steps(k)
		return st["delivered"] + st["dead"] + st["skipped_loop"] + st["skipped_stale"] + st["skipped_unchanged"] + st["skipped_conflict"]
	}
	end := time.Now().Add(90 * time.Second)
	for ended(s.erp) < outN || ended(s.erp.Inbound()) < inN || echoPending(s.ours) > 0 || echoPending(s.them) > 0 {
		if time.Now().After(end) {
			t.Fatalf("not settled: out %v (want %d ended), in %v (want %d), echoes pending ours %d, erp %d\n%s",
				s.steps(s.erp), outN, s.steps(s.erp.Inbound()), inN, echoPending(s.ours), echoPending(s.them), tail(s.p.out.String(), 3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// puts is how many record writes a partnersim got.
func puts(sim *partnersim.Server) int64 {
	return sim.Snapshot("").Stats.ByRoute["PUT /v1/{entity}/{key}"]
}

// TestTwoWayNoLoops: 1,000 records changed in our system reach the
// partner once; the partner's echo of each (a new version, no origin) is
// recognised by its content and not written back; then 1,000 changes made
// at the partner reach our system once, and our system's echoes are not
// written back either. Afterwards neither side gets another write.
func TestTwoWayNoLoops(t *testing.T) {
	const n = 1000
	s := newTwoWay(t, "newest")
	if _, err := s.ours.Changes(partnersim.ChangesSpec{Entity: "contact", Count: n, Prefix: "c-", Accounts: 20, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	// ours → erp (n), erp's echoes → skipped_loop (n)
	s.settled(t, n, n)
	if got := puts(s.them); got != n {
		t.Errorf("the partner got %d writes for %d changes of ours, want %d", got, n, n)
	}
	if got := puts(s.ours); got != 0 {
		t.Errorf("our system got %d writes back (ping-pong), want 0", got)
	}
	if st := s.steps(s.erp.Inbound()); st["skipped_loop"] != n {
		t.Errorf("inbound steps %v: want %d echoes skipped_loop", st, n)
	}

	// erp changes every record: each reaches our system once; our echoes stop.
	if _, err := s.them.Changes(partnersim.ChangesSpec{Entity: "contact", Count: n, Prefix: "c-", Accounts: 20, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	s.settled(t, 2*n, 2*n)
	if got := puts(s.ours); got != n {
		t.Errorf("our system got %d writes for %d changes at the partner, want %d", got, n, n)
	}
	if got := puts(s.them); got != n {
		t.Errorf("the partner got %d writes in all, want %d (none of our echoes)", got, n)
	}
	if st := s.steps(s.erp); st["skipped_loop"] != n {
		t.Errorf("outbound steps %v: want %d of our echoes skipped_loop", st, n)
	}
	// the same content on both sides
	them, ours := records(s.them), records(s.ours)
	for k, r := range them {
		if o, ok := ours[k]; !ok || string(canon(t, o.Data)) != string(canon(t, r.Data)) {
			t.Fatalf("%s: ours %s, the partner's %s", k, o.Data, r.Data)
		}
	}
	// flat: still nothing more after both sides' echoes are done
	before := [2]int64{puts(s.ours), puts(s.them)}
	s.settled(t, 2*n, 2*n)
	if after := [2]int64{puts(s.ours), puts(s.them)}; after != before {
		t.Errorf("writes went on after settling: %v → %v", before, after)
	}
}

// echoPending is how many echoes sim has still to send.
func echoPending(sim *partnersim.Server) int64 { return sim.Snapshot("").Echo.Pending }

// canon is data as canonical JSON, for comparing two sides' records.
func canon(t *testing.T, data []byte) []byte {
	t.Helper()
	b, err := event.Canonical(data)
	if err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return b
}
