package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/internal/layout"
)

func idmapFlags(fs *pflag.FlagSet) {
	fs.String("account", "", "the record's account: look in its shard only (without it, every shard)")
	fs.String("id", "", "set: the partner's id of the record")
	fs.Bool("json", false, "the same as --format json")
	partnerFlag(fs)
}

// runIDMap is `streamsync idmap get|set|drop ENTITY KEY [--account A] [--id
// ID]`: shows and mends the id map's entry of one record of a partner that
// assigns ids (docs/operations.md, "The id map").
func runIDMap(ctx context.Context, e *env) error {
	action, entity, key, err := recordArgs(e, "idmap", "streamsync idmap get contact r-42")
	if err != nil {
		return err
	}
	if j, _ := e.fs.GetBool("json"); j {
		e.format = "json"
	}
	account, _ := e.fs.GetString("account")
	id, _ := e.fs.GetString("id")
	switch action {
	case "get", "drop":
		if id != "" {
			return fmt.Errorf("idmap %s: --id is for set", action)
		}
	case "set":
		if id == "" {
			return errors.New("idmap set: --id wants the partner's id of the record")
		}
	}
	pl, err := cliPartner(e)
	if err != nil {
		return fmt.Errorf("idmap: %w", err)
	}
	rdb, err := connectRedis(ctx, e.cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := layout.NewIDMapStore(rdb, pl.shards) // the partner's id map
	switch action {
	case "get":
		items, err := store.Raw(ctx, entity, key, account)
		if err != nil {
			return err
		}
		return printIDMap(e, items, len(pl.shards), account)
	case "set":
		before, after, err := store.Set(ctx, entity, key, account, id)
		if err != nil {
			return fmt.Errorf("idmap set: %w", err)
		}
		was := "none"
		if before != nil {
			was = before.Value
		}
		e.log.Info("id map entry set", "partner", pl.name, "entity", entity, "key", key, "shard", after.Shard, "before", was, "partner_id", id)
		if e.format == "json" {
			return json.NewEncoder(e.out).Encode(map[string]any{"before": before, "after": after})
		}
		_, err = fmt.Fprintf(e.out, "%s %s in shard %d: %s → %s\n", entity, quoteKey(key), after.Shard, quoteKey(was), quoteKey(after.Value))
		return err
	default: // drop
		gone, err := store.Drop(ctx, entity, key, account)
		if err != nil {
			return fmt.Errorf("idmap drop: %w", err)
		}
		e.log.Info("id map entry dropped", "partner", pl.name, "entity", entity, "key", key, "shard", gone.Shard, "value", gone.Value)
		if e.format == "json" {
			return json.NewEncoder(e.out).Encode(map[string]any{"dropped": gone})
		}
		_, err = fmt.Fprintf(e.out, "%s %s in shard %d: dropped (was %s)\n", entity, quoteKey(key), gone.Shard, quoteKey(gone.Value))
		return err
	}
}

// printIDMap prints `idmap get`: {"items":[…]} as JSON, or a table (a line
// saying so when there is no entry).
func printIDMap(e *env, items []layout.IDMapEntry, shards int, account string) error {
	if done, err := printFound(e, items, shards, account, "the id map"); done {
		return err
	}
	tw := newTable(e.out)
	fmt.Fprintln(tw, "SHARD\tENTITY\tKEY\tSTATE\tPARTNER_ID\tVERSION\tUNTIL\tEVENT_ID\tVALUE")
	for _, it := range items {
		state, until := string(it.Kind), ""
		if it.Error != "" {
			state = "unreadable"
		}
		if !it.Until.IsZero() {
			until = it.Until.Format(time.RFC3339Nano)
		}
		ver := ""
		if it.Version != 0 || it.Kind == "gone" {
			ver = fmt.Sprint(it.Version)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Shard, it.Entity, quoteKey(it.Key), state,
			idmapCell(it.ID), idmapCell(ver), idmapCell(until), idmapCell(it.EventID), quoteKey(it.Value))
	}
	return tw.Flush()
}

// idmapCell is a table cell: "-" when empty, else as quoteKey shows it.
func idmapCell(s string) string {
	if s == "" {
		return "-"
	}
	return quoteKey(s)
}
