package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The settings of docs/security.md: each bad value stops start-up naming its
// key, and an error never shows a secret.
func TestSecuritySettings(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		key  string // "" for valid
	}{
		{"ingest on loopback needs no token", []string{"STREAMSYNC_INGEST__ADDR=127.0.0.1:8092"}, ""},
		{"ingest on localhost needs no token", []string{"STREAMSYNC_INGEST__ADDR=localhost:8092"}, ""},
		{"ingest on ::1 needs no token", []string{"STREAMSYNC_INGEST__ADDR=[::1]:8092"}, ""},
		{"ingest on every interface", []string{"STREAMSYNC_INGEST__ADDR=:8092"}, "ingest.tokens"},
		{"ingest on 0.0.0.0", []string{"STREAMSYNC_INGEST__ADDR=0.0.0.0:8092"}, "ingest.tokens"},
		{"ingest on 0.0.0.0 with tokens", []string{"STREAMSYNC_INGEST__ADDR=0.0.0.0:8092", "STREAMSYNC_INGEST__TOKENS=crm:s3cret,billing:an0ther"}, ""},
		{"token without name", []string{"STREAMSYNC_INGEST__TOKENS=s3cret"}, "ingest.tokens"},
		{"token empty", []string{"STREAMSYNC_INGEST__TOKENS=crm:"}, "ingest.tokens"},
		{"producer twice", []string{"STREAMSYNC_INGEST__TOKENS=crm:a,crm:b"}, "ingest.tokens"},
		{"token shared", []string{"STREAMSYNC_INGEST__TOKENS=crm:a,billing:a"}, "ingest.tokens"},
		{"max_events 0", []string{"STREAMSYNC_INGEST__MAX_EVENTS=0"}, "ingest.max_events"},
		{"admin on every interface", []string{"STREAMSYNC_ADMIN__ADDR=0.0.0.0:8090"}, "admin.token"},
		{"admin on a name", []string{"STREAMSYNC_ADMIN__ADDR=ops.example:8090"}, "admin.token"},
		{"admin with token", []string{"STREAMSYNC_ADMIN__ADDR=0.0.0.0:8090", "STREAMSYNC_ADMIN__TOKEN=t0ken"}, ""},
		{"admin host with a path", []string{"STREAMSYNC_ADMIN__HOSTS=ops.example/x"}, "admin.hosts"},
		{"plain http partner off loopback", []string{"STREAMSYNC_SINK__BASE_URL=http://partner.example"}, "sink.allow_http"},
		{"plain http token url off loopback", []string{"STREAMSYNC_SINK__TOKEN_URL=http://idp.example/token"}, "sink.allow_http"},
		{"plain http partner allowed", []string{"STREAMSYNC_SINK__BASE_URL=http://partner.example", "STREAMSYNC_SINK__ALLOW_HTTP=true"}, ""},
		{"https partner", []string{"STREAMSYNC_SINK__BASE_URL=https://partner.example"}, ""},
		{"plain http source off loopback", []string{"STREAMSYNC_SOURCE__KIND=http", "STREAMSYNC_SOURCE__BASE_URL=http://ours.example"}, "sink.allow_http"},
		{"client cert without key", []string{"STREAMSYNC_SINK__TLS_CERT_FILE=/c.pem"}, "sink.tls_cert_file"},
		{"redis key without cert", []string{"STREAMSYNC_REDIS__TLS_KEY_FILE=/k.pem"}, "redis.tls_cert_file"},
		{"dead.max_age in days", []string{"STREAMSYNC_DEAD__MAX_AGE=7d"}, ""},
		{"dead.max_age too short", []string{"STREAMSYNC_DEAD__MAX_AGE=1s"}, "dead.max_age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"STREAMSYNC_SINK__BASE_URL=http://127.0.0.1:8081"}, tt.env...)
			c, err := Load(nil, env)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Key != tt.key {
				t.Fatalf("got %v, want an error naming %s", err, tt.key)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "an0ther") {
				t.Fatalf("error shows a token: %v", err)
			}
		})
	}
}

func TestDurationsInDays(t *testing.T) {
	c, err := Load(nil, []string{"STREAMSYNC_DEAD__MAX_AGE=1d12h"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Dead.MaxAge != 36*time.Hour {
		t.Fatalf("dead.max_age = %s, want 36h", c.Dead.MaxAge)
	}
	if _, err := Load(nil, []string{"STREAMSYNC_DEAD__MAX_AGE=3x"}); err == nil || !strings.Contains(err.Error(), "dead.max_age") {
		t.Fatalf("3x: %v", err)
	}
}

// Secrets come from files: the file's content without its line break, a
// setting given both ways is refused, and ingest.tokens_file adds producers.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(nil, []string{
		"STREAMSYNC_REDIS__PASSWORD_FILE=" + write("redis", "r-secret\n"),
		"STREAMSYNC_SINK__CLIENT_SECRET_FILE=" + write("sink", "s-secret\r\n"),
		"STREAMSYNC_CLICKHOUSE__PASSWORD_FILE=" + write("ch", "c-secret"),
		"STREAMSYNC_ADMIN__TOKEN_FILE=" + write("admin", "a-token\n"),
		"STREAMSYNC_SOURCE__CLIENT_SECRET_FILE=" + write("source", "o-secret\n"),
		"STREAMSYNC_OUTBOX__DSN_FILE=" + write("dsn", "postgres://u:p@127.0.0.1:5432/db\n"),
		"STREAMSYNC_INGEST__TOKENS=crm:one",
		"STREAMSYNC_INGEST__TOKENS_FILE=" + write("tokens", "# producers\nbilling:two\n\n  shop:three  \n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.Redis.Password, c.Sink.ClientSecret, c.ClickHouse.Password, c.Admin.Token, c.Source.ClientSecret, c.Outbox.DSN}
	want := []string{"r-secret", "s-secret", "c-secret", "a-token", "o-secret", "postgres://u:p@127.0.0.1:5432/db"}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("secret %d = %q, want %q", i, got[i], want[i])
		}
	}
	ps := c.Ingest.Producers()
	if len(ps) != 3 || ps[0] != (Producer{"crm", "one"}) || ps[1] != (Producer{"billing", "two"}) || ps[2] != (Producer{"shop", "three"}) {
		t.Fatalf("producers = %v", ps)
	}
	if strings.Contains(ps[0].String(), "one") {
		t.Errorf("Producer.String shows the token: %s", ps[0])
	}
	_, err = Load(nil, []string{"STREAMSYNC_ADMIN__TOKEN=x", "STREAMSYNC_ADMIN__TOKEN_FILE=" + write("a2", "y")})
	if err == nil || !strings.Contains(err.Error(), "admin.token_file: set together with admin.token") {
		t.Fatalf("both ways: %v", err)
	}
	_, err = Load(nil, []string{"STREAMSYNC_REDIS__PASSWORD_FILE=" + filepath.Join(dir, "missing")})
	if err == nil || !strings.Contains(err.Error(), "redis.password_file") {
		t.Fatalf("missing file: %v", err)
	}
	_, err = Load(nil, []string{"STREAMSYNC_REDIS__PASSWORD_FILE=" + write("empty", "\n")})
	if err == nil || !strings.Contains(err.Error(), "redis.password_file") {
		t.Fatalf("empty file: %v", err)
	}
}
