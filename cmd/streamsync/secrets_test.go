package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// seenTokens collects the bearer tokens test servers were sent, which must
// not show up anywhere either.
type seenTokens struct {
	mu  sync.Mutex
	all map[string]bool
}

func (s *seenTokens) note(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		s.mu.Lock()
		if s.all == nil {
			s.all = map[string]bool{}
		}
		s.all[tok] = true
		s.mu.Unlock()
	}
	return auth
}

func (s *seenTokens) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.all {
		out = append(out, t)
	}
	return out
}

// echoing wraps an API so that it quotes our credentials back: the token
// endpoint refuses the first refusals requests quoting their form body; a
// request for an echo path is answered status, quoting its Authorization
// header; everything else reaches api.
func echoing(api http.Handler, refusals int, echoPath string, status int, seen *seenTokens) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := seen.note(r)
		if r.URL.Path == "/oauth/token" {
			mu.Lock()
			refuse := refusals > 0
			refusals--
			mu.Unlock()
			if refuse {
				body, _ := io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"error":"invalid_client","error_description":"we got %s"}`, body)
				return
			}
		}
		if strings.HasPrefix(r.URL.Path, echoPath) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":"refused: you sent Authorization %s"}`, auth)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// The secrets of every setting, given in files and in the environment, with
// every connection on TLS (Redis as an ACL user, ClickHouse with a password,
// the partner with a client certificate) and a partner and a source that
// quote our credentials back: none of them appears in the process' log,
// `status`, `dead list`, `chains`, /metrics, the admin API, the attempt log
// in ClickHouse, Redis, or the goroutine dump of a SIGQUIT — the output a
// panic leaves (docs/security.md, "Secrets").
func TestNoSecretLeaves(t *testing.T) {
	rs := testenv.StartRedisTLS(t, testenv.RedisTLSOptions{ACL: leastRedisACL})
	chs := testenv.StartClickHouseTLS(t)
	secret := func(name string) string { return name + "-" + strings.ToUpper(testenv.Prefix(t)[5:13]) + "-7f3a9c" }
	sinkSecret, sinkURLPassword, sourceSecret := secret("SINK-SECRET"), secret("SINK-URL-PW"), secret("SOURCE-SECRET")
	adminToken, crmToken, billingToken, outboxPassword := secret("ADMIN-TOKEN"), secret("INGEST-CRM"), secret("INGEST-BILLING"), secret("OUTBOX-PW")
	secrets := []string{rs.Password, chs.Password, sinkSecret, sinkURLPassword, sourceSecret, adminToken, crmToken, billingToken, outboxPassword}

	seen := &seenTokens{}
	// The partner: TLS wanting a client certificate; entity "echo" answered 400.
	ca := testenv.NewCA(t)
	client := ca.Client(t, "streamsync")
	sim, err := partnersim.New(partnersim.Options{ClientID: "id", ClientSecret: sinkSecret})
	if err != nil {
		t.Fatal(err)
	}
	partner := httptest.NewUnstartedServer(echoing(sim, 2, "/v1/echo/", http.StatusBadRequest, seen))
	partner.Config.ErrorLog = log.New(io.Discard, "", 0)
	partner.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t).TLS}, ClientCAs: ca.Pool, ClientAuth: tls.RequireAndVerifyClientCert}
	partner.StartTLS()
	defer partner.Close()
	// Our source: record s1 answered 422.
	srcSim, err := partnersim.New(partnersim.Options{ClientID: "src", ClientSecret: sourceSecret})
	if err != nil {
		t.Fatal(err)
	}
	src := httptest.NewServer(echoing(srcSim, 0, "/v1/reg/s1", http.StatusUnprocessableEntity, seen))
	defer src.Close()

	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	admin := freeAddr(t)
	env := withEnv(tlsRedisEnv(rs), tlsClickHouseEnv(t, chs)...)
	env = withEnv(env,
		"STREAMSYNC_REDIS__PASSWORD=", "STREAMSYNC_REDIS__PASSWORD_FILE="+file("redis-password", rs.Password),
		"STREAMSYNC_SINK__BASE_URL="+strings.Replace(partner.URL, "https://", "https://streamsync:"+sinkURLPassword+"@", 1),
		"STREAMSYNC_SINK__CLIENT_ID=id", "STREAMSYNC_SINK__CLIENT_SECRET_FILE="+file("sink-secret", sinkSecret),
		"STREAMSYNC_SINK__TLS_CA_FILE="+ca.File, "STREAMSYNC_SINK__TLS_CERT_FILE="+client.CertFile, "STREAMSYNC_SINK__TLS_KEY_FILE="+client.KeyFile,
		"STREAMSYNC_SOURCE__KIND=http", "STREAMSYNC_SOURCE__BASE_URL="+src.URL, "STREAMSYNC_SOURCE__CLIENT_ID=src",
		"STREAMSYNC_SOURCE__CLIENT_SECRET="+sourceSecret,
		"STREAMSYNC_ADMIN__ADDR="+admin, "STREAMSYNC_ADMIN__TOKEN="+adminToken,
		"STREAMSYNC_INGEST__ADDR="+freeAddr(t), "STREAMSYNC_INGEST__TOKENS=crm:"+crmToken+",billing:"+billingToken,
		"STREAMSYNC_OUTBOX__DSN_FILE="+file("outbox-dsn", fmt.Sprintf("postgres://relay:%s@%s/app?sslmode=disable", outboxPassword, freeAddr(t))),
		"STREAMSYNC_STREAM__CONSUMER=secrets", "STREAMSYNC_LOG__LEVEL=debug", "STREAMSYNC_RETRY__INITIAL=50ms",
	)
	p := startProcess(t, env)
	t.Cleanup(p.kill)

	rdb := rs.Admin(t)
	ctx := context.Background()
	add := func(id, entity, key, op string) {
		t.Helper()
		v := []any{"id", id, "account", "acc-" + id, "entity", entity, "key", key, "op", op}
		if op != "sync" {
			v = append(v, "version", "1", "data", `{"n":1}`)
		}
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "streamsync:events", Values: v}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	get := func(path string) string {
		req, _ := http.NewRequest(http.MethodGet, "http://"+admin+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, id := range []string{"ok-1", "ok-2", "ok-3"} {
		add(id, "reg", "k-"+id, "upsert")
	}
	add("echo-1", "echo", "k-echo", "upsert")
	add("sync-1", "reg", "s1", "sync")
	testenv.WaitFor(t, 60*time.Second, "3 deliveries and 2 dead letters", func() bool {
		return rdb.XLen(ctx, "streamsync:dead").Val() == 2 && strings.Contains(get("/metrics"), `streamsync_partner_auth_ok 1`)
	})
	chQuery := func(q string) string {
		u := "http://" + chs.HTTPAddr + "/?" + url.Values{"query": {q}, "user": {chs.User}, "password": {chs.Password}}.Encode()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	db := chDatabase(env)
	testenv.WaitFor(t, 60*time.Second, "the attempt rows in ClickHouse", func() bool {
		return strings.TrimSpace(chQuery("SELECT count() FROM "+db+".attempts WHERE step IN ('delivered', 'dead')")) == "5"
	})

	texts := map[string]string{}
	texts["attempt log"] = chQuery("SELECT * FROM " + db + ".attempts FORMAT TSV")
	for _, path := range []string{"/metrics", "/api/v1/status", "/api/v1/dead", "/api/v1/chains"} {
		texts[path] = get(path)
	}
	for _, args := range [][]string{{"status", "--format", "json"}, {"status"}, {"dead", "list", "--format", "json"}, {"chains", "--format", "json"}, {"chains"}} {
		out, err := cli(t, env, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		texts[strings.Join(args, " ")] = out
	}
	texts["redis"] = dumpRedis(t, rdb)
	if err := p.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	texts["log and SIGQUIT dump"] = p.out.String()

	if strings.Contains(texts["log and SIGQUIT dump"], "NOPERM") {
		t.Fatalf("the documented Redis ACL is not enough:\n%s", texts["log and SIGQUIT dump"])
	}
	// The echoes happened, and were scrubbed.
	if !strings.Contains(texts["attempt log"], "Bearer <redacted>") || !strings.Contains(texts["log and SIGQUIT dump"], "client_secret=<redacted>") ||
		!strings.Contains(texts["log and SIGQUIT dump"], "goroutine ") {
		t.Fatalf("the echoes or the dump are missing:\n%s\n%s", texts["attempt log"], texts["log and SIGQUIT dump"])
	}
	secrets = append(secrets, seen.list()...)
	if len(seen.list()) < 2 {
		t.Fatalf("tokens seen: %v", seen.list())
	}
	for what, text := range texts {
		for _, s := range secrets {
			if i := strings.Index(text, s); i >= 0 {
				t.Errorf("%s shows the secret %s: …%s…", what, s, text[max(0, i-200):min(len(text), i+len(s)+50)])
			}
		}
	}
}

// leastRedisACL are the rights docs/security.md gives streamsync's Redis
// user: its own keys, no dangerous command.
var leastRedisACL = []string{"resetchannels", "~streamsync:*", "+@all", "-@dangerous"}

// chDatabase is clickhouse.database in env.
func chDatabase(env []string) string {
	db := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "STREAMSYNC_CLICKHOUSE__DATABASE="); ok {
			db = v
		}
	}
	return db
}

// dumpRedis is every key of a Redis and its content, as text.
func dumpRedis(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range keys {
		typ := rdb.Type(ctx, k).Val()
		var v any
		switch typ {
		case "stream":
			v = rdb.XRange(ctx, k, "-", "+").Val()
		case "hash":
			v = rdb.HGetAll(ctx, k).Val()
		case "zset":
			v = rdb.ZRangeWithScores(ctx, k, 0, -1).Val()
		case "set":
			v = rdb.SMembers(ctx, k).Val()
		case "list":
			v = rdb.LRange(ctx, k, 0, -1).Val()
		default:
			v = rdb.Get(ctx, k).Val()
		}
		fmt.Fprintf(&b, "%s (%s): %v\n", k, typ, v)
	}
	return b.String()
}
