// Package admin serves the operator surface over HTTP: /healthz, /readyz and
// /metrics in the open, and the /api/ endpoints and the console behind the
// admin rules of docs/security.md ("Admin"): the token when one is set,
// loopback only without one, the Host and Origin checks and JSON-only
// state changes — with every answer bounded.
package admin
