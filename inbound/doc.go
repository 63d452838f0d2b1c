// Package inbound carries changes that flow back from a partner to our own
// system (docs/partners.md, "Two-way sync"): the partner's records, mapped
// to our shape by its profile, become events of the partner's inbound
// stream, which a pipeline of their own delivers to our write API.
//
// Webhooks (package webhook) and polling (package poll) both hand their
// changes to an Appender; nothing else appends to an inbound stream.
package inbound
