// Package admin serves the operator surface over HTTP: /healthz, /readyz and
// /metrics in the open, and the /api/ endpoints behind the admin token.
package admin
