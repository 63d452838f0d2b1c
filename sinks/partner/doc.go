// Package partner is the HTTP sink that delivers events to the partner API
// of docs/partner-api.md: client-credentials tokens, idempotency keys, one
// classification of every answer, and a circuit breaker.
package partner
