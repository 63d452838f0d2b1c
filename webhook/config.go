package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamsync/streamsync/inbound"
	"github.com/streamsync/streamsync/profile"
)

// Defaults (docs/partners.md, "Webhooks from a partner").
const (
	// DefaultTolerance is how far a webhook's timestamp may be from now,
	// either way (the Standard Webhooks' five minutes).
	DefaultTolerance = 5 * time.Minute
	// DefaultMaxBodyBytes bounds a webhook's body; more is answered 413.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultReadTimeout bounds the time a webhook's body takes to arrive,
	// whatever its size; slower is answered 408.
	DefaultReadTimeout = 10 * time.Second
	// DefaultAppendTimeout bounds the append of one webhook's changes.
	DefaultAppendTimeout = 30 * time.Second
	// DefaultSeenTTL is how long an applied webhook-id is remembered; never
	// less than twice the tolerance, so that a replay still signed fresh
	// enough to pass is always recognised.
	DefaultSeenTTL = time.Hour
	// MaxIDBytes bounds a webhook-id.
	MaxIDBytes = 256
)

// Recorder records a refused webhook (the lead's attempt row): the
// partner, the webhook-id it carried (clipped to MaxIDBytes; "" when none)
// and why, as "<reason>: <detail>" where reason is the label of
// streamsync_webhooks_refused_total. It never sees the body or a secret.
type Recorder interface {
	Refused(ctx context.Context, partner, webhookID, reason string)
}

// Partner is one partner's webhooks.
type Partner struct {
	// Profile maps the webhook's body (its webhooks section) and, for the
	// profile scheme, verifies it (its auth.hmac).
	Profile *profile.Profile
	// Secrets verify the standard scheme: each "whsec_" + base64 of the
	// key (partners.<name>.webhooks.secrets). Several are allowed while a
	// secret is rotated: a signature made with any of them is good.
	Secrets []string
	// Scheme is standard or profile; empty: the profile's
	// webhooks.scheme (standard when it names none).
	Scheme string
	// Tolerance is how far the webhook's timestamp may be from now, either
	// way (DefaultTolerance).
	Tolerance time.Duration
	// SeenKey is the Redis key prefix under which the partner's webhook-ids
	// are remembered: an id's key is SeenKey + ":" + id. Required.
	SeenKey string
}

// Config configures a Handler.
type Config struct {
	// Partners are the partners whose webhooks are taken, by name (the
	// {name} of the URL); any other name is answered 404.
	Partners map[string]Partner
	// Appender takes a webhook's changes (inbound.ViaWebhook, the
	// webhook-id as ref). Required.
	Appender inbound.Appender
	// Recorder records refusals; nil: they are counted and logged only.
	Recorder Recorder
	// MaxBodyBytes, ReadTimeout and AppendTimeout bound one webhook
	// (DefaultMaxBodyBytes, DefaultReadTimeout, DefaultAppendTimeout).
	MaxBodyBytes  int64
	ReadTimeout   time.Duration
	AppendTimeout time.Duration
	// SeenTTL is how long an applied webhook-id is remembered
	// (DefaultSeenTTL, and at least twice a partner's tolerance).
	SeenTTL time.Duration
	// ClaimTTL is how long a webhook-id being applied is held against a
	// concurrent copy of it (AppendTimeout + 30s): a process that dies
	// while appending lets the partner's retry through after it.
	ClaimTTL time.Duration
	// Registerer takes the metrics; nil: not registered.
	Registerer prometheus.Registerer
	// Now is the clock timestamps are judged by (time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.AppendTimeout <= 0 {
		c.AppendTimeout = DefaultAppendTimeout
	}
	if c.SeenTTL <= 0 {
		c.SeenTTL = DefaultSeenTTL
	}
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = c.AppendTimeout + 30*time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// validate checks c after setDefaults; errors name the partner and the
// setting, never a secret.
func (c *Config) validate() error {
	var errs []error
	if c.Appender == nil {
		errs = append(errs, errors.New("webhook: an appender is required"))
	}
	if c.ClaimTTL <= c.AppendTimeout {
		errs = append(errs, fmt.Errorf("webhook: the claim TTL %s must be longer than the append timeout %s", c.ClaimTTL, c.AppendTimeout))
	}
	for name, p := range c.Partners {
		at := "partners." + name + ".webhooks"
		if p.Profile == nil {
			errs = append(errs, fmt.Errorf("%s: the partner has no profile", at))
		} else if !p.Profile.HasWebhooks() {
			errs = append(errs, fmt.Errorf("%s: profile %s has no webhooks section, so its webhooks cannot be mapped (docs/partners.md, \"Webhooks from a partner\")", at, p.Profile.Name))
		}
		if p.SeenKey == "" {
			errs = append(errs, fmt.Errorf("%s: no key for seen webhook-ids", at))
		}
		if p.Tolerance < 0 {
			errs = append(errs, fmt.Errorf("%s.tolerance: must be positive, is %s", at, p.Tolerance))
		}
	}
	return errors.Join(errs...)
}
