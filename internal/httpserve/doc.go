// Package httpserve runs an HTTP server in the background with an
// idempotent, bounded stop and bounded resources (timeouts for slow headers,
// slow bodies, slow readers and idle connections; a cap on header bytes and
// concurrent connections), and writes JSON answers; the admin and ingest
// servers use it.
package httpserve
