package profile

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/itchyny/gojq"
	"github.com/streamsync/streamsync/inbound"
)

// Webhook defaults (docs/partners.md, "Webhooks from a partner").
const (
	// DefaultMaxWebhookChanges bounds the changes one webhook may carry.
	DefaultMaxWebhookChanges = 1000
	// WebhookSchemeStandard is the Standard Webhooks signature
	// (webhook-id, webhook-timestamp, webhook-signature);
	// WebhookSchemeProfile the profile's own auth.hmac, checked on the
	// incoming request as it is computed on an outgoing one.
	WebhookSchemeStandard = "standard"
	WebhookSchemeProfile  = "profile"
)

// Webhooks is how the partner's webhooks turn into changes.
type Webhooks struct {
	// Changes is a jq program over the webhook's JSON body giving an array
	// of {entity, item}: item is the partner's record as its list returns
	// it, mapped to our shape by that entity's read.item program (so one
	// mapping serves reads, polls and webhooks). An item read.item maps as
	// deleted is a delete. null or [] is a webhook with no change.
	Changes string `yaml:"changes"`
	// Scheme is how a webhook proves it comes from the partner when the
	// partner's settings name none: standard (the default) or profile
	// (auth.hmac, which the profile must then have).
	Scheme string `yaml:"scheme"`
	// MaxChanges bounds one webhook's changes (default
	// DefaultMaxWebhookChanges); more is an error, nothing applied.
	MaxChanges int `yaml:"max_changes"`
}

type compiledWebhooks struct {
	changes    *gojq.Code
	scheme     string
	maxChanges int
}

// ErrNoWebhooks is WebhookChanges' error for a profile without a webhooks
// section.
var ErrNoWebhooks = errors.New("the profile has no webhooks section")

var webhookEntityRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// compileWebhooks checks the webhooks section; problems name the field
// under "webhooks". hm is the profile's auth.hmac; nil when its auth is
// not hmac.
func compileWebhooks(w *Webhooks, hm *compiledHMAC) (*compiledWebhooks, []problem) {
	if w == nil {
		return nil, nil
	}
	var ps []problem
	c := &compiledWebhooks{scheme: w.Scheme, maxChanges: w.MaxChanges}
	if w.Changes == "" {
		ps = append(ps, problem{"changes", "required: a jq program over the webhook's body giving [{entity, item}], e.g. '[.data | {entity, item: .}]'"})
	} else if code, err := compileJQ(w.Changes); err != nil {
		ps = append(ps, problem{"changes", "jq: " + err.Error()})
	} else {
		c.changes = code
	}
	switch c.scheme {
	case "":
		c.scheme = WebhookSchemeStandard
	case WebhookSchemeStandard:
	case WebhookSchemeProfile:
		switch {
		case hm == nil:
			ps = append(ps, problem{"scheme", "profile verifies a webhook by auth.hmac, and the profile's auth is not hmac"})
		case !hm.carriesTimestamp():
			ps = append(ps, problem{"scheme", "profile needs auth.hmac to send {timestamp} alone in a header or query parameter (hmac.headers or hmac.query), so that a webhook's age can be told"})
		}
	default:
		ps = append(ps, problem{"scheme", fmt.Sprintf("must be standard or profile, is %q", w.Scheme)})
	}
	if c.maxChanges == 0 {
		c.maxChanges = DefaultMaxWebhookChanges
	} else if c.maxChanges < 0 {
		ps = append(ps, problem{"max_changes", fmt.Sprintf("must be positive, is %d", w.MaxChanges)})
	}
	return c, ps
}

// WebhookScheme is the profile's webhooks.scheme: standard (also when the
// profile has no webhooks section) or profile.
func (p *Profile) WebhookScheme() string {
	if p.webhooks == nil {
		return WebhookSchemeStandard
	}
	return p.webhooks.scheme
}

// HasWebhooks reports whether the profile says how its webhooks map.
func (p *Profile) HasWebhooks() bool { return p.webhooks != nil && p.webhooks.changes != nil }

// WebhookChanges maps a webhook's JSON body to changes in our shape:
// webhooks.changes gives [{entity, item}], each item mapped by its
// entity's read.item (an entity without a read section is an error). At
// most max changes (0: webhooks.max_changes) are taken; more, a body that
// is not JSON, or any item that does not map is an error naming the
// change's index, and no change is returned. The caller bounds the body's
// size. Errors are ErrNoWebhooks or say what is wrong, never a secret.
func (p *Profile) WebhookChanges(body []byte, max int) ([]inbound.Change, error) {
	w := p.webhooks
	if w == nil || w.changes == nil {
		return nil, fmt.Errorf("profile %s: %w", p.Name, ErrNoWebhooks)
	}
	if max <= 0 {
		max = w.maxChanges
	}
	in, err := decodeJSON(body)
	if err != nil {
		return nil, errors.New("the body is not one JSON value")
	}
	v, ok, err := runOne(w.changes, in)
	if err != nil {
		return nil, fmt.Errorf("webhooks.changes: %w", err)
	}
	if !ok || v == nil {
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, fmt.Errorf("webhooks.changes: gave %s, not an array of {entity, item}", typeName(v))
	}
	if len(arr) > max {
		return nil, fmt.Errorf("webhooks.changes: %d changes, at most %d in one webhook", len(arr), max)
	}
	out := make([]inbound.Change, 0, len(arr))
	for i, x := range arr {
		c, err := p.webhookChange(x)
		if err != nil {
			return nil, fmt.Errorf("webhooks.changes[%d]: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// webhookChange maps one {entity, item} by the entity's read.item.
func (p *Profile) webhookChange(x any) (inbound.Change, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return inbound.Change{}, fmt.Errorf("is %s, not an object {entity, item}", typeName(x))
	}
	entity, ok := m["entity"].(string)
	if !ok || !webhookEntityRe.MatchString(entity) {
		return inbound.Change{}, fmt.Errorf("entity is %s, not a name of [a-z0-9_-]{1,64}", describe(m["entity"]))
	}
	cr, err := p.read(entity)
	if err != nil {
		return inbound.Change{}, fmt.Errorf("entity %s has no read section, so no read.item maps its records", entity)
	}
	if m["item"] == nil {
		return inbound.Change{}, fmt.Errorf("entity %s: no item", entity)
	}
	it, pe, pk, err := cr.mapItemParent(p.Versions(), m["item"])
	if err != nil {
		return inbound.Change{}, fmt.Errorf("entity %s: %w", entity, err)
	}
	c := inbound.Change{Entity: entity, Key: it.Key, Account: it.Account, Version: it.Version, Data: it.Data, Deleted: it.Deleted,
		ParentEntity: pe, ParentKey: pk}
	if c.Deleted {
		c.Data = nil
	}
	return c, nil
}

// describe is a short, bounded description of a value for an error.
func describe(v any) string {
	if s, ok := v.(string); ok {
		if len(s) > 64 {
			s = s[:64] + "…"
		}
		return fmt.Sprintf("%q", s)
	}
	return typeName(v)
}
