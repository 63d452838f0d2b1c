package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/inspect"
	"github.com/streamsync/streamsync/internal/testenv"
)

// tlsRedisEnv points the commands at r: TLS with r's CA and client
// certificate, as r's ACL user.
func tlsRedisEnv(r *testenv.RedisTLS) []string {
	return []string{
		"STREAMSYNC_REDIS__ADDR=" + r.Addr, "STREAMSYNC_REDIS__TLS=true", "STREAMSYNC_REDIS__TLS_CA_FILE=" + r.CA.File,
		"STREAMSYNC_REDIS__TLS_CERT_FILE=" + r.Client.CertFile, "STREAMSYNC_REDIS__TLS_KEY_FILE=" + r.Client.KeyFile,
		"STREAMSYNC_REDIS__USERNAME=" + r.User, "STREAMSYNC_REDIS__PASSWORD=" + r.Password,
		"STREAMSYNC_ADMIN__ADDR=", "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_LOG__LEVEL=warn",
	}
}

// Every command reaches a Redis that speaks TLS only, wants a client
// certificate and knows only an ACL user (docs/security.md, "Transport"),
// one Redis or a Redis Cluster; a server whose certificate no trusted CA
// signed, a missing client certificate, a wrong password and plain TCP are
// refused with a hint naming the settings.
func TestRedisTLSAndACLUser(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster bool
	}{{"one Redis", false}, {"Redis Cluster", true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := testenv.StartRedisTLS(t, testenv.RedisTLSOptions{Cluster: tc.cluster})
			env := append(tlsRedisEnv(r), "STREAMSYNC_REDIS__CLUSTER="+map[bool]string{true: "true", false: "false"}[tc.cluster])
			if _, err := cli(t, env, "produce", "--events", "20"); err != nil {
				t.Fatalf("produce over TLS as %s: %v", r.User, err)
			}
			out, err := cli(t, env, "status", "--format", "json")
			if err != nil {
				t.Fatalf("status over TLS: %v", err)
			}
			var st inspect.Status
			if err := json.Unmarshal([]byte(out), &st); err != nil || st.StreamLength == 0 {
				t.Fatalf("status: %v\n%s", err, out)
			}
			refused := func(name string, env []string, want ...string) {
				t.Helper()
				_, err := cli(t, env, "status")
				if err == nil {
					t.Fatalf("%s: status succeeded", name)
				}
				t.Logf("%s: %v", name, err)
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error does not say %q:\n%v", name, w, err)
					}
				}
			}
			stranger := testenv.NewCA(t)
			refused("server of an unknown CA", withEnv(env, "STREAMSYNC_REDIS__TLS_CA_FILE="+stranger.File), "unknown authority", "redis.tls_ca_file")
			refused("no client certificate", withEnv(env, "STREAMSYNC_REDIS__TLS_CERT_FILE=", "STREAMSYNC_REDIS__TLS_KEY_FILE="), "certificate", "redis.tls_cert_file")
			refused("wrong password", withEnv(env, "STREAMSYNC_REDIS__PASSWORD=wrong"), "WRONGPASS", "redis.username and redis.password")
			refused("default user", withEnv(env, "STREAMSYNC_REDIS__USERNAME=", "STREAMSYNC_REDIS__PASSWORD="), "redis.username")
			refused("plain TCP", withEnv(env, "STREAMSYNC_REDIS__TLS=false", "STREAMSYNC_REDIS__TLS_CA_FILE=",
				"STREAMSYNC_REDIS__TLS_CERT_FILE=", "STREAMSYNC_REDIS__TLS_KEY_FILE="), "redis.tls")
			refused("CA file missing", withEnv(env, "STREAMSYNC_REDIS__TLS_CA_FILE="+t.TempDir()+"/none.pem"), "redis.tls_ca_file", "no such file")
		})
	}
}

// withEnv is env with the given NAME=value entries set (later entries win).
func withEnv(env []string, set ...string) []string {
	return append(append([]string(nil), env...), set...)
}
