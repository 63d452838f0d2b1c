// Package demo makes the conference-registration story that
// `streamsync produce` appends to the events stream and the load tests send:
// entries as a producer writes them, out of order, with echoes and a few
// malformed ones, and the partner's state once all have been handled.
package demo
