package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces a secret wherever a setting is shown.
const redacted = "<redacted>"

// Every type that holds a secret prints and logs without it: %v, %+v, %s
// and %#v (String, GoString) and slog (LogValue) show "<redacted>" for a
// password, a client secret, a token, an ingest token (its producer's name
// stays) and the password of a URL or DSN (docs/security.md, "Secrets").
// A setting that is empty stays empty, so a dump still tells set from unset.

func (c Config) String() string       { type plain Config; return fmt.Sprintf("%+v", plain(c)) }
func (c Config) GoString() string     { return "config.Config" + c.String() }
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c RedisConfig) String() string       { return show(c.redacted()) }
func (c RedisConfig) GoString() string     { return "config.RedisConfig" + c.String() }
func (c RedisConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c SinkConfig) String() string       { return show(c.redacted()) }
func (c SinkConfig) GoString() string     { return "config.SinkConfig" + c.String() }
func (c SinkConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c ClickHouseConfig) String() string       { return show(c.redacted()) }
func (c ClickHouseConfig) GoString() string     { return "config.ClickHouseConfig" + c.String() }
func (c ClickHouseConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c AdminConfig) String() string       { return show(c.redacted()) }
func (c AdminConfig) GoString() string     { return "config.AdminConfig" + c.String() }
func (c AdminConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c IngestConfig) String() string       { return show(c.redacted()) }
func (c IngestConfig) GoString() string     { return "config.IngestConfig" + c.String() }
func (c IngestConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c OutboxConfig) String() string       { return show(c.redacted()) }
func (c OutboxConfig) GoString() string     { return "config.OutboxConfig" + c.String() }
func (c OutboxConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c SourceConfig) String() string       { return show(c.redacted()) }
func (c SourceConfig) GoString() string     { return "config.SourceConfig" + c.String() }
func (c SourceConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c PartnerConfig) String() string       { return show(c.redacted()) }
func (c PartnerConfig) GoString() string     { return "config.PartnerConfig" + c.String() }
func (c PartnerConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c PartnerConfig) redacted() any {
	type plain struct {
		Sink     any
		Route    RouteConfig
		Webhooks WebhooksConfig
		Poll     PollConfig
		Conflict map[string]string
	}
	w := c.Webhooks
	w.Secrets = make([]string, len(c.Webhooks.Secrets))
	for i, s := range c.Webhooks.Secrets {
		if strings.HasPrefix(s, "env:") || strings.HasPrefix(s, "file:") {
			w.Secrets[i] = s // where the secret is, not the secret
		} else {
			w.Secrets[i] = mask(s)
		}
	}
	return plain{Sink: c.SinkConfig.redacted(), Route: c.Route, Webhooks: w, Poll: c.Poll, Conflict: c.Conflict}
}

func show(v any) string { return fmt.Sprintf("%+v", v) }

func (c RedisConfig) redacted() any {
	type plain RedisConfig
	p := plain(c)
	p.Password = mask(p.Password)
	p.SentinelPassword = mask(p.SentinelPassword)
	return p
}

func (c SinkConfig) redacted() any {
	type plain SinkConfig
	p := plain(c)
	p.ClientSecret = mask(p.ClientSecret)
	p.BaseURL, p.TokenURL = RedactURL(p.BaseURL), RedactURL(p.TokenURL)
	return p
}

func (c ClickHouseConfig) redacted() any {
	type plain ClickHouseConfig
	p := plain(c)
	p.Password = mask(p.Password)
	return p
}

func (c AdminConfig) redacted() any {
	type plain AdminConfig
	p := plain(c)
	p.Token = mask(p.Token)
	return p
}

func (c IngestConfig) redacted() any {
	type plain IngestConfig
	p := plain(c)
	p.Tokens = make([]string, len(c.Tokens))
	for i, t := range c.Tokens {
		name, _, _ := strings.Cut(t, ":")
		p.Tokens[i] = strings.TrimSpace(name) + ":" + redacted
	}
	p.CheckURL = RedactURL(p.CheckURL)
	return p
}

func (c OutboxConfig) redacted() any {
	type plain OutboxConfig
	p := plain(c)
	p.DSN = RedactDSN(p.DSN)
	return p
}

func (c SourceConfig) redacted() any {
	type plain SourceConfig
	p := plain(c)
	p.ClientSecret = mask(p.ClientSecret)
	p.BaseURL, p.TokenURL = RedactURL(p.BaseURL), RedactURL(p.TokenURL)
	return p
}

func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}

// RedactURL is raw with the password of its user info replaced
// (url.URL.Redacted); a URL that does not parse but seems to hold user
// info loses all of it.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i, j := strings.Index(raw, "://"), strings.LastIndex(raw, "@"); i >= 0 && j > i {
			return raw[:i+3] + redacted + raw[j:]
		}
		return raw
	}
	if u.User == nil {
		return raw
	}
	return u.Redacted()
}

// dsnPassword matches the password of a key/value DSN
// ("host=db password=s3cret" or password='s 3cret').
var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// RedactDSN is a PostgreSQL DSN (URL or key/value form) without its
// password.
func RedactDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		return RedactURL(dsn)
	}
	return dsnPassword.ReplaceAllString(dsn, "${1}"+redacted)
}
