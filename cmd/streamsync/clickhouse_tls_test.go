package main

import (
	"strings"
	"testing"

	"github.com/streamsync/streamsync/internal/testenv"
)

// tlsClickHouseEnv points the commands at s: TLS with s's CA and client
// certificate, as s's user with its password.
func tlsClickHouseEnv(t *testing.T, s *testenv.ClickHouseTLS) []string {
	return []string{
		"STREAMSYNC_CLICKHOUSE__ADDR=" + s.Addr, "STREAMSYNC_CLICKHOUSE__TLS=true", "STREAMSYNC_CLICKHOUSE__TLS_CA_FILE=" + s.CA.File,
		"STREAMSYNC_CLICKHOUSE__TLS_CERT_FILE=" + s.Client.CertFile, "STREAMSYNC_CLICKHOUSE__TLS_KEY_FILE=" + s.Client.KeyFile,
		"STREAMSYNC_CLICKHOUSE__USERNAME=" + s.User, "STREAMSYNC_CLICKHOUSE__PASSWORD=" + s.Password,
		"STREAMSYNC_CLICKHOUSE__DATABASE=" + strings.ReplaceAll(testenv.Prefix(t), ":", "_") + "db",
		"STREAMSYNC_CLICKHOUSE__SPOOL_DIR=" + t.TempDir(), "STREAMSYNC_LOG__LEVEL=warn",
	}
}

// The attempt log's ClickHouse over TLS with a client certificate and a
// password (docs/security.md, "Transport"): `chains` creates the schema and
// queries it; a server certificate no trusted CA signed, a missing client
// certificate, a wrong password and plain TCP to the TLS port are refused
// with a hint naming the settings.
func TestClickHouseTLS(t *testing.T) {
	s := testenv.StartClickHouseTLS(t)
	env := tlsClickHouseEnv(t, s)
	out, err := cli(t, env, "chains")
	if err != nil || !strings.Contains(out, "no failed or stuck chains") {
		t.Fatalf("chains over TLS: %v\n%s", err, out)
	}
	stranger := testenv.NewCA(t)
	for _, tc := range []struct {
		name string
		set  []string
		want []string
	}{
		{"server of an unknown CA", []string{"STREAMSYNC_CLICKHOUSE__TLS_CA_FILE=" + stranger.File}, []string{"unknown authority", "clickhouse.tls_ca_file"}},
		{"no client certificate", []string{"STREAMSYNC_CLICKHOUSE__TLS_CERT_FILE=", "STREAMSYNC_CLICKHOUSE__TLS_KEY_FILE="},
			[]string{"clickhouse.tls_cert_file"}},
		{"wrong password", []string{"STREAMSYNC_CLICKHOUSE__PASSWORD=wrong"}, []string{"clickhouse.username and clickhouse.password"}},
		{"plain TCP to the TLS port", []string{"STREAMSYNC_CLICKHOUSE__TLS=false", "STREAMSYNC_CLICKHOUSE__TLS_CA_FILE=",
			"STREAMSYNC_CLICKHOUSE__TLS_CERT_FILE=", "STREAMSYNC_CLICKHOUSE__TLS_KEY_FILE="}, []string{"clickhouse.addr"}},
		{"key file missing", []string{"STREAMSYNC_CLICKHOUSE__TLS_KEY_FILE=" + t.TempDir() + "/none.pem"}, []string{"clickhouse.tls_key_file", "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli(t, withEnv(env, tc.set...), "chains")
			if err == nil {
				t.Fatal("chains succeeded")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}
