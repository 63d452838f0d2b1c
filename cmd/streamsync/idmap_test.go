package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/internal/layout"
)

// `streamsync idmap get|set|drop` shows and mends a record's id map entry,
// in table and JSON form.
func TestIDMapCommand(t *testing.T) {
	rdb, keys, env := streams(t, "c1")
	ctx := context.Background()
	rdb.HSet(ctx, keys.IDMap("contact"), "r 42", "c|1700000000000|5|evt-81")

	out, err := cli(t, env, "idmap", "get", "contact", "r 42")
	if err != nil || !strings.Contains(out, "creating") || !strings.Contains(out, `"r 42"`) || !strings.Contains(out, "evt-81") ||
		!strings.Contains(out, "2023-11-14T22:13:20Z") {
		t.Fatalf("idmap get: %v\n%s", err, out)
	}
	out, err = cli(t, env, "idmap", "get", "contact", "r 42", "--json")
	var got struct{ Items []layout.IDMapEntry }
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got.Items) != 1 || got.Items[0].Kind != idmap.KindCreating ||
		got.Items[0].Version != 5 || got.Items[0].Value != "c|1700000000000|5|evt-81" {
		t.Fatalf("idmap get --json: %v\n%s", err, out)
	}

	out, err = cli(t, env, "idmap", "set", "contact", "r 42", "--id", "P-9", "--format", "json")
	var set struct{ Before, After *layout.IDMapEntry }
	if err != nil || json.Unmarshal([]byte(out), &set) != nil || set.Before == nil || set.Before.Kind != idmap.KindCreating ||
		set.After.ID != "P-9" || set.After.Kind != idmap.KindID {
		t.Fatalf("idmap set: %v\n%s", err, out)
	}
	if v := rdb.HGet(ctx, keys.IDMap("contact"), "r 42").Val(); v != "i|P-9" {
		t.Fatalf("id map holds %q", v)
	}
	if out, err := cli(t, env, "idmap", "set", "contact", "r 42", "--id", "P-10"); err != nil || !strings.Contains(out, "i|P-9 → i|P-10") {
		t.Fatalf("idmap set (table): %v\n%s", err, out)
	}
	if out, err := cli(t, env, "idmap", "get", "contact", "r 42"); err != nil || !strings.Contains(out, "P-10") || !strings.Contains(out, " id ") {
		t.Fatalf("idmap get after set: %v\n%s", err, out)
	}
	if out, err := cli(t, env, "idmap", "drop", "contact", "r 42"); err != nil || !strings.Contains(out, "dropped (was i|P-10)") {
		t.Fatalf("idmap drop: %v\n%s", err, out)
	}
	if out, err := cli(t, env, "idmap", "get", "contact", "r 42"); err != nil || !strings.Contains(out, "no entry") {
		t.Fatalf("idmap get after drop: %v\n%s", err, out)
	}
	if out, err := cli(t, env, "idmap", "get", "contact", "r 42", "--json"); err != nil || strings.TrimSpace(out) != `{"items":[]}` {
		t.Fatalf("idmap get --json of nothing: %v\n%s", err, out)
	}
	if _, err := cli(t, env, "idmap", "drop", "contact", "r 42"); err == nil || !strings.Contains(err.Error(), "no id map entry") {
		t.Fatalf("idmap drop of nothing: %v", err)
	}
	// One shard: set makes an entry of a record the id map lacks.
	if _, err := cli(t, env, "idmap", "set", "contact", "new", "--id", "P-1"); err != nil || rdb.HGet(ctx, keys.IDMap("contact"), "new").Val() != "i|P-1" {
		t.Fatalf("idmap set of a new record: %v", err)
	}
	// An entry it cannot read is shown as it is stored.
	rdb.HSet(ctx, keys.IDMap("contact"), "bad", "zz")
	if out, err := cli(t, env, "idmap", "get", "contact", "bad"); err != nil || !strings.Contains(out, "unreadable") || !strings.Contains(out, "zz") {
		t.Fatalf("idmap get of an unreadable entry: %v\n%s", err, out)
	}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"idmap", "set", "contact", "k"}, "--id wants the partner's id"},
		{[]string{"idmap", "get", "contact", "k", "--id", "3"}, "--id is for set"},
		{[]string{"idmap", "undo", "contact", "k"}, "want get, set or drop"},
		{[]string{"idmap", "get", "contact"}, "an entity and a key"},
		{[]string{"idmap", "get", "Bad", "k"}, "not an entity name"},
	} {
		if _, err := cli(t, env, bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want %q", bad.args, err, bad.want)
		}
	}
}

// With shards the id map is per shard, as the ledger: --account names the
// shard, without it every shard is searched, and a key in several shards
// needs the account.
func TestIDMapCommandWithShards(t *testing.T) {
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
	rdb.HSet(ctx, shards.For(a).IDMap("contact"), "k", "i|P-a")

	out, err := cli(t, env, "idmap", "get", "contact", "k", "--json")
	var got struct{ Items []layout.IDMapEntry }
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got.Items) != 1 || got.Items[0].Shard != layout.ShardOf(a, 3) {
		t.Fatalf("get without an account: %v\n%s", err, out)
	}
	if out, err := cli(t, env, "idmap", "get", "contact", "k", "--account", b); err != nil || !strings.Contains(out, "no entry in the account's shard") {
		t.Fatalf("get in another account's shard: %v\n%s", err, out)
	}
	if _, err := cli(t, env, "idmap", "set", "contact", "k", "--id", "P-a2"); err != nil || rdb.HGet(ctx, shards.For(a).IDMap("contact"), "k").Val() != "i|P-a2" {
		t.Fatalf("set found in one shard: %v", err)
	}
	if _, err := cli(t, env, "idmap", "set", "contact", "nothing", "--id", "P"); err == nil || !strings.Contains(err.Error(), "name the account to make one") {
		t.Fatalf("set of an unknown record without an account: %v", err)
	}
	rdb.HSet(ctx, shards.For(b).IDMap("contact"), "k", "g|9")
	if _, err := cli(t, env, "idmap", "drop", "contact", "k"); err == nil || !strings.Contains(err.Error(), "name the account") {
		t.Fatalf("drop of a key in two shards without an account: %v", err)
	}
	if _, err := cli(t, env, "idmap", "drop", "contact", "k", "--account", b); err != nil {
		t.Fatal(err)
	}
	if n := rdb.HLen(ctx, shards.For(b).IDMap("contact")).Val(); n != 0 {
		t.Fatal("the entry of the named account's shard is still there")
	}
	if v := rdb.HGet(ctx, shards.For(a).IDMap("contact"), "k").Val(); v != "i|P-a2" {
		t.Fatalf("the other shard's entry changed: %q", v)
	}
}
