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
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// The example profiles of examples/partners, each driven end to end: a real
// `streamsync run` delivers events through the profile to a partner that
// speaks the profile's API strictly, then `streamsync reconcile` reads the
// partner back through the profile's reads against what we sent, and
// `partner preview` renders the same events.

// ev is one change event in the ingest's shape.
type ev struct {
	ID, Account, Entity, Key, Op string
	Version                      int64
	Data                         string // a JSON object; "" for a delete
	ParentEntity, ParentKey      string
}

func (e ev) values() map[string]any {
	v := map[string]any{"id": e.ID, "account": e.Account, "entity": e.Entity, "key": e.Key, "op": e.Op,
		"version": e.Version}
	if e.Data != "" {
		v["data"] = e.Data
	}
	if e.ParentKey != "" {
		v["parent_entity"], v["parent_key"] = e.ParentEntity, e.ParentKey
	}
	return v
}

// exampleRun is one example profile's end-to-end run.
type exampleRun struct {
	profile string // file name in examples/partners
	baseURL string
	secrets map[string]string // environment the profile's secrets come from
	events  []ev
	dead    int // events the partner refuses for good (dead-lettered rejected)
}

// examplePath is the example profile's path from this package.
func examplePath(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "..", "examples", "partners", name))
	return p
}

// runExample delivers x.events through a streamsync run process until every
// one is delivered (or, x.dead of them, dead-lettered), stops it, and
// returns the environment the commands of the run use.
func runExample(t *testing.T, x exampleRun) (*redis.Client, layout.Keys, []string) {
	t.Helper()
	rdb, keys, env := streams(t, strings.TrimSuffix(x.profile, ".yaml"))
	_, db := testenv.ClickHouse(t)
	env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR="+testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE="+db,
		"STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+t.TempDir(),
		"STREAMSYNC_SINK__PROFILE="+examplePath(x.profile), "STREAMSYNC_SINK__BASE_URL="+x.baseURL,
		"STREAMSYNC_RETRY__INITIAL=20ms", "STREAMSYNC_RETRY__MAX=300ms", "STREAMSYNC_SINK__TIMEOUT=3s")
	for k, v := range x.secrets {
		t.Setenv(k, v) // the in-process commands read the secrets from the environment too
		env = append(env, k+"="+v)
	}
	ctx := context.Background()
	for _, e := range x.events {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: e.values()}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	p := startProcess(t, env)
	t.Cleanup(p.kill)
	steps := func(name string) int {
		n, _ := rdb.HGet(ctx, keys.Steps, name).Int()
		return n
	}
	for end := time.Now().Add(30 * time.Second); steps("delivered")+steps("dead") < len(x.events); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			counts, _ := rdb.HGetAll(ctx, keys.Steps).Result()
			p.kill()
			t.Fatalf("not every event delivered or dead after 30s: steps %v\n%s", counts, tail(p.out.String(), 4000))
		}
	}
	p.kill()
	if got := steps("dead"); got != x.dead {
		dead, _ := rdb.XRange(ctx, keys.Dead, "-", "+").Result()
		t.Fatalf("%d dead letters, want %d: %v\n%s", got, x.dead, dead, tail(p.out.String(), 4000))
	}
	return rdb, keys, env
}

// reconcileClean runs `streamsync reconcile --against source` over a file
// holding the records the partner should have (ours: key → data, in
// account acc of entity) and wants them all equal and nothing else.
func reconcileClean(t *testing.T, env []string, ours map[string][]ourRecord) {
	t.Helper()
	var dump strings.Builder
	var entities []string
	n := 0
	for entity, recs := range ours {
		entities = append(entities, "--entity", entity)
		for _, r := range recs {
			fmt.Fprintf(&dump, `{"entity":%q,"key":%q,"account":%q,"version":%d,"data":%s}`+"\n", entity, r.key, r.account, r.version, r.data)
			n++
		}
	}
	file := filepath.Join(t.TempDir(), "ours.jsonl")
	if err := os.WriteFile(file, []byte(dump.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env[:len(env):len(env)], "STREAMSYNC_SOURCE__KIND=file", "STREAMSYNC_SOURCE__FILE="+file)
	out, err := cli(t, env, append([]string{"reconcile", "--against", "source", "--format", "json"}, entities...)...)
	if err != nil {
		t.Fatalf("reconcile: %v\n%s", err, out)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep["equal"] != float64(n) {
		t.Fatalf("reconcile: want %d equal and nothing else, got %s (%v)", n, out, err)
	}
}

type ourRecord struct {
	key, account string
	version      int64
	data         string
}

// previewShows runs `partner preview` of events and wants every one of
// want in its output and none of the secrets.
func previewShows(t *testing.T, env []string, events []ev, secrets map[string]string, want ...string) {
	t.Helper()
	var lines strings.Builder
	for _, e := range events {
		v := e.values()
		if d, ok := v["data"].(string); ok {
			v["data"] = json.RawMessage(d)
		}
		b, _ := json.Marshal(v)
		lines.Write(append(b, '\n'))
	}
	file := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(file, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := cli(t, env, "partner", "preview", "--event", file)
	if err != nil {
		t.Fatalf("partner preview: %v\n%s", err, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("partner preview: no %q in\n%s", w, out)
		}
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("partner preview shows a secret:\n%s", out)
		}
	}
}
