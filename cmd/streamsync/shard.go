package main

import (
	"context"
	"errors"
	"fmt"
)

// runShard is `streamsync shard ACCOUNT`: the name of the events stream a
// producer must XADD the account's events to, alone on one line (contract
// §9). It needs no Redis: the rule is crc32(account) mod stream.shards.
func runShard(_ context.Context, e *env) error {
	if e.fs.NArg() != 1 {
		return errors.New("shard: want exactly one account, as in `streamsync shard acc-7`")
	}
	_, err := fmt.Fprintln(e.out, shardsOf(e.cfg).Stream(e.fs.Arg(0)))
	return err
}
