package layout

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/streams"
	"github.com/streamsync/streamsync/internal/testenv"
)

// countPipelines counts pipelined round trips and the commands in them.
type countPipelines struct{ trips, cmds atomic.Int64 }

func (c *countPipelines) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, n, a string) (net.Conn, error) { return next(ctx, n, a) }
}
func (c *countPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (c *countPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// Commits made at the same time share round trips, and each still gets its
// own script's answer.
func TestCommitsShareRoundTrips(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), PoolSize: 4})
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	k := NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	ctx := context.Background()
	if err := streams.EnsureGroup(ctx, rdb, k.Events, k.Group); err != nil {
		t.Fatal(err)
	}
	// Half the entries are pending in the group (their commit acks them:
	// 1), half were never read (0).
	var read []string
	for i := range 100 {
		id := rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Events, Values: []any{"i", i}}).Val()
		read = append(read, id)
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{k.Events, ">"}, Count: 100}).Err(); err != nil {
		t.Fatal(err)
	}
	count := &countPipelines{}
	rdb.AddHook(count)
	b := &RoundTrips{rdb: rdb}
	var wg sync.WaitGroup
	got := make([]int64, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sid := fmt.Sprintf("%d-0", 1+i) // never read
			if i < 100 {
				sid = read[i]
			}
			shared := [sharedKeys]string{k.Events, k.Attempts, k.Steps, k.Delayed, k.Payloads, k.Dead}
			keys := []string{k.Ledger("x"), k.State("x"), k.Waiting("x", "k"), k.Delayed,
				k.Waiting("", ""), k.Lease("a"), k.Ledger(""), k.IDMap("x")}
			n, err := commitAnswer(b.runShared(ctx, commitScript, k.Events, &shared, keys, []any{"g", sid, "k", fmt.Sprint("e", i), 1, "delivered", "none", "", "keep", "", "0", "", "", "0", 0, 0, "run", "", "", ""}))
			if err != nil {
				t.Error(err)
			}
			got[i] = n
		}()
	}
	wg.Wait()
	for i, n := range got {
		if want := int64(map[bool]int{true: 1, false: 0}[i < 100]); n != want {
			t.Fatalf("commit %d answered %d, want %d", i, n, want)
		}
	}
	if p, _ := rdb.XPending(ctx, k.Events, "g").Result(); p.Count != 0 {
		t.Fatalf("%d entries still pending", p.Count)
	}
	// Counted once per call, each committed outcome once.
	if n, _ := rdb.HGet(ctx, k.Steps, "delivered").Int(); n != 100 {
		t.Fatalf("steps hash counts %d delivered, want 100", n)
	}
	// Unbatched, each of the 200 commits is a round trip of its own; how
	// many share one depends on the scheduler (nothing waits for a batch
	// to fill), so only "fewer round trips than commits" is certain.
	if trips := count.trips.Load(); trips == 0 || trips >= 200 || count.cmds.Load() <= trips {
		t.Fatalf("%d pipelined round trips carried %d commands: commits were not batched", trips, count.cmds.Load())
	}
	t.Logf("200 commits in %d pipelined round trips (%d commands)", count.trips.Load(), count.cmds.Load())
}

// One call carries many outcomes; one whose arguments do not add up gets
// its own error, nothing of it is written, and the others commit.
func TestCombinedCommitKeepsOutcomesApart(t *testing.T) {
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	k := NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	ctx := context.Background()
	if err := streams.EnsureGroup(ctx, rdb, k.Events, k.Group); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.Events, Values: []any{"i", i}}).Val())
	}
	if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{k.Events, ">"}, Count: 3}).Err(); err != nil {
		t.Fatal(err)
	}
	keys := func(key string) []string {
		return []string{k.Ledger("x"), k.State("x"), k.Waiting("x", key), k.Delayed,
			k.Waiting("", ""), k.Lease("a"), k.Ledger(""), k.IDMap("x")}
	}
	shared := &[sharedKeys]string{k.Events, k.Attempts, k.Steps, k.Delayed, k.Payloads, k.Dead}
	part := func(sid, key, ledger string) *scriptPart {
		return &scriptPart{script: commitScript, group: k.Events, shared: shared, keys: keys(key),
			args: []any{"g", sid, key, "e-" + key, 1, "delivered", "set", ledger, "clear_any", "", "1", "", "", "0", 0, 0, "run", "", "", ""},
			done: make(chan struct{})}
	}
	batch := []*scriptPart{part(ids[0], "k0", "5|h|1|"), part(ids[1], "k1", "not a ledger value"), part(ids[2], "k2", "7|h|1|")}
	(&RoundTrips{rdb: rdb}).exec(batch)
	for i, want := range []int64{1, -1, 1} {
		n, err := commitAnswer(batch[i].answer, batch[i].err)
		if want < 0 {
			if err == nil || !strings.Contains(err.Error(), "does not fit mode") {
				t.Fatalf("outcome %d: answer %d, error %v; want its own error", i, n, err)
			}
			continue
		}
		if err != nil || n != want {
			t.Fatalf("outcome %d: answer %d, error %v; want %d", i, n, err, want)
		}
	}
	if got := rdb.HGetAll(ctx, k.Ledger("x")).Val(); len(got) != 2 || got["k0"] != "5|h|1|" || got["k2"] != "7|h|1|" {
		t.Fatalf("ledger %v; want k0 and k2 only", got)
	}
	// The bad outcome's entry was not acked: it is handed out again.
	if p := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: k.Events, Group: "g", Start: "-", End: "+", Count: 10}).Val(); len(p) != 1 || p[0].ID != ids[1] {
		t.Fatalf("pending %v; want only %s", p, ids[1])
	}
	if n, _ := rdb.HGet(ctx, k.Steps, "delivered").Int(); n != 2 {
		t.Fatalf("steps hash counts %d delivered, want 2", n)
	}
}

// A combined call is one EVALSHA command, built once: the shared keys
// once, the keys of every part, the number of parts, then each part's
// arguments; parts whose shared keys differ go in calls of their own; run again on its
// own (after NOSCRIPT, a failover …) it has the same keys and arguments.
func TestCombinedCallIsOneCommand(t *testing.T) {
	a := &scriptPart{script: commitScript, group: "s", keys: []string{"k1", "k2"}, args: []any{"a1", 2}}
	b := &scriptPart{script: commitScript, group: "s", keys: []string{"k3"}, args: []any{"b1"}}
	other := &scriptPart{script: lookupScript, group: "s", keys: []string{"k4"}, args: []any{"c1"}}
	shared := &[sharedKeys]string{"s1", "s2", "s3", "s4", "s5", "s6"}
	a.shared, b.shared = shared, &[sharedKeys]string{"s1", "s2", "s3", "s4", "s5", "s6"}
	otherShard := &scriptPart{script: commitScript, group: "s", shared: &[sharedKeys]string{"t1", "t2", "t3", "t4", "t5", "t6"},
		keys: []string{"k5"}, args: []any{"d1"}}
	calls := combine([]*scriptPart{a, other, b, otherShard})
	if len(calls) != 3 {
		t.Fatalf("%d calls, want one per script and shared keys", len(calls))
	}
	c := calls[0]
	// the shared keys once, first
	want := []any{"evalsha", commitScript.Hash(), 9, "s1", "s2", "s3", "s4", "s5", "s6", "k1", "k2", "k3", 2, "a1", 2, "b1"}
	if fmt.Sprint(c.cmdArgs) != fmt.Sprint(want) {
		t.Fatalf("command %v, want %v", c.cmdArgs, want)
	}
	keys, args := c.keysAndArgs()
	if fmt.Sprint(keys) != "[s1 s2 s3 s4 s5 s6 k1 k2 k3]" || fmt.Sprint(args) != "[2 a1 2 b1]" {
		t.Fatalf("keys %v, args %v", keys, args)
	}
}
