// Package webhook takes a partner's webhooks (docs/partners.md, "Webhooks
// from a partner"): POST /v1/partners/{name}/webhooks, verified by the
// Standard Webhooks signature or by the partner profile's own HMAC, mapped
// to changes by the profile, and handed to an inbound.Appender. A
// webhook-id already applied is answered 200 and not applied again; an
// unsigned, badly signed or stale webhook is answered 401, counted and
// recorded, never applied.
package webhook
