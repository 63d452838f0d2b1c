package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/streamsync/streamsync/internal/layout"
)

// shardAnswer is `streamsync shard ACCOUNT --format json`.
type shardAnswer struct {
	Account string `json:"account"`
	Shard   int    `json:"shard"`  // 0 .. stream.shards-1
	Stream  string `json:"stream"` // the events stream to XADD to
}

// runShard is `streamsync shard ACCOUNT`: the name of the events stream a
// producer must XADD the account's events to, alone on one line (contract
// docs/scaling.md); with --format json, {"account","shard","stream"}. It needs no Redis:
// the rule is crc32(account) mod stream.shards. An empty account is an
// error (exit 2): no event has one.
func runShard(_ context.Context, e *env) error {
	if e.fs.NArg() != 1 {
		return errors.New("shard: want exactly one account, as in `streamsync shard acc-7`")
	}
	account := e.fs.Arg(0)
	if account == "" {
		return errors.New("shard: the account is empty; give the account of the events, as in `streamsync shard acc-7`")
	}
	shards := shardsOf(e.cfg)
	if e.format == "json" {
		return json.NewEncoder(e.out).Encode(shardAnswer{Account: account, Shard: layout.ShardOf(account, len(shards)),
			Stream: shards.Stream(account)})
	}
	_, err := fmt.Fprintln(e.out, shards.Stream(account))
	return err
}
