package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// A wrong sink.client_secret (docs/events.md): the running process says so in
// an ERROR naming sink.client_id and the token endpoint's answer, in
// /metrics, in /api/v1/status and in `streamsync status`; the events wait,
// none dead-lettered, with no row per probe.
func TestWrongClientSecretIsLoud(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	rdb, keys, env := streams(t, "wrongsecret")
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: "sec"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	admin := freeAddr(t)
	env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET=wrong",
		"STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_ADMIN__ADDR="+admin)
	p := startProcess(t, env)
	t.Cleanup(p.kill)
	ctx := context.Background()
	for _, id := range []string{"e1", "e2", "e3"} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: []any{"id", id, "account", "a-" + id, "entity", "x", "key", "k-" + id,
			"op", "upsert", "version", "1", "data", "{}"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	get := func(path string) string {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	testenv.WaitFor(t, 20*time.Second, "the refusal in /metrics", func() bool {
		m := get("/metrics")
		return strings.Contains(m, "streamsync_partner_auth_ok 0") && strings.Contains(m, "streamsync_partner_breaker_state 2")
	})
	testenv.WaitFor(t, 10*time.Second, "the refusal in /api/v1/status", func() bool {
		var st inspect.Status
		return json.Unmarshal([]byte(get("/api/v1/status")), &st) == nil && len(st.Partner) == 1 && !st.Partner[0].AuthOK
	})
	out, err := cli(t, env, "status")
	if err != nil || !strings.Contains(out, "CREDENTIALS REFUSED") || !strings.Contains(out, `sink.client_id "id"`) || !strings.Contains(out, "invalid_client") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if n := rdb.XLen(ctx, keys.Attempts).Val(); n != 0 {
		t.Fatalf("%d attempt rows while the credentials are refused", n)
	}
	p.kill() // its output is read once it has ended
	logs := p.out.String()
	if n := strings.Count(logs, "level=ERROR"); n != 1 || !strings.Contains(logs, "sink.client_id=id") || !strings.Contains(logs, "401 Unauthorized") {
		t.Fatalf("want one ERROR naming sink.client_id and the answer, got %d:\n%s", n, logs)
	}
	if n := rdb.XLen(ctx, keys.Dead).Val(); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}
