// Package delivery is what the deliver step and a partner sink share: the
// Answer a sink returns for one delivery of one event, and its Class; and
// the Guard a sink asks before each call, which the pipeline hands it in
// the context. The sink judges the partner's answer (package sinks/partner,
// Classify); the step decides what the event's step is (package handlers,
// Deliver). It imports nothing of streamsync, so a sink implements the
// step's Sender without knowing the handlers or the pipeline.
package delivery
