// Package ingest is the HTTP ingest endpoint of contract §1: POST /v1/events
// takes one event or an array of them, validates them with the event
// package, and appends a valid batch to the events stream in one atomic
// pipelined call before it answers 202.
package ingest
