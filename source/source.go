package source

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamsync/streamsync/internal/apiclient"
)

// Kinds of source (docs/reconcile.md, source.kind).
const (
	KindNone = "none"
	KindHTTP = "http"
	KindFile = "file"
)

// Defaults of Config.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultPageSize = 1000
	DefaultRetries  = 4
)

// ErrNoSource is returned by every read of the none source: repair, backfill
// and op=sync need a real one (docs/reconcile.md).
var ErrNoSource = errors.New("no source configured (source.kind is none)")

// Ref names a record.
type Ref struct {
	Entity string `json:"entity"`
	Key    string `json:"key"`
}

// Record is one of our records as the source has it.
type Record struct {
	Entity  string          `json:"entity"`
	Key     string          `json:"key"`
	Account string          `json:"account"`
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data"`
	Parent  *Ref            `json:"parent,omitempty"`
}

// ListOptions narrow a listing.
type ListOptions struct {
	// Account lists one account's records; empty means every account.
	Account string
	// Cursor resumes a listing where an Iterator's Cursor said; empty
	// starts at the beginning.
	Cursor string
}

// Iterator streams one entity's records a page at a time.
type Iterator interface {
	// Next returns the next page of records (never empty), or io.EOF after
	// the last one. Any other error ends the listing.
	Next(ctx context.Context) ([]Record, error)
	// Cursor is where a new listing would continue after the pages returned
	// so far (ListOptions.Cursor); empty when at the beginning or the end.
	Cursor() string
}

// Source is our side of the records.
type Source interface {
	// Kind is KindHTTP, KindFile or KindNone.
	Kind() string
	// Entities are the entities to read: source.entities when set; for a
	// file, every entity in it; nil when the source cannot tell (http
	// without source.entities), in which case the caller uses the ledger's
	// entities (docs/reconcile.md).
	Entities(ctx context.Context) ([]string, error)
	// List streams one entity's records.
	List(entity string, opt ListOptions) Iterator
	// Get reads one record; found is false when the source does not have it.
	Get(ctx context.Context, entity, key string) (rec Record, found bool, err error)
	// Close releases what the source holds.
	Close() error
}

// Config configures a Source; the fields follow docs/operations.md's source.* keys.
type Config struct {
	Kind         string        // source.kind: none (default), http, file
	BaseURL      string        // source.base_url (http)
	TokenURL     string        // source.token_url; {base_url}/oauth/token when empty
	ClientID     string        // source.client_id; empty: no auth
	ClientSecret string        // source.client_secret
	Timeout      time.Duration // source.timeout, per request
	File         string        // source.file (file)
	Entities     []string      // source.entities
	// PageSize is the records asked for per list request (DefaultPageSize).
	PageSize int
	// Retries is how often a failed list page is asked again when the
	// failure is transient (DefaultRetries); Get never retries, its caller
	// decides.
	Retries int
	// MaxAnswer bounds the bytes read of one answer (DefaultMaxAnswer); a
	// longer answer is an error, never used in part.
	MaxAnswer int64
	// OnBadLine is told every file line that is not a record (line numbers
	// start at 1); by default it is logged as a warning.
	OnBadLine func(line int, err error)
	Now       func() time.Time
	Logger    *slog.Logger
	// TLS of the API and its token endpoint (http): a custom CA, a client
	// certificate (source.tls_*_file; docs/security.md, "Transport"); nil:
	// the system's roots.
	TLS *tls.Config
	// Label names this reader in errors and logs ("source" by default);
	// Setting is the prefix of the settings it was built from, named in
	// errors ("source" by default). The partner's read API, read with the
	// same code, is Label "partner", Setting "sink".
	Label, Setting string
}

// String never shows the client secret, nor a password in a URL: a Config
// printed with %v or %+v, or logged, is safe (docs/security.md, "Secrets").
func (c Config) String() string {
	type plain Config // without this method
	p := plain(c)
	p.BaseURL, p.TokenURL = apiclient.RedactURL(c.BaseURL), apiclient.RedactURL(c.TokenURL)
	if p.ClientSecret != "" {
		p.ClientSecret = apiclient.Redacted
	}
	return fmt.Sprintf("%+v", p)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return "source.Config" + c.String() }

// DefaultLabel and DefaultSetting are Config.Label and Config.Setting
// when empty.
const (
	DefaultLabel   = "source"
	DefaultSetting = "source"
)

func (c *Config) setDefaults() {
	if c.Label == "" {
		c.Label = DefaultLabel
	}
	if c.Setting == "" {
		c.Setting = DefaultSetting
	}
	if c.Kind == "" {
		c.Kind = KindNone
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Retries <= 0 {
		c.Retries = DefaultRetries
	}
	if c.MaxAnswer <= 0 {
		c.MaxAnswer = DefaultMaxAnswer
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.OnBadLine == nil {
		log := c.Logger
		file := c.File
		c.OnBadLine = func(line int, err error) {
			log.Warn("source file: line skipped", "file", file, "line", line, "err", err)
		}
	}
}

// Validate reports a setting the source cannot work with, naming it.
func (c Config) Validate() error {
	switch c.Kind {
	case KindNone:
	case KindHTTP:
		if err := absURL(c.BaseURL); err != nil {
			return fmt.Errorf("%s.base_url: %w", c.Setting, err)
		}
		if c.TokenURL != "" {
			if err := absURL(c.TokenURL); err != nil {
				return fmt.Errorf("%s.token_url: %w", c.Setting, err)
			}
		}
		if c.ClientID == "" && c.ClientSecret != "" {
			return fmt.Errorf("%[1]s.client_id: required when %[1]s.client_secret is set", c.Setting)
		}
	case KindFile:
		if c.File == "" {
			return errors.New("source.file: required when source.kind is file")
		}
	default:
		return fmt.Errorf("source.kind: must be none, http or file, is %q", c.Kind)
	}
	for _, e := range c.Entities {
		if !validEntity(e) {
			return fmt.Errorf("source.entities: %q is not an entity name ([a-z0-9_-]{1,64})", e)
		}
	}
	return nil
}

// New builds the source cfg.Kind names.
func New(cfg Config) (Source, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Kind {
	case KindHTTP:
		return newHTTP(cfg), nil
	case KindFile:
		return newFile(cfg)
	}
	return None{}, nil
}

// None is the source of source.kind none: it has no records to read.
type None struct{}

// Kind is KindNone.
func (None) Kind() string { return KindNone }

// Entities fails with ErrNoSource.
func (None) Entities(context.Context) ([]string, error) { return nil, ErrNoSource }

// List returns an iterator that fails with ErrNoSource.
func (None) List(string, ListOptions) Iterator { return errIterator{ErrNoSource} }

// Get fails with ErrNoSource.
func (None) Get(context.Context, string, string) (Record, bool, error) {
	return Record{}, false, ErrNoSource
}

// Close does nothing.
func (None) Close() error { return nil }

type errIterator struct{ err error }

func (e errIterator) Next(context.Context) ([]Record, error) { return nil, e.err }
func (errIterator) Cursor() string                           { return "" }
