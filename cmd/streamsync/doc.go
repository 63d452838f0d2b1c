// Package main is the streamsync command. It keeps a partner's copy of our
// records in line with ours: it consumes change events from a Redis stream
// and delivers them to the partner's HTTP API. Subcommands: run, status,
// dead, chains, produce.
package main
