// Package apiclient is the HTTP plumbing shared by everything that calls a
// docs/partner-api.md API (the partner sink, the source): a client-credentials token
// cache and an HTTP client that never follows redirects.
package apiclient
