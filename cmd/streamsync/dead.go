package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/streamsync/streamsync/event"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/streamsync/streamsync/inspect"
)

func deadFlags(fs *pflag.FlagSet) {
	fs.StringArray("id", nil, "event id (or dead-letter entry id); repeatable")
	fs.String("reason", "", "dead_reason: invalid, parent_missing, rejected, exhausted, unconfirmed or conflict")
	fs.String("account", "", "only this account's")
	fs.Bool("all", false, "every dead letter")
	fs.Int("limit", 100, "list: at most this many")
	fs.String("cursor", "", "list: continue after this dead-letter entry id")
	fs.String("take", "", "replay: settle conflict dead letters with ours or theirs (a two-way partner's, docs/partners.md)")
	partnerFlag(fs)
}

var pastTense = map[string]string{"replay": "replayed", "drop": "dropped"}

// missingIDs returns the ids (event ids or dead-letter entry ids) that name
// no dead letter, in the order given.
func missingIDs(ctx context.Context, ops *inspect.Inspector, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return []string{}, nil
	}
	found := map[string]bool{}
	cursor := ""
	for {
		page, next, err := ops.ListDead(ctx, inspect.DeadFilter{IDs: ids}, cursor, 500)
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			found[d.EventID], found[d.DeadID] = true, true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	missing := []string{}
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// runDead is `streamsync dead list|replay|drop`.
func runDead(ctx context.Context, e *env) error {
	action := e.fs.Arg(0)
	ids, _ := e.fs.GetStringArray("id")
	reason, _ := e.fs.GetString("reason")
	account, _ := e.fs.GetString("account")
	all, _ := e.fs.GetBool("all")
	limit, _ := e.fs.GetInt("limit")
	cursor, _ := e.fs.GetString("cursor")
	f := inspect.DeadFilter{IDs: ids, Reason: reason, Account: account, All: all}
	if action != "list" && action != "replay" && action != "drop" {
		return fmt.Errorf("dead: want list, replay or drop, not %q", action)
	}
	configured, _ := cliPlans(e)
	plans, err := selectedPlans(e)
	if err != nil {
		return err
	}
	if action != "list" && len(plans) > 1 {
		if _, err := cliPartner(e); err != nil {
			return fmt.Errorf("dead %s: %w", action, err)
		}
	}
	rdb, err := connectRedis(ctx, e.cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	inspectors := make([]*inspect.Inspector, len(plans))
	for i, pl := range plans {
		// each partner's key sets: a replay goes back to its own partner
		// alone (their Target, _ss_for)
		inspectors[i] = inspect.New(inspect.Options{RDB: rdb, Shards: deadShards(pl), Instance: "cli", AttemptLog: e.cfg.ClickHouse.Addr != "",
			Partner: partnerLabel(configured, pl)})
	}
	ops := inspectors[0]
	switch action {
	case "list":
		if limit < 1 || limit > 1000 {
			return fmt.Errorf("dead list: --limit must be 1 to 1000, is %d (page on with --cursor)", limit)
		}
		items, next, err := listDead(ctx, plans, inspectors, f, cursor, limit)
		if err != nil {
			return err
		}
		if e.format == "json" {
			if items == nil {
				items = []inspect.DeadLetter{}
			}
			return json.NewEncoder(e.out).Encode(map[string]any{"items": items, "next_cursor": next})
		}
		tw := newTable(e.out)
		several := len(configured) > 1
		if several {
			fmt.Fprint(tw, "PARTNER\t")
		}
		fmt.Fprintln(tw, "DEAD_AT\tID\tACCOUNT\tENTITY\tKEY\tREASON\tATTEMPTS\tERROR")
		for _, d := range items {
			if several {
				fmt.Fprintf(tw, "%s\t", d.Partner)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", time.UnixMilli(d.At).UTC().Format(time.DateTime), d.EventID, d.Account,
				d.Fields[event.FieldEntity], d.Fields[event.FieldKey], d.Reason, d.Attempts, d.Error)
		}
		if next != "" {
			fmt.Fprintf(tw, "more: --cursor %s\n", next)
		}
		return tw.Flush()
	case "replay", "drop":
		do := ops.ReplayDead
		if action == "drop" {
			do = ops.DropDead
		}
		if take, _ := e.fs.GetString("take"); take != "" {
			if action != "replay" {
				return errors.New("dead drop: --take is for replay")
			}
			pl := plans[0]
			lim := event.Limits{MaxBytes: e.cfg.Event.MaxBytes}
			do = func(ctx context.Context, f inspect.DeadFilter) ([]string, error) {
				return settleConflicts(ctx, rdb, pl, ops, f, take, lim)
			}
		}
		missing, err := missingIDs(ctx, ops, ids)
		if err != nil {
			return err
		}
		done, err := do(ctx, f)
		if e.format == "json" {
			if done == nil {
				done = []string{}
			}
			_ = json.NewEncoder(e.out).Encode(map[string]any{action: done, "count": len(done), "not_found": missing})
		} else {
			fmt.Fprintf(e.out, "%s: %d\n", action, len(done))
		}
		if len(done) > 0 {
			e.log.Info("dead letters "+pastTense[action], "partner", plans[0].name, "count", len(done), "ids", done, "reason", reason, "account", account, "all", all)
		}
		if err != nil {
			return fmt.Errorf("dead %s: %w (use --id, --reason, --account or --all)", action, err)
		}
		if len(missing) > 0 {
			return fmt.Errorf("dead %s: no dead letter with id %s", action, strings.Join(missing, ", "))
		}
		return nil
	}
	return nil
}

// listDead is `dead list` over the partners of plans, partner by partner
// (inspectors: one each, in the same order). With more than one the cursor
// is "PARTNER/CURSOR", CURSOR being that partner's ("" for its start).
func listDead(ctx context.Context, plans []partnerPlan, inspectors []*inspect.Inspector, f inspect.DeadFilter, cursor string, limit int) ([]inspect.DeadLetter, string, error) {
	if len(plans) == 1 {
		return inspectors[0].ListDead(ctx, f, cursor, limit)
	}
	from, after := 0, ""
	if cursor != "" {
		name, rest, ok := strings.Cut(cursor, "/")
		from = slices.IndexFunc(plans, func(pl partnerPlan) bool { return pl.name == name })
		if !ok || from < 0 {
			return nil, "", fmt.Errorf("cursor %q: want PARTNER/CURSOR, as a page's \"more\" line gives it", cursor)
		}
		after = rest
	}
	var out []inspect.DeadLetter
	for i := from; i < len(plans); i++ {
		page, next, err := inspectors[i].ListDead(ctx, f, after, limit-len(out))
		if err != nil {
			return nil, "", fmt.Errorf("partner %s: %w", plans[i].name, err)
		}
		after = ""
		out = append(out, page...)
		if next != "" {
			return out, plans[i].name + "/" + next, nil
		}
		if len(out) >= limit && i+1 < len(plans) {
			return out, plans[i+1].name + "/", nil
		}
	}
	return out, "", nil
}
