// Package partnersim is a partner API that speaks docs/partner-api.md completely
// (and a second, unlike API under /crm/: docs/partnersim-crm.md),
// with in-memory records, expiring client-credentials tokens, idempotency
// keys, and faults injected from options or at run time through /_sim/faults.
// Beyond docs/partner-api.md it has POST /v1/{entity}/_bulk (bulk.go): many
// PUTs in one request, each answered and counted as its own PUT, for the
// bulk benchmark (docs/benchmarks.md, "Partner profiles"). For two-way
// sync (docs/partnersim.md) it echoes every write it applies back as a new
// change (echo*.go), takes changes made on its side (/_sim/change) and
// lists what changed since a time.
// cmd/partnersim serves it; tests start it in process over real HTTP.
package partnersim
