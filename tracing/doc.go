// Package tracing follows an event through the pipeline with OpenTelemetry:
// one span per step (validate, loop, ledger, gate, deliver, and the partner
// HTTP call as a child of deliver), continued across parking and retries by
// the trace context an event carries in its re-entry fields.
package tracing
