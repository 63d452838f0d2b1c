package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSecretFileBytes bounds a *_file setting's file: a secret, not a data set.
const maxSecretFileBytes = 1 << 20

// secretFiles pairs each *_file setting with the setting it fills.
func (c *Config) secretFiles() []struct {
	fileKey, key string
	file         string
	dst          *string
} {
	return []struct {
		fileKey, key string
		file         string
		dst          *string
	}{
		{"redis.password_file", "redis.password", c.Redis.PasswordFile, &c.Redis.Password},
		{"sink.client_secret_file", "sink.client_secret", c.Sink.ClientSecretFile, &c.Sink.ClientSecret},
		{"clickhouse.password_file", "clickhouse.password", c.ClickHouse.PasswordFile, &c.ClickHouse.Password},
		{"admin.token_file", "admin.token", c.Admin.TokenFile, &c.Admin.Token},
		{"source.client_secret_file", "source.client_secret", c.Source.ClientSecretFile, &c.Source.ClientSecret},
		{"outbox.dsn_file", "outbox.dsn", c.Outbox.DSNFile, &c.Outbox.DSN},
		{"ours.client_secret_file", "ours.client_secret", c.Ours.ClientSecretFile, &c.Ours.ClientSecret},
	}
}

// readSecretFiles reads every *_file setting into the setting it stands
// for (docs/security.md, "Secrets"): the file's content without its trailing
// line break. A setting given both ways, or a file that cannot be read, is a
// *FieldError naming the *_file key; the error never holds the secret.
// ingest.tokens_file's lines are appended to ingest.tokens.
func (c *Config) readSecretFiles() error {
	var errs []error
	files := c.secretFiles()
	// partners' entries are values in a map: read into copies, put back below
	partners := map[string]*PartnerConfig{}
	for _, name := range c.PartnerNames() {
		p := c.Partners[name]
		partners[name] = &p
		key := PartnersSection + "." + name + ".client_secret"
		files = append(files, struct {
			fileKey, key string
			file         string
			dst          *string
		}{key + "_file", key, p.ClientSecretFile, &partners[name].ClientSecret})
	}
	defer func() {
		for name, p := range partners {
			c.Partners[name] = *p
		}
	}()
	for _, s := range files {
		if s.file == "" {
			continue
		}
		if *s.dst != "" {
			errs = append(errs, &FieldError{Key: s.fileKey, Reason: "set together with " + s.key + "; give the secret one way"})
			continue
		}
		b, err := readBounded(s.file)
		if err != nil {
			errs = append(errs, &FieldError{Key: s.fileKey, Reason: err.Error()})
			continue
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			errs = append(errs, &FieldError{Key: s.fileKey, Reason: fmt.Sprintf("%s is empty", s.file)})
			continue
		}
		*s.dst = v
	}
	if f := c.Ingest.TokensFile; f != "" {
		b, err := readBounded(f)
		if err != nil {
			errs = append(errs, &FieldError{Key: "ingest.tokens_file", Reason: err.Error()})
		} else {
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				c.Ingest.Tokens = append(c.Ingest.Tokens, line)
			}
			if err := sc.Err(); err != nil {
				errs = append(errs, &FieldError{Key: "ingest.tokens_file", Reason: fmt.Sprintf("%s: %v", f, err)})
			}
		}
	}
	return errors.Join(errs...)
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxSecretFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxSecretFileBytes)
	}
	return b, nil
}

// Producer is one producer's ingest credential (docs/security.md).
type Producer struct {
	Name  string
	Token string
}

// String never shows the token.
func (p Producer) String() string { return p.Name + ":<redacted>" }

// Producers parses ingest.tokens ("name:token" each). Entries that do not
// parse are left out; Validate reports them.
func (i IngestConfig) Producers() []Producer {
	out := make([]Producer, 0, len(i.Tokens))
	for _, t := range i.Tokens {
		name, tok, ok := strings.Cut(t, ":")
		if !ok || name == "" || tok == "" {
			continue
		}
		out = append(out, Producer{Name: strings.TrimSpace(name), Token: strings.TrimSpace(tok)})
	}
	return out
}
