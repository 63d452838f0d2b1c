package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/pipeline"
)

// `streamsync ledger get|set|drop` shows and mends a ledger entry pushed too
// high, in table and JSON form.
func TestLedgerCommand(t *testing.T) {
	rdb, keys, env := streams(t, "c1")
	ctx := context.Background()
	const tooHigh = "9223372036854775807"
	rdb.HSet(ctx, keys.Ledger("main"), "r 42", tooHigh+"|abc|0|forged")

	out, err := cli(t, env, "ledger", "get", "main", "r 42")
	if err != nil || !strings.Contains(out, tooHigh) || !strings.Contains(out, `"r 42"`) || !strings.Contains(out, "forged") {
		t.Fatalf("ledger get: %v\n%s", err, out)
	}
	out, err = cli(t, env, "ledger", "get", "main", "r 42", "--format", "json")
	var got struct{ Items []pipeline.LedgerEntry }
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got.Items) != 1 || got.Items[0].Version != 1<<63-1 || got.Items[0].Hash != "abc" {
		t.Fatalf("ledger get --format json: %v\n%s", err, out)
	}

	out, err = cli(t, env, "ledger", "set", "main", "r 42", "--version", "11", "--format", "json")
	var set struct{ Before, After *pipeline.LedgerEntry }
	if err != nil || json.Unmarshal([]byte(out), &set) != nil || set.Before == nil || set.Before.Version != 1<<63-1 ||
		set.After.Version != 11 || set.After.Hash != "abc" || set.After.EventID != "forged" {
		t.Fatalf("ledger set: %v\n%s", err, out)
	}
	if v, _ := rdb.HGet(ctx, keys.Ledger("main"), "r 42").Result(); v != "11|abc|0|forged" {
		t.Fatalf("ledger holds %q", v)
	}
	if out, err := cli(t, env, "ledger", "set", "main", "r 42", "--version", "12"); err != nil || !strings.Contains(out, "version 11 → 12") {
		t.Fatalf("ledger set (table): %v\n%s", err, out)
	}

	if out, err := cli(t, env, "ledger", "drop", "main", "r 42"); err != nil || !strings.Contains(out, "dropped (was version 12)") {
		t.Fatalf("ledger drop: %v\n%s", err, out)
	}
	if out, err := cli(t, env, "ledger", "get", "main", "r 42"); err != nil || !strings.Contains(out, "no entry") {
		t.Fatalf("ledger get after drop: %v\n%s", err, out)
	}
	if _, err := cli(t, env, "ledger", "drop", "main", "r 42"); err == nil || !strings.Contains(err.Error(), "no ledger entry") {
		t.Fatalf("ledger drop of nothing: %v", err)
	}
	// One shard: set makes an entry of a record the ledger lacks.
	if out, err := cli(t, env, "ledger", "set", "main", "new", "--version", "3"); err != nil || !strings.Contains(out, "version none → 3") {
		t.Fatalf("ledger set of a new record: %v\n%s", err, out)
	}
	if l := handlers.ParseLedger(rdb.HGet(ctx, keys.Ledger("main"), "new").Val()); l.Version != 3 || l.Hash != "" {
		t.Fatalf("new entry %+v", l)
	}
	// With an account, a new entry keeps it (reconciliation names it), and
	// get shows it; an entry's own account is never replaced.
	if _, err := cli(t, env, "ledger", "set", "main", "new-acc", "--version", "3", "--account", "acc-z"); err != nil {
		t.Fatal(err)
	}
	if l := handlers.ParseLedger(rdb.HGet(ctx, keys.Ledger("main"), "new-acc").Val()); l.Account != "acc-z" || l.Version != 3 {
		t.Fatalf("new entry with an account: %+v", l)
	}
	if _, err := cli(t, env, "ledger", "set", "main", "new-acc", "--version", "4", "--account", "acc-other"); err != nil {
		t.Fatal(err)
	}
	if out, err := cli(t, env, "ledger", "get", "main", "new-acc"); err != nil || !strings.Contains(out, "ACCOUNT") || !strings.Contains(out, "acc-z") {
		t.Fatalf("ledger get shows no account: %v\n%s", err, out)
	}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"ledger", "set", "main", "k"}, "--version wants a whole number"},
		{[]string{"ledger", "set", "main", "k", "--version", "-1"}, "--version wants a whole number"},
		{[]string{"ledger", "set", "main", "k", "--version", "9223372036854775808"}, "--version wants a whole number"},
		{[]string{"ledger", "get", "main", "k", "--version", "3"}, "--version is for set"},
		{[]string{"ledger", "undo", "main", "k"}, "want get, set or drop"},
		{[]string{"ledger", "get", "main"}, "an entity and a key"},
		{[]string{"ledger", "get", "Bad", "k"}, "not an entity name"},
	} {
		if _, err := cli(t, env, bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want %q", bad.args, err, bad.want)
		}
	}
}

// With shards the ledger is per shard: --account names the shard, without
// it every shard is searched, and a key in several shards needs the account.
func TestLedgerCommandWithShards(t *testing.T) {
	rdb, _, env := streams(t, "c1")
	ctx := context.Background()
	env = append(env, "STREAMSYNC_STREAM__SHARDS=3")
	var shards layout.Shards // as the commands derive them
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "STREAMSYNC_STREAM__EVENTS="); ok {
			base := strings.TrimSuffix(v, "events")
			shards = layout.NewShards(v, "g", base+"dead", base+"delayed", base+"retry", 3, true)
		}
	}
	a, b := "acc-1", "acc-2"
	for layout.ShardOf(b, 3) == layout.ShardOf(a, 3) {
		b += "x"
	}
	rdb.HSet(ctx, shards.For(a).Ledger("main"), "k", "9223372036854775807|h|0|e1")

	out, err := cli(t, env, "ledger", "get", "main", "k", "--format", "json")
	var got struct{ Items []pipeline.LedgerEntry }
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got.Items) != 1 || got.Items[0].Shard != layout.ShardOf(a, 3) {
		t.Fatalf("get without an account: %v\n%s", err, out)
	}
	if out, err := cli(t, env, "ledger", "get", "main", "k", "--account", b); err != nil || !strings.Contains(out, "no entry in the account's shard") {
		t.Fatalf("get in another account's shard: %v\n%s", err, out)
	}
	if _, err := cli(t, env, "ledger", "set", "main", "k", "--version", "4"); err != nil {
		t.Fatalf("set found in one shard: %v", err)
	}
	if l := handlers.ParseLedger(rdb.HGet(ctx, shards.For(a).Ledger("main"), "k").Val()); l.Version != 4 {
		t.Fatalf("entry %+v", l)
	}

	rdb.HSet(ctx, shards.For(b).Ledger("main"), "k", "9|h|0|e2")
	if _, err := cli(t, env, "ledger", "drop", "main", "k"); err == nil || !strings.Contains(err.Error(), "name the account") {
		t.Fatalf("drop of a key in two shards without an account: %v", err)
	}
	if _, err := cli(t, env, "ledger", "drop", "main", "k", "--account", b); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.HLen(ctx, shards.For(b).Ledger("main")).Result(); n != 0 {
		t.Fatal("the entry of the named account's shard is still there")
	}
	if l := handlers.ParseLedger(rdb.HGet(ctx, shards.For(a).Ledger("main"), "k").Val()); l.Version != 4 {
		t.Fatalf("the other shard's entry changed: %+v", l)
	}
	if _, err := cli(t, env, "ledger", "set", "main", "nothing", "--version", "4"); err == nil || !strings.Contains(err.Error(), "name the account to make one") {
		t.Fatalf("set of an unknown record without an account: %v", err)
	}
}
