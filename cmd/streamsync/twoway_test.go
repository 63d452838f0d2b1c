package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
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

func newTwoWay(t *testing.T, conflict string, extraEnv ...string) *twoWaySetup {
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
	env = append(env, extraEnv...) // the last of a name wins
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
	// status shows both directions
	out, err := cli(t, s.env, "status", "--format", "json")
	var st struct {
		Steps   map[string]int `json:"steps"`
		Inbound struct {
			Steps map[string]int `json:"steps"`
		} `json:"inbound"`
	}
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Steps["delivered"] != n || st.Inbound.Steps["delivered"] != n || st.Inbound.Steps["skipped_loop"] != n {
		t.Errorf("status: %v\n%s", err, out)
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

// TestTwoWayConflicts: with streamsync stopped, our system and the partner
// both change a record they had agreed on; once it runs again, the
// entity's conflict policy decides, and both sides end with the same
// record: ours, theirs, the newest by version, or — manual — a dead
// letter holding both, settled by a replay that names the winner.
func TestTwoWayConflicts(t *testing.T) {
	for _, tc := range []struct {
		policy      string
		oursVersion int64 // 0: the next one
		want        string
	}{
		{"ours", 0, "ours"},
		{"theirs", 0, "theirs"},
		{"newest", 0, "theirs"},      // the partner's change is the later version
		{"newest", 1000, "ours"},     // ours carries a higher one
		{"manual", 0, "take-ours"},   // dead-lettered, then settled with ours
		{"manual", 0, "take-theirs"}, // … or with theirs
	} {
		t.Run(tc.policy+"-"+tc.want, func(t *testing.T) {
			s := newTwoWay(t, tc.policy)
			ctx := context.Background()
			s.conflict(t, tc.oursVersion)

			want := `{"name":"B"}`
			if tc.want == "theirs" || tc.want == "take-theirs" {
				want = `{"name":"C"}`
			}
			if tc.policy == "manual" {
				dead := waitConflictDead(t, s)
				if got := string(records(s.ours)["contact/r-1"].Data); got != `{"name":"B"}` {
					t.Errorf("ours changed to %s before the conflict was settled", got)
				}
				if got := string(records(s.them)["contact/r-1"].Data); got != `{"name":"C"}` {
					t.Errorf("the partner changed to %s before the conflict was settled", got)
				}
				take := tc.want[len("take-"):]
				out, err := cli(t, s.env, "dead", "replay", "--partner", "erp", "--id", dead, "--take", take)
				if err != nil {
					t.Fatalf("dead replay --take %s: %v\n%s", take, err, out)
				}
			}
			end := time.Now().Add(30 * time.Second)
			for {
				o, th := records(s.ours)["contact/r-1"], records(s.them)["contact/r-1"]
				if string(canon(t, o.Data)) == want && string(canon(t, th.Data)) == want && echoPending(s.ours)+echoPending(s.them) == 0 {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("policy %s: ours %s, theirs %s; want both %s\nout %v in %v\n%s", tc.policy, o.Data, th.Data, want,
						s.steps(s.erp), s.steps(s.erp.Inbound()), tail(s.p.out.String(), 3000))
				}
				time.Sleep(10 * time.Millisecond)
			}
			for _, k := range []layout.Keys{s.erp, s.erp.Inbound()} {
				if n, _ := s.rdb.XLen(ctx, k.Dead).Result(); n != 0 {
					d, _ := s.rdb.XRange(ctx, k.Dead, "-", "+").Result()
					t.Errorf("%s: %d dead letters left: %v", k.Dead, n, d)
				}
			}
		})
	}
}

// conflict makes record contact/r-1 a conflict: both sides agree on
// {"name":"A"}; then, with streamsync stopped, our system changes it to
// {"name":"B"} (at oursVersion, 0 for the next one) and the partner to
// {"name":"C"}, and each side's change feed brings its change; streamsync
// runs again.
func (s *twoWaySetup) conflict(t *testing.T, oursVersion int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.ours.Change(partnersim.ChangeSpec{Entity: "contact", Key: "r-1", Account: "acc-1", Data: []byte(`{"name":"A"}`)}); err != nil {
		t.Fatal(err)
	}
	s.settled(t, 1, 1) // agreed on A
	s.p.kill()

	// between syncs: ours → B, theirs → C
	if _, err := s.ours.Change(partnersim.ChangeSpec{Entity: "contact", Key: "r-1", Data: []byte(`{"name":"B"}`), Version: oursVersion}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.them.Change(partnersim.ChangeSpec{Entity: "contact", Key: "r-1", Data: []byte(`{"name":"C"}`)}); err != nil {
		t.Fatal(err)
	}
	o, th := records(s.ours)["contact/r-1"], records(s.them)["contact/r-1"]
	// what each side's change feed would have brought
	add := func(stream string, v map[string]any) {
		if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: v}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	add(s.keys.Events, map[string]any{"id": "ours-b", "account": "acc-1", "entity": "contact", "key": "r-1", "op": "upsert",
		"version": o.Version, "data": string(o.Data)})
	add(s.erp.Inbound().Events, map[string]any{"id": "theirs-c", "account": "acc-1", "entity": "contact", "key": "r-1", "op": "upsert",
		"version": th.Version, "data": string(th.Data), "origin": "erp"})
	s.p = startProcess(t, s.env)
	t.Cleanup(s.p.kill)
}

// waitConflictDead waits for a conflict dead letter of erp (either
// direction; both directions may meet the same conflict at once) and
// returns its event id.
func waitConflictDead(t *testing.T, s *twoWaySetup) string {
	t.Helper()
	ctx := context.Background()
	end := time.Now().Add(30 * time.Second)
	for {
		for _, k := range []layout.Keys{s.erp, s.erp.Inbound()} {
			ds, _ := s.rdb.XRange(ctx, k.Dead, "-", "+").Result()
			for _, d := range ds {
				if d.Values["dead_reason"] == "conflict" {
					return d.Values["id"].(string)
				}
			}
		}
		if time.Now().After(end) {
			t.Fatalf("no conflict dead letter\nout %v in %v\n%s", s.steps(s.erp), s.steps(s.erp.Inbound()), tail(s.p.out.String(), 3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
