package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/pipeline"
)

func ledgerFlags(fs *pflag.FlagSet) {
	fs.String("account", "", "the record's account: look in its shard only (without it, every shard)")
	fs.String("version", "", "set: the version the ledger is to hold")
	partnerFlag(fs)
}

// runLedger is `streamsync ledger get|set|drop ENTITY KEY [--account A]
// [--version N]`: shows and mends the ledger's entry of one record, e.g. one
// pushed too high (docs/operations.md, "Mending the ledger").
func runLedger(ctx context.Context, e *env) error {
	action, entity, key, err := recordArgs(e, "ledger", "streamsync ledger get main_registration r-42")
	if err != nil {
		return err
	}
	account, _ := e.fs.GetString("account")
	vs, _ := e.fs.GetString("version")
	var version int64
	switch action {
	case "get", "drop":
		if vs != "" {
			return fmt.Errorf("ledger %s: --version is for set", action)
		}
	case "set":
		v, err := strconv.ParseInt(vs, 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("ledger set: --version wants a whole number from 0 to 9223372036854775807, not %q", vs)
		}
		version = v
	}
	pl, err := cliPartner(e)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	rdb, err := connectRedis(ctx, e.cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	ops := pipeline.LedgerOps{RDB: rdb, Shards: pl.shards} // the partner's ledger
	switch action {
	case "get":
		items, err := ops.Get(ctx, entity, key, account)
		if err != nil {
			return err
		}
		return printLedger(e, items, len(ops.Shards), account)
	case "set":
		before, after, err := ops.Set(ctx, entity, key, account, version)
		if err != nil {
			return fmt.Errorf("ledger set: %w", err)
		}
		was := "none"
		if before != nil {
			was = strconv.FormatInt(before.Version, 10)
		}
		e.log.Info("ledger entry set", "partner", pl.name, "entity", entity, "key", key, "shard", after.Shard, "version_before", was, "version", after.Version)
		if e.format == "json" {
			return json.NewEncoder(e.out).Encode(map[string]any{"before": before, "after": after})
		}
		_, err = fmt.Fprintf(e.out, "%s %s in shard %d: version %s → %d\n", entity, quoteKey(key), after.Shard, was, after.Version)
		return err
	default: // drop
		gone, err := ops.Drop(ctx, entity, key, account)
		if err != nil {
			return fmt.Errorf("ledger drop: %w", err)
		}
		e.log.Info("ledger entry dropped", "partner", pl.name, "entity", entity, "key", key, "shard", gone.Shard, "version", gone.Version)
		if e.format == "json" {
			return json.NewEncoder(e.out).Encode(map[string]any{"dropped": gone})
		}
		_, err = fmt.Fprintf(e.out, "%s %s in shard %d: dropped (was version %d)\n", entity, quoteKey(key), gone.Shard, gone.Version)
		return err
	}
}

// printLedger prints `ledger get`: {"items":[…]} as JSON, or a table (a
// line saying so when there is no entry).
func printLedger(e *env, items []pipeline.LedgerEntry, shards int, account string) error {
	if done, err := printFound(e, items, shards, account, "the ledger"); done {
		return err
	}
	tw := newTable(e.out)
	fmt.Fprintln(tw, "SHARD\tENTITY\tKEY\tACCOUNT\tVERSION\tDELETED\tEVENT_ID\tHASH")
	for _, it := range items {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%t\t%s\t%s\n", it.Shard, it.Entity, quoteKey(it.Key), quoteKey(it.Account), it.Version, it.Deleted, quoteKey(it.EventID), it.Hash)
	}
	return tw.Flush()
}

// quoteKey is a key as a table shows it: quoted when it holds a space, a
// tab or another control character, as is otherwise.
func quoteKey(k string) string {
	if k == "" || strings.IndexFunc(k, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return strconv.Quote(k)
	}
	return k
}
