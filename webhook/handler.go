package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/inbound"
	"github.com/streamsync/streamsync/profile"
	"golang.org/x/time/rate"
)

// Pattern is the route the Handler serves (its {name} the partner).
const Pattern = "POST /v1/partners/{name}/webhooks"

// Handler serves Pattern for every configured partner.
type Handler struct {
	cfg      Config
	partners map[string]*partner
	seen     *seen
	metrics  *metrics
	warn     *rate.Sometimes
}

type partner struct {
	name     string
	profile  *profile.Profile
	verifier verifier
	seenKey  string
}

// New builds a Handler for cfg.Partners; rdb keeps the seen webhook-ids
// and is not closed by the Handler. Errors name the partner's setting and
// never hold a secret.
func New(cfg Config, rdb redis.UniversalClient) (*Handler, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, partners: map[string]*partner{}, warn: &rate.Sometimes{First: 1, Interval: 10 * time.Second}}
	var errs []error
	names := make([]string, 0, len(cfg.Partners))
	for name, p := range cfg.Partners {
		names = append(names, name)
		tolerance := p.Tolerance
		if tolerance == 0 {
			tolerance = DefaultTolerance
		}
		if cfg.SeenTTL < 2*tolerance {
			errs = append(errs, fmt.Errorf("partners.%s.webhooks: webhook-ids are remembered %s, less than twice the tolerance %s: a replay could be applied again", name, cfg.SeenTTL, tolerance))
		}
		scheme := p.Scheme
		if scheme == "" {
			scheme = p.Profile.WebhookScheme()
		}
		var v verifier
		switch scheme {
		case profile.WebhookSchemeStandard:
			s, err := newStandard(p.Secrets, tolerance, cfg.Now)
			if err != nil {
				errs = append(errs, fmt.Errorf("partners.%s.webhooks.%w", name, err))
				continue
			}
			v = s
		case profile.WebhookSchemeProfile:
			if !p.Profile.CanVerifyHMAC() {
				errs = append(errs, fmt.Errorf("partners.%s.webhooks.scheme: profile, and profile %s's auth is not hmac with a timestamp header", name, p.Profile.Name))
				continue
			}
			v = &byProfile{p: p.Profile, tolerance: tolerance, now: cfg.Now}
		default:
			errs = append(errs, fmt.Errorf("partners.%s.webhooks.scheme: must be standard or profile, is %q", name, scheme))
			continue
		}
		h.partners[name] = &partner{name: name, profile: p.Profile, verifier: v, seenKey: p.SeenKey}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(names)
	h.metrics = newMetrics(cfg.Registerer, names)
	h.seen = &seen{rdb: rdb, ttl: cfg.SeenTTL, claimTTL: cfg.ClaimTTL}
	return h, nil
}

// ServeHTTP takes one webhook (docs/partners.md, "Webhooks from a
// partner"): 404 for a partner not configured; 401 {"error"} for a
// missing or bad signature or a timestamp too far from now (checked on the
// headers before the body is read, where the scheme allows); 413 and 408
// for a body too large or too slow; 400 for a webhook-id too long or a
// verified body the profile cannot map; 200 {"duplicate":true} for a
// webhook-id applied before; 200 {"applied":N} once the changes are
// appended; 503 when they could not be (nothing is marked seen, so the
// partner's retry applies them) or while a copy of the same webhook-id is
// being applied.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.partners[r.PathValue("name")]
	if p == nil {
		h.metrics.refused.WithLabelValues(unknownPartner, ReasonUnknownPartner).Inc()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no partner of that name takes webhooks"})
		return
	}
	if err := p.verifier.check(r.Header, r.URL.RawQuery); err != nil {
		h.refused(w, r, p, "", err)
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.refused(w, r, p, "", err)
		return
	}
	ref, err := p.verifier.verify(r, body)
	if err != nil {
		h.refused(w, r, p, "", err)
		return
	}
	if len(ref) > MaxIDBytes {
		h.refused(w, r, p, "", refuse(ReasonBadWebhookID, fmt.Sprintf("the webhook-id is longer than %d bytes", MaxIDBytes)))
		return
	}
	changes, err := p.profile.WebhookChanges(body, 0)
	if err != nil {
		h.refused(w, r, p, ref, refuse(ReasonUnmapped, err.Error()))
		return
	}
	h.apply(w, r, p, ref, changes)
}

// apply claims ref, appends changes and marks ref applied, or releases it
// when the append failed.
func (h *Handler) apply(w http.ResponseWriter, r *http.Request, p *partner, ref string, changes []inbound.Change) {
	log := h.cfg.Logger.With("partner", p.name, "webhook_id", ref)
	key := p.seenKey + ":" + ref
	state, value, err := h.seen.claim(r.Context(), key)
	if err != nil {
		log.Error("webhook: could not check its webhook-id", "err", err)
		h.unavailable(w, p, outcomeAppendFailed, "could not check the webhook-id; send it again")
		return
	}
	switch state {
	case applied:
		h.metrics.received.WithLabelValues(p.name, outcomeDuplicate).Inc()
		writeJSON(w, http.StatusOK, map[string]any{"duplicate": true})
		return
	case inFlight:
		h.unavailable(w, p, outcomeInFlight, "this webhook-id is being applied; send it again")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.AppendTimeout)
	defer cancel()
	if len(changes) > 0 {
		if err := h.cfg.Appender.Append(ctx, p.name, inbound.ViaWebhook, ref, changes); err != nil {
			log.Error("webhook: could not append its changes; the partner is told to send it again", "changes", len(changes), "err", err)
			// the request's context may be over: the release must still go
			if rerr := h.seen.release(context.WithoutCancel(r.Context()), key, value); rerr != nil {
				log.Error("webhook: could not release its webhook-id; a retry is taken once the claim expires", "claim_ttl", h.cfg.ClaimTTL, "err", rerr)
			}
			h.unavailable(w, p, outcomeAppendFailed, "the changes could not be taken; send the webhook again")
			return
		}
	}
	if err := h.seen.done(context.WithoutCancel(r.Context()), key); err != nil {
		// The changes are in: a replay after the claim expires appends them
		// again under the same ref, the same event ids, skipped as duplicates.
		log.Warn("webhook: applied, but its webhook-id could not be marked so", "err", err)
	}
	h.metrics.received.WithLabelValues(p.name, outcomeApplied).Inc()
	h.metrics.changes.WithLabelValues(p.name).Add(float64(len(changes)))
	writeJSON(w, http.StatusOK, map[string]any{"applied": len(changes)})
}

func (h *Handler) unavailable(w http.ResponseWriter, p *partner, outcome, msg string) {
	h.metrics.received.WithLabelValues(p.name, outcome).Inc()
	w.Header().Set("Retry-After", "5")
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": msg})
}

// refused answers a refusal, counts it, records it and logs it (at most a
// line every 10 s). ref is the verified webhook-id; "" before the
// signature was checked, when the id sent (clipped) is recorded.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, p *partner, ref string, err error) {
	var rf *refusal
	if !errors.As(err, &rf) {
		rf = &refusal{ReasonUnmapped, err.Error()}
	}
	if ref == "" {
		ref = clip(r.Header.Get("webhook-id"), MaxIDBytes)
	}
	h.metrics.refused.WithLabelValues(p.name, rf.reason).Inc()
	if h.cfg.Recorder != nil {
		h.cfg.Recorder.Refused(r.Context(), p.name, ref, rf.Error())
	}
	h.warn.Do(func() {
		h.cfg.Logger.Warn("webhook refused (at most one such line every 10 s)", "partner", p.name, "webhook_id", ref,
			"reason", rf.reason, "detail", rf.detail, "remote", r.RemoteAddr)
	})
	status := http.StatusUnauthorized
	switch rf.reason {
	case ReasonUnmapped, ReasonBadWebhookID:
		status = http.StatusBadRequest
	case ReasonBodyTooLarge:
		status = http.StatusRequestEntityTooLarge
	case ReasonBodyTooSlow:
		status = http.StatusRequestTimeout
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Webhook")
	}
	writeJSON(w, status, map[string]string{"error": rf.Error()})
}

// clip cuts s to at most n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
