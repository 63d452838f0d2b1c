// Package loadtest drives streamsync with vegeta and k6 scenarios and writes
// the report of a load run.
package loadtest
