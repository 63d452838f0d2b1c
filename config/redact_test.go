package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// secretConfig is a Config with a recognisable secret in every setting
// that holds one.
func secretConfig() (Config, []string) {
	c := Config{}
	c.Redis = RedisConfig{Addr: "redis.example:6379", Username: "streamsync", Password: "REDIS-PW-41d2"}
	c.Sink = SinkConfig{BaseURL: "https://user:SINK-URL-PW-9c1e@partner.example", ClientID: "id", ClientSecret: "SINK-SECRET-77af"}
	c.ClickHouse = ClickHouseConfig{Addr: "ch.example:9440", Password: "CH-PW-5b3c"}
	c.Admin = AdminConfig{Addr: "127.0.0.1:8090", Token: "ADMIN-TOKEN-0e8d"}
	c.Ingest = IngestConfig{Addr: "127.0.0.1:8092", Tokens: []string{"crm:INGEST-TOKEN-a1b2", "billing: INGEST-TOKEN-c3d4"},
		CheckURL: "https://u:CHECK-URL-PW-66aa@producer.example/check"}
	c.Outbox = OutboxConfig{DSN: "postgres://relay:OUTBOX-PW-e4f5@db.example:5432/app?sslmode=verify-full"}
	c.Source = SourceConfig{Kind: "http", BaseURL: "https://src.example", TokenURL: "https://x:SRC-URL-PW-1f2e@src.example/oauth/token",
		ClientID: "src", ClientSecret: "SOURCE-SECRET-3c4d"}
	return c, []string{"REDIS-PW-41d2", "SINK-URL-PW-9c1e", "SINK-SECRET-77af", "CH-PW-5b3c", "ADMIN-TOKEN-0e8d", "INGEST-TOKEN-a1b2",
		"INGEST-TOKEN-c3d4", "CHECK-URL-PW-66aa", "OUTBOX-PW-e4f5", "SRC-URL-PW-1f2e", "SOURCE-SECRET-3c4d"}
}

// A Config, or any section of it, printed with %v, %+v, %s or %#v, or
// logged with slog's text or JSON handler, shows no secret — but still
// everything else (docs/security.md, "Secrets").
func TestConfigPrintsWithoutSecrets(t *testing.T) {
	c, secrets := secretConfig()
	values := map[string]any{"Config": c, "*Config": &c, "Redis": c.Redis, "Sink": c.Sink, "ClickHouse": c.ClickHouse, "Admin": c.Admin,
		"Ingest": c.Ingest, "Outbox": c.Outbox, "Source": c.Source}
	for name, v := range values {
		var outs []string
		for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var b bytes.Buffer
			slog.New(h(&b)).Info("config", "cfg", v)
			outs = append(outs, b.String())
		}
		for _, out := range outs {
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s shows %s: %s", name, s, out)
				}
			}
		}
	}
	all := fmt.Sprintf("%+v", c)
	for _, want := range []string{"redis.example:6379", "Username:streamsync", "partner.example", "crm:<redacted>", "billing:<redacted>",
		"postgres://relay:xxxxx@db.example:5432/app?sslmode=verify-full", "ClientID:src", "Password:<redacted>"} {
		if !strings.Contains(all, want) {
			t.Errorf("the dump lost %q: %s", want, all)
		}
	}
	if empty := fmt.Sprintf("%+v", Config{}); strings.Contains(empty, "<redacted>") {
		t.Errorf("an empty secret shows as redacted: %s", empty)
	}
}

func TestRedactDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u:pw-1234@db/x":              "postgres://u:xxxxx@db/x",
		"postgres://u@db/x":                      "postgres://u@db/x",
		"host=db password=pw-1234 user=u":        "host=db password=<redacted> user=u",
		"host=db PASSWORD = 'p w\\'1234' user=u": "host=db PASSWORD = <redacted> user=u",
		"postgres://u:pw%zz@db/x":                "postgres://<redacted>@db/x",
		"":                                       "",
	} {
		if got := RedactDSN(dsn); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// A URL setting that fails validation is named without its password.
func TestURLErrorsWithoutPassword(t *testing.T) {
	c, err := Load(nil, []string{"STREAMSYNC_SINK__BASE_URL=ftp://user:URL-PW-8e7d@partner.example/"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate(SectionSink)
	if err == nil || !strings.Contains(err.Error(), "sink.base_url") || strings.Contains(err.Error(), "URL-PW-8e7d") {
		t.Fatalf("error %v", err)
	}
}
