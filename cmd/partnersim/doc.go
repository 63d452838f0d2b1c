// Package main is the partnersim command: it serves a simulated partner API
// (docs/partner-api.md) and a second one under /crm/ (docs/partnersim-crm.md)
// for tests, the demo and load runs.
package main
