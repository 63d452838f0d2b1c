package config

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/knadh/koanf/v2"
)

// PartnersSection is where several partners are configured, one entry
// each under its name (docs/partners.md, "Several partners").
const PartnersSection = "partners"

// PartnerConfig is one partner of partners.<name>: the sink settings of
// sink.* (but partner_name: the name is the entry's), which records it
// receives, and changes that flow back from it (webhooks, polling) with
// the conflict policy per entity.
type PartnerConfig struct {
	SinkConfig `koanf:",squash"`
	// MaxInFlight bounds this partner's events in flight (per shard); 0:
	// stream.max_in_flight. A partner catching up after an outage takes
	// as much of the machine as it is let: a lower bound leaves the others
	// theirs (docs/partners.md, "Several partners").
	MaxInFlight int            `koanf:"max_in_flight"`
	Route       RouteConfig    `koanf:"route"`
	Webhooks    WebhooksConfig `koanf:"webhooks"`
	Poll        PollConfig     `koanf:"poll"`
	// Conflict is the policy per entity when both sides changed a record
	// since they last agreed: ours, theirs, newest or manual; the entry
	// "default" is every other entity's (docs/partners.md, "Conflicts").
	Conflict map[string]string `koanf:"conflict"`
}

// RouteConfig says which events a partner receives: every one when all
// three lists are empty; otherwise an event must match each list that is
// set. Origins may hold "" for events that carry no origin.
type RouteConfig struct {
	Entities []string `koanf:"entities"`
	Accounts []string `koanf:"accounts"`
	Origins  []string `koanf:"origins"`
}

// WebhooksConfig verifies the webhooks a partner sends to
// POST /v1/partners/{name}/webhooks (docs/partners.md, "Webhooks from a
// partner"). Secrets are Standard Webhooks secrets ("whsec_…"), several
// for rotation; each may be "env:NAME" or "file:PATH".
type WebhooksConfig struct {
	Secrets []string `koanf:"secrets"`
	// Scheme is "standard" (Standard Webhooks) or "profile" (the
	// partner's profile's own HMAC).
	Scheme string `koanf:"scheme"`
	// Tolerance is how far a webhook's timestamp may be from now.
	Tolerance time.Duration `koanf:"tolerance"`
}

// On reports whether the partner's webhooks are taken.
func (w WebhooksConfig) On() bool { return len(w.Secrets) > 0 || w.Scheme == "profile" }

// PollConfig polls a partner's list for records changed since a cursor
// (docs/partners.md, "Polling a partner"); Every 0 is off.
type PollConfig struct {
	Every    time.Duration `koanf:"every"`
	Overlap  time.Duration `koanf:"overlap"`
	Entities []string      `koanf:"entities"`
}

// TwoWay reports whether changes flow back from the partner.
func (p PartnerConfig) TwoWay() bool { return p.Webhooks.On() || p.Poll.Every > 0 }

// ConflictPolicy is the policy for entity: its own, else "default", else
// DefaultConflict.
func (p PartnerConfig) ConflictPolicy(entity string) string {
	if c := p.Conflict[entity]; c != "" {
		return c
	}
	if c := p.Conflict["default"]; c != "" {
		return c
	}
	return DefaultConflict
}

// The conflict policies (docs/partners.md, "Conflicts").
const (
	ConflictOurs    = "ours"
	ConflictTheirs  = "theirs"
	ConflictNewest  = "newest"
	ConflictManual  = "manual"
	DefaultConflict = ConflictNewest
)

// partnerDefaults are the defaults of one partners.<name> entry, by key
// below the name; conflict.<entity> is the one setting whose last part is
// free.
var partnerDefaults = map[string]any{
	"profile":            "",
	"base_url":           "",
	"token_url":          "",
	"client_id":          "",
	"client_secret":      "",
	"client_secret_file": "",
	"timeout":            10 * time.Second,
	"rate_limit":         0.0,
	"tls_ca_file":        "",
	"tls_cert_file":      "",
	"tls_key_file":       "",
	"allow_http":         false,
	"max_in_flight":      0,
	"route.entities":     []string{},
	"route.accounts":     []string{},
	"route.origins":      []string{},
	"webhooks.secrets":   []string{},
	"webhooks.scheme":    "standard",
	"webhooks.tolerance": 5 * time.Minute,
	"poll.every":         time.Duration(0),
	"poll.overlap":       time.Minute,
	"poll.entities":      []string{},
}

var partnerNameRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// partnerKey splits partners.<name>.<rest>; ok is false for another key.
func partnerKey(key string) (name, rest string, ok bool) {
	r, ok := strings.CutPrefix(key, PartnersSection+".")
	if !ok {
		return "", "", false
	}
	name, rest, ok = strings.Cut(r, ".")
	return name, rest, ok && name != "" && rest != ""
}

// partnerDefault is the default of a partners.<name>.<rest> key; ok is
// false for a key no partner has.
func partnerDefault(rest string) (any, bool) {
	if d, ok := partnerDefaults[rest]; ok {
		return d, true
	}
	if e, ok := strings.CutPrefix(rest, "conflict."); ok && e != "" && !strings.Contains(e, ".") {
		return "", true
	}
	return nil, false
}

// defaultOf is the default of any key, a partner's included.
func defaultOf(key string) (any, bool) {
	if d, ok := defaults[key]; ok {
		return d, true
	}
	if _, rest, ok := partnerKey(key); ok {
		return partnerDefault(rest)
	}
	return nil, false
}

// partnerNames are the names of the partners entries in ko, sorted.
func partnerNames(ko *koanf.Koanf) []string {
	seen := map[string]bool{}
	for _, k := range ko.Keys() {
		if name, _, ok := partnerKey(k); ok {
			seen[name] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// fillPartnerDefaults sets every partner's unset keys to their defaults.
func fillPartnerDefaults(ko *koanf.Koanf) {
	for _, name := range partnerNames(ko) {
		for rest, d := range partnerDefaults {
			k := PartnersSection + "." + name + "." + rest
			if !ko.Exists(k) {
				_ = ko.Set(k, d)
			}
		}
	}
}

// PartnerNames are the names of the partners entries, sorted.
func (c Config) PartnerNames() []string { return slices.Sorted(maps.Keys(c.Partners)) }

// SinkConfigured reports whether the single partner of sink.* is
// configured (sink.base_url or sink.profile set); with partners entries
// it is optional.
func (c Config) SinkConfigured() bool { return c.Sink.BaseURL != "" || c.Sink.Profile != "" }

// validatePartners checks every partners entry and ours.*.
func (v *validator) partners(c Config) {
	for _, name := range c.PartnerNames() {
		p := c.Partners[name]
		key := func(k string) string { return PartnersSection + "." + name + "." + k }
		v.check(partnerNameRe.MatchString(name), PartnersSection+"."+name, fmt.Sprintf("a partner's name must be [a-z0-9_-]{1,64}, is %q", name))
		v.check(!c.SinkConfigured() || name != c.Sink.PartnerName, PartnersSection+"."+name,
			fmt.Sprintf("is the name of the partner of sink.* (sink.partner_name %q); give this one another name", c.Sink.PartnerName))
		for _, reserved := range []string{"reconcile", "backfill", OursName} {
			v.check(name != reserved, PartnersSection+"."+name, fmt.Sprintf("%q is reserved; give the partner another name", reserved))
		}
		profiled := p.UsesProfile()
		v.httpURL(key("base_url"), p.BaseURL, !profiled)
		if profiled {
			_, err := os.Stat(p.Profile)
			v.check(err == nil, key("profile"), fmt.Sprintf("must be %q (the built-in partner API) or a profile file: %v", BuiltInProfile, err))
		}
		v.httpURL(key("token_url"), p.TokenURL, false)
		v.check(p.ClientID != "" || p.ClientSecret == "", key("client_id"), "required when "+key("client_secret")+" is set")
		v.check(p.Timeout > 0, key("timeout"), "must be more than 0")
		v.check(p.RateLimit >= 0, key("rate_limit"), "must be 0 (no limit) or more")
		v.check(p.MaxInFlight >= 0, key("max_in_flight"), fmt.Sprintf("must be 0 (stream.max_in_flight) or more, is %d", p.MaxInFlight))
		v.plainHTTP(key("base_url"), p.BaseURL, p.AllowHTTP)
		v.plainHTTP(key("token_url"), p.TokenURL, p.AllowHTTP)
		v.tlsFiles(PartnersSection+"."+name, p.TLSFiles())
		for _, e := range p.Route.Entities {
			v.check(entityRe.MatchString(e), key("route.entities"), fmt.Sprintf("%q is not an entity name ([a-z0-9_-]{1,64})", e))
		}
		v.check(slices.Contains([]string{"standard", "profile"}, p.Webhooks.Scheme), key("webhooks.scheme"),
			fmt.Sprintf("must be standard or profile, is %q", p.Webhooks.Scheme))
		for i, s := range p.Webhooks.Secrets {
			ok := strings.HasPrefix(s, "whsec_") || strings.HasPrefix(s, "env:") || strings.HasPrefix(s, "file:")
			v.check(ok, key("webhooks.secrets"), fmt.Sprintf("entry %d must be a Standard Webhooks secret (whsec_…), env:NAME or file:PATH", i+1))
		}
		v.check(p.Webhooks.Tolerance >= time.Second, key("webhooks.tolerance"), fmt.Sprintf("must be at least 1s, is %s", p.Webhooks.Tolerance))
		v.check(!p.Webhooks.On() || c.Ingest.Addr != "", key("webhooks"), "needs ingest.addr: webhooks arrive at the ingest")
		v.check(p.Poll.Every == 0 || p.Poll.Every >= time.Second, key("poll.every"), fmt.Sprintf("must be 0 (off) or at least 1s, is %s", p.Poll.Every))
		v.check(p.Poll.Overlap >= 0, key("poll.overlap"), fmt.Sprintf("must be 0 or more, is %s", p.Poll.Overlap))
		for _, e := range p.Poll.Entities {
			v.check(entityRe.MatchString(e), key("poll.entities"), fmt.Sprintf("%q is not an entity name ([a-z0-9_-]{1,64})", e))
		}
		for e, pol := range p.Conflict {
			v.check(slices.Contains([]string{ConflictOurs, ConflictTheirs, ConflictNewest, ConflictManual}, pol), key("conflict."+e),
				fmt.Sprintf("must be ours, theirs, newest or manual, is %q", pol))
		}
		v.check(!p.TwoWay() || c.Ours.BaseURL != "" || c.Ours.UsesProfile(), key("webhooks"),
			"changes from a partner are delivered to our own write API: set ours.base_url (and ours.profile when it is not the built-in API)")
	}
	if c.Ours.BaseURL != "" || c.Ours.UsesProfile() {
		o := c.Ours
		v.httpURL("ours.base_url", o.BaseURL, !o.UsesProfile())
		if o.UsesProfile() {
			_, err := os.Stat(o.Profile)
			v.check(err == nil, "ours.profile", fmt.Sprintf("must be %q (the built-in API) or a profile file: %v", BuiltInProfile, err))
		}
		v.httpURL("ours.token_url", o.TokenURL, false)
		v.check(o.ClientID != "" || o.ClientSecret == "", "ours.client_id", "required when ours.client_secret is set")
		v.check(o.Timeout > 0, "ours.timeout", "must be more than 0")
		v.plainHTTP("ours.base_url", o.BaseURL, o.AllowHTTP)
		v.tlsFiles("ours", o.TLSFiles())
	}
}

// OursName is the name changes delivered to our own system are recorded
// under (the partner column of their attempt rows is "<partner>:in"; their
// events' origin is the partner's name).
const OursName = "ours"
