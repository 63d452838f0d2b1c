// Package partnersim is a partner API that speaks docs/partner-api.md completely
// (and a second, unlike API under /crm/: docs/partnersim-crm.md),
// with in-memory records, expiring client-credentials tokens, idempotency
// keys, and faults injected from options or at run time through /_sim/faults.
// cmd/partnersim serves it; tests start it in process over real HTTP.
package partnersim
