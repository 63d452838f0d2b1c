package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/pipeline"
)

// twoPartners is the environment of the partner of sink.* ("partner", the
// shard's own keys) and partners.b (keys.ForPartner("b")), each with its
// consumer group on the events stream, three events and one dead letter.
func twoPartners(t *testing.T) (*redis.Client, layout.Keys, layout.Keys, []string) {
	t.Helper()
	rdb, keys, env := streams(t, "c1")
	ctx := context.Background()
	env = append(env, "STREAMSYNC_SINK__BASE_URL=http://127.0.0.1:1", "STREAMSYNC_PARTNERS__B__BASE_URL=http://127.0.0.1:2",
		"STREAMSYNC_CLICKHOUSE__ADDR=")
	bKeys := keys.ForPartner("b")
	for i := range 3 {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: []any{"id", fmt.Sprint("e", i), "account", "a"}})
	}
	for _, g := range []string{keys.Group, bKeys.Group} {
		if err := rdb.XGroupCreate(ctx, keys.Events, g, "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	for k, id := range map[string]string{keys.Dead: "d-a", bKeys.Dead: "d-b"} {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: k, Values: []any{"id", id, "account", "a", "entity", "main", "key", "k-" + id, "op", "upsert",
			"version", "1", "data", "{}", "dead_reason", "rejected", "dead_error", "422", "dead_attempts", "1", "dead_at", "1700000000000"}})
	}
	return rdb, keys, bKeys, env
}

// With two partners, status shows each one (a section each; JSON by name),
// or the one --partner names, in today's shape.
func TestStatusOfSeveralPartners(t *testing.T) {
	rdb, _, bKeys, env := twoPartners(t)
	rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: bKeys.Dead, Values: []any{"id", "d-b2", "dead_reason", "invalid"}})

	out, err := cli(t, env, "status", "--format", "json")
	var all partnersAnswer
	if err != nil || json.Unmarshal([]byte(out), &all) != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if len(all.Partners) != 2 || all.Partners["partner"].Dead != 1 || all.Partners["b"].Dead != 2 || all.Partners["b"].PartnerName != "b" ||
		all.Partners["b"].Lag != 3 || all.StreamLength != 3 {
		t.Fatalf("status of two partners: %s", out)
	}
	out, err = cli(t, env, "status")
	if err != nil || !strings.Contains(out, "== partner partner (group g)") || !strings.Contains(out, "== partner b (group g:b)") {
		t.Fatalf("status table: %v\n%s", err, out)
	}
	out, err = cli(t, env, "status", "--partner", "b", "--format", "json")
	var one map[string]any
	if err != nil || json.Unmarshal([]byte(out), &one) != nil || one["dead"] != float64(2) || one["partner_name"] != "b" {
		t.Fatalf("status --partner b: %v\n%s", err, out)
	}
	if _, err := cli(t, env, "status", "--partner", "nosuch"); err == nil || !strings.Contains(err.Error(), "configured: partner, b") {
		t.Fatalf("status --partner nosuch: %v", err)
	}
}

// dead list shows every partner's dead letters with a partner column; the
// commands that change or compare one partner's state refuse without
// --partner, naming the partners; a replay goes back to its own partner.
func TestDeadLettersOfSeveralPartners(t *testing.T) {
	rdb, keys, bKeys, env := twoPartners(t)
	ctx := context.Background()

	out, err := cli(t, env, "dead", "list")
	if err != nil || !strings.Contains(out, "PARTNER") {
		t.Fatalf("dead list: %v\n%s", err, out)
	}
	for _, want := range []string{"partner  ", "b  "} {
		if !strings.Contains(out, want) {
			t.Errorf("dead list lacks a row of %q:\n%s", want, out)
		}
	}
	out, err = cli(t, env, "dead", "list", "--format", "json", "--limit", "1")
	var page struct {
		Items []struct{ ID, Partner string }
		Next  string `json:"next_cursor"`
	}
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Items) != 1 || page.Items[0].Partner != "partner" || page.Next != "b/" {
		t.Fatalf("dead list --limit 1: %v\n%s", err, out)
	}
	out, err = cli(t, env, "dead", "list", "--format", "json", "--cursor", page.Next)
	if err != nil || json.Unmarshal([]byte(out), &page) != nil || len(page.Items) != 1 || page.Items[0].ID != "d-b" || page.Items[0].Partner != "b" {
		t.Fatalf("dead list, second page: %v\n%s", err, out)
	}

	for _, args := range [][]string{
		{"dead", "replay", "--all"}, {"dead", "drop", "--all"}, {"ledger", "get", "main", "k"}, {"idmap", "get", "main", "k"},
		{"reconcile", "--clickhouse.addr=127.0.0.1:1"},
	} {
		_, err := cli(t, env, args...)
		if err == nil || !strings.Contains(err.Error(), "several partners are configured (partner, b): name one with --partner") {
			t.Errorf("%v: %v, want the refusal naming the partners", args, err)
		}
	}

	if out, err := cli(t, env, "dead", "replay", "--all", "--partner", "b"); err != nil || !strings.Contains(out, "replay: 1") {
		t.Fatalf("dead replay --partner b: %v\n%s", err, out)
	}
	last := func() map[string]any {
		e, _ := rdb.XRevRangeN(ctx, keys.Events, "+", "-", 1).Result()
		return e[0].Values
	}
	if l := last(); l["id"] != "d-b" || l["_ss_for"] != "b" {
		t.Fatalf("replayed entry %v, want d-b for b alone", l)
	}
	if n := rdb.XLen(ctx, keys.Dead).Val(); n != 1 {
		t.Fatalf("the other partner's dead letters: %d left, want 1", n)
	}
	if _, err := cli(t, env, "dead", "replay", "--id", "d-a", "--partner", "partner"); err != nil {
		t.Fatal(err)
	}
	if l := last(); l["id"] != "d-a" || l["_ss_for"] != "partner" {
		t.Fatalf("replayed entry %v, want d-a for partner alone", l)
	}

	if _, err := cli(t, env, "ledger", "set", "main", "k", "--version", "5", "--partner", "b"); err != nil {
		t.Fatal(err)
	}
	if rdb.HExists(ctx, bKeys.Ledger("main"), "k").Val() != true || rdb.Exists(ctx, keys.Ledger("main")).Val() != 0 {
		t.Fatal("ledger set --partner b did not write b's ledger alone")
	}
	if _, err := cli(t, env, "idmap", "set", "main", "k", "--id", "p-1", "--partner", "b"); err != nil {
		t.Fatal(err)
	}
	if rdb.HExists(ctx, bKeys.IDMap("main"), "k").Val() != true || rdb.Exists(ctx, keys.IDMap("main")).Val() != 0 {
		t.Fatal("idmap set --partner b did not write b's id map alone")
	}
}

// backfill --partner appends upserts one partner alone delivers; without
// it every partner reads them. A repair of one partner's reconciliation is
// meant for that partner alone too.
func TestBackfillAndRepairsForOnePartner(t *testing.T) {
	rdb, keys, bKeys, env := twoPartners(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dump.jsonl")
	if err := os.WriteFile(path, []byte(`{"entity":"sub","key":"k1","account":"a","version":1,"data":{}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "STREAMSYNC_SOURCE__KIND=file", "STREAMSYNC_SOURCE__FILE="+path)
	tail := func() map[string]any {
		e, _ := rdb.XRevRangeN(ctx, keys.Events, "+", "-", 1).Result()
		return e[0].Values
	}
	captureStderr(t, func() {
		if _, err := cli(t, env, "backfill", "--rate", "0", "--partner", "b"); err != nil {
			t.Error(err)
		}
	})
	if l := tail(); l["key"] != "k1" || l["_ss_for"] != "b" {
		t.Fatalf("backfill --partner b appended %v", l)
	}
	captureStderr(t, func() {
		if _, err := cli(t, env, "backfill", "--rate", "0"); err != nil {
			t.Error(err)
		}
	})
	if l := tail(); l["key"] != "k1" || l["_ss_for"] != nil {
		t.Fatalf("backfill for every partner appended %v", l)
	}

	repair := event.Event{ID: "rc-1", Account: "a", Entity: "sub", Key: "k2", Op: event.OpUpsert, Version: 2, Data: []byte(`{}`)}
	if err := repairAppender(rdb, layout.Shards{bKeys})(ctx, []event.Event{repair}); err != nil {
		t.Fatal(err)
	}
	if l := tail(); l["id"] != "rc-1" || l["_ss_for"] != "b" || l["_ss_proof"] == nil {
		t.Fatalf("b's repair appended as %v", l)
	}
}

// A partner taken out of the settings keeps its consumer group, which holds
// trimming back: status says so, and `partner retire` destroys the group
// (refusing while a consumer of it is active, unless --force) and, with
// --drop-state, deletes that partner's keys and no one else's.
func TestRetireAPartner(t *testing.T) {
	rdb, keys, env := streams(t, "c1")
	ctx := context.Background()
	env = append(env, "STREAMSYNC_SINK__BASE_URL=http://127.0.0.1:1")
	old, older := keys.ForPartner("old"), keys.ForPartner("older")
	for i := range 3 {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: []any{"id", fmt.Sprint("e", i), "account", "a"}})
	}
	for _, g := range []string{keys.Group, old.Group} {
		if err := rdb.XGroupCreate(ctx, keys.Events, g, "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	// the configured partner has read and acked everything; the old one one entry
	read, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: keys.Group, Consumer: "c1", Streams: []string{keys.Events, ">"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range read[0].Messages {
		rdb.XAck(ctx, keys.Events, keys.Group, m.ID)
	}
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: old.Group, Consumer: "old-1", Streams: []string{keys.Events, ">"}, Count: 1})
	for _, k := range []layout.Keys{keys, old, older} {
		rdb.HSet(ctx, k.Ledger("main"), "k", "1|h|0|e")
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Dead, Values: []any{"id", "d", "dead_reason", "rejected"}})
	}
	rdb.HSet(ctx, old.Inbound().Ledger("main"), "k", "1|h|0|e")

	trim, err := pipeline.NewTrimmer(pipeline.TrimConfig{Stream: keys.Events, Clock: laterClock{}}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := trim.Trim(ctx); err != nil || n != 0 {
		t.Fatalf("trim with the old group: %d %v, want nothing trimmed", n, err)
	}
	out, err := cli(t, env, "status")
	if err != nil || !strings.Contains(out, "group g:old holds back trimming: 3 entries behind; retire it with `streamsync partner retire old`") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	out, err = cli(t, env, "status", "--format", "json")
	var st statusAnswer
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || len(st.Unconfigured) != 1 || st.Unconfigured[0].Partner != "old" || st.Dead != 1 {
		t.Fatalf("status --format json: %v\n%s", err, out)
	}
	if n := strayGroupsCounter(loadConfig(t, env), rdb, time.Second)(); n != 1 {
		t.Fatalf("unconfigured groups counted %v, want 1", n)
	}

	if _, err := cli(t, env, "partner", "retire", "partner"); err == nil || !strings.Contains(err.Error(), "still configured") {
		t.Fatalf("retire of the configured partner: %v", err)
	}
	if _, err := cli(t, env, "partner", "retire", "old"); err == nil || !strings.Contains(err.Error(), "consumer old-1 of group g:old") {
		t.Fatalf("retire of a partner with a live consumer: %v", err)
	}
	out, err = cli(t, env, "partner", "retire", "old", "--force", "--drop-state", "--format", "json")
	var a retireAnswer
	if err != nil || json.Unmarshal([]byte(out), &a) != nil || a.GroupsDestroyed != 1 || a.Released != 3 || a.KeysDeleted != 3 {
		t.Fatalf("retire old: %v\n%s", err, out)
	}
	if n, err := trim.Trim(ctx); err != nil || n != 3 {
		t.Fatalf("trim after the retirement: %d %v, want all 3 entries", n, err)
	}
	for _, k := range []string{old.Ledger("main"), old.Dead, old.Inbound().Ledger("main")} {
		if rdb.Exists(ctx, k).Val() != 0 {
			t.Errorf("%s survived --drop-state", k)
		}
	}
	for _, k := range []string{keys.Ledger("main"), keys.Dead, older.Ledger("main"), older.Dead} {
		if rdb.Exists(ctx, k).Val() != 1 {
			t.Errorf("%s, not the retired partner's, was deleted", k)
		}
	}
	if out, _ := cli(t, env, "status"); strings.Contains(out, "holds back trimming") {
		t.Fatalf("status after the retirement:\n%s", out)
	}
	if _, err := cli(t, env, "partner", "retire", "old"); err == nil || !strings.Contains(err.Error(), "nothing to retire") {
		t.Fatalf("second retire: %v", err)
	}
}

// laterClock is an hour ahead, so that every entry is old enough to trim.
type laterClock struct{}

func (laterClock) Now() time.Time { return time.Now().Add(time.Hour) }

// loadConfig is the settings of environ, as a command reads them.
func loadConfig(t *testing.T, environ []string) config.Config {
	t.Helper()
	fs := newFlagSet("status")
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(fs, environ)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
