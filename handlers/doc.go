// Package handlers holds the steps every event passes through — validate,
// loop filter, ledger guard, dependency gate, deliver — one small function
// per file, each declaring the narrow interface it needs, and their order,
// in one place (NewSteps).
package handlers
