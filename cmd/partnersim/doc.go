// Package main is the partnersim command: it serves a simulated partner API
// (docs/partner-api.md) for tests, the demo and load runs.
package main
