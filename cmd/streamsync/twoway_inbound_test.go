package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// listCalls records the updated_since of every list the partner answers.
type listCalls struct {
	mu    sync.Mutex
	since []string // "" for a list without it
}

func (l *listCalls) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/contact" {
			l.mu.Lock()
			l.since = append(l.since, r.URL.Query().Get("updated_since"))
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *listCalls) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.since...)
}

// TestTwoWayByPolling: a two-way partner without webhooks, polled every
// second. The partner's changes reach our system once each; our system's
// echoes of them are skipped_loop and never written back; the cursor is
// kept in Redis, so that after a restart the first poll asks from it
// (less the overlap), and what changed while streamsync was down arrives.
func TestTwoWayByPolling(t *testing.T) {
	const n, m = 50, 10
	const overlap = 100 // ms
	rdb, keys, env := streams(t, "twoway-poll")
	ctx := context.Background()
	ingestAddr := freeAddr(t)
	ours, err := partnersim.New(partnersim.Options{API: partnersim.APIV1,
		Echo: partnersim.EchoOptions{URL: "http://" + ingestAddr + "/v1/events", Format: partnersim.EchoEvents, Token: "ours-token"}})
	if err != nil {
		t.Fatal(err)
	}
	them, err := partnersim.New(partnersim.Options{API: partnersim.APIV1}) // polled: no echo
	if err != nil {
		t.Fatal(err)
	}
	calls := &listCalls{}
	hsOurs, hsThem := httptest.NewServer(ours), httptest.NewServer(calls.wrap(them))
	t.Cleanup(func() { hsOurs.Close(); hsThem.Close(); ours.Close(); them.Close() })
	env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_INGEST__ADDR="+ingestAddr, "STREAMSYNC_INGEST__TOKENS=oursystem:ours-token",
		"STREAMSYNC_PARTNERS__ERP__BASE_URL="+hsThem.URL, "STREAMSYNC_PARTNERS__ERP__POLL__EVERY=1s", "STREAMSYNC_PARTNERS__ERP__POLL__ENTITIES=contact",
		fmt.Sprintf("STREAMSYNC_PARTNERS__ERP__POLL__OVERLAP=%dms", overlap), "STREAMSYNC_OURS__BASE_URL="+hsOurs.URL,
		"STREAMSYNC_RETRY__INITIAL=20ms", "STREAMSYNC_RETRY__MAX=200ms")
	s := &twoWaySetup{rdb: rdb, keys: keys, erp: keys.ForPartner("erp"), ours: ours, them: them, env: env}
	s.p = startProcess(t, env)
	t.Cleanup(func() { s.p.kill() })

	if _, err := them.Changes(partnersim.ChangesSpec{Entity: "contact", Count: n, Prefix: "c-", Accounts: 5, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	// erp → ours (n), our system's echoes → skipped_loop (n)
	waitOurs := func(want int64) {
		t.Helper()
		end := time.Now().Add(60 * time.Second)
		for puts(ours) < want || int64(s.steps(s.erp)["skipped_loop"]) < want || echoPending(ours) > 0 {
			if time.Now().After(end) {
				t.Fatalf("want %d writes to our system and their echoes skipped: ours got %d; out %v, in %v; lists %v\n%s",
					want, puts(ours), s.steps(s.erp), s.steps(s.erp.Inbound()), calls.list(), tail(s.p.out.String(), 3000))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOurs(n)
	cursorKey := s.erp.PollCursor("contact")
	cursor, err := rdb.HGet(ctx, cursorKey, "cursor").Int64()
	if err != nil || cursor <= 0 {
		t.Fatalf("cursor in %s: %d %v", cursorKey, cursor, err)
	}
	// a poll or two more: nothing new is written anywhere
	seen := len(calls.list())
	testenv.WaitFor(t, 10*time.Second, "two more polls", func() bool { return len(calls.list()) >= seen+2 })
	if got := puts(ours); got != n {
		t.Errorf("our system got %d writes for %d changes at the partner, want %d", got, n, n)
	}
	if got := puts(them); got != 0 {
		t.Errorf("the partner got %d writes back (ping-pong), want 0", got)
	}

	// down: the partner changes more records, then streamsync comes back
	s.p.kill()
	cursor, _ = rdb.HGet(ctx, cursorKey, "cursor").Int64()
	before := len(calls.list())
	if _, err := them.Changes(partnersim.ChangesSpec{Entity: "contact", Count: m, Prefix: "d-", Accounts: 5, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	s.p = startProcess(t, env)
	waitOurs(n + m)
	after := calls.list()[before:]
	if len(after) == 0 || after[0] != strconv.FormatInt(cursor-overlap, 10) {
		t.Errorf("first list after the restart asked updated_since=%v, want the cursor %d less the overlap", after, cursor)
	}
	seen = len(calls.list())
	testenv.WaitFor(t, 10*time.Second, "two more polls", func() bool { return len(calls.list()) >= seen+2 })
	if got := puts(ours); got != n+m {
		t.Errorf("our system got %d writes in all, want %d (each change once)", got, n+m)
	}
	if got := puts(them); got != 0 {
		t.Errorf("the partner got %d writes back, want 0", got)
	}
	for k, r := range records(them) {
		if o, ok := records(ours)[k]; !ok || string(canon(t, o.Data)) != string(canon(t, r.Data)) {
			t.Errorf("%s: ours %s, the partner's %s", k, o.Data, r.Data)
		}
	}
}

// TestTwoWayWebhookRefusalsAndRows: a badly signed webhook and one with a
// stale timestamp get 401, a row (step webhook_refused, direction in) and
// streamsync_webhooks_refused_total, and never an event; a webhook sent
// twice under one webhook-id is applied once. The attempt rows of the run
// carry partner erp, and direction in for the inbound steps.
func TestTwoWayWebhookRefusalsAndRows(t *testing.T) {
	conn, db := testenv.ClickHouse(t)
	admin := freeAddr(t)
	s := newTwoWay(t, "newest", "STREAMSYNC_CLICKHOUSE__ADDR="+testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE="+db,
		"STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+t.TempDir(), "STREAMSYNC_ADMIN__ADDR="+admin)
	ingest := "http://" + envValue(s.env, "STREAMSYNC_INGEST__ADDR")
	testenv.WaitFor(t, 20*time.Second, "streamsync ready", func() bool { return httpStatus("http://"+admin+"/readyz") == 200 })

	body := `{"type":"record.changed","timestamp":"2026-01-02T03:04:05Z",` +
		`"data":{"entity":"contact","key":"w-1","account":"acc-1","version":5,"data":{"name":"W"},"deleted":false}}`
	post := func(secret, id string, ts time.Time) (int, string) {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := wh.Sign(id, ts, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, ingest+"/v1/partners/erp/webhooks", strings.NewReader(body))
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const otherSecret = "whsec_" + "b3RoZXItc2VjcmV0LW5vdC10aGUtcGFydG5lcnMtMzI="
	if code, b := post(otherSecret, "msg_bad_sig", time.Now()); code != http.StatusUnauthorized {
		t.Errorf("badly signed: %d %s, want 401", code, b)
	}
	if code, b := post(twoWaySecret, "msg_stale", time.Now().Add(-10*time.Minute)); code != http.StatusUnauthorized {
		t.Errorf("stale timestamp: %d %s, want 401", code, b)
	}
	if code, b := post(twoWaySecret, "msg_once", time.Now()); code != http.StatusOK || !strings.Contains(b, `"applied":1`) {
		t.Errorf("first: %d %s, want applied", code, b)
	}
	if code, b := post(twoWaySecret, "msg_once", time.Now()); code != http.StatusOK || !strings.Contains(b, `"duplicate":true`) {
		t.Errorf("replay: %d %s, want a duplicate", code, b)
	}
	// erp → ours once; our system's echo → skipped_loop
	s.settled(t, 1, 1)
	if got := puts(s.ours); got != 1 {
		t.Errorf("our system got %d writes, want 1", got)
	}
	if n, _ := s.rdb.XLen(context.Background(), s.erp.Inbound().Events).Result(); n > 1 {
		t.Errorf("%d events in erp's inbound stream, want 1", n)
	}

	m := metricsText(t, admin)
	for _, want := range []string{`streamsync_webhooks_refused_total{partner="erp",reason="bad_signature"} 1`,
		`streamsync_webhooks_refused_total{partner="erp",reason="stale_timestamp"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	type row struct {
		partner, direction, step string
	}
	counts := map[row]uint64{}
	query := func() {
		clear(counts)
		rows, err := conn.Query(context.Background(), "SELECT partner, direction, step, count() FROM "+db+".attempts FINAL GROUP BY partner, direction, step")
		if err != nil {
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r row
			var n uint64
			if err := rows.Scan(&r.partner, &r.direction, &r.step, &n); err == nil {
				counts[r] = n
			}
		}
	}
	testenv.WaitFor(t, 60*time.Second, "the run's attempt rows in ClickHouse", func() bool {
		query()
		return counts[row{"erp", "in", "webhook_refused"}] == 2 && counts[row{"erp", "in", "delivered"}] == 1 &&
			counts[row{"erp", "out", "skipped_loop"}] == 1
	})
	for r, n := range counts {
		if r.partner != "erp" {
			t.Errorf("%d rows of partner %q (%s %s), want erp", n, r.partner, r.direction, r.step)
		}
		if r.direction == "out" && r.step != "received" && r.step != "skipped_loop" {
			t.Errorf("%d outbound rows of step %s: the partner's change went out?", n, r.step)
		}
	}
	var ids uint64
	if err := conn.QueryRow(context.Background(), "SELECT uniqExact(event_id) FROM "+db+".attempts WHERE direction = 'in' AND step != 'webhook_refused'").Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if ids != 1 {
		t.Errorf("%d inbound events in the rows, want 1 (refusals make none, the replay no second)", ids)
	}
	t.Logf("rows: %v", counts)
}

// envValue is the last value of name in env.
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// metricsText is the admin server's /metrics.
func metricsText(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
