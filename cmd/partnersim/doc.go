// Package main is the partnersim command: it serves a simulated partner API
// (contract §2) for tests, the demo and load runs.
package main
