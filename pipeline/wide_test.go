package pipeline

import (
	"context"
	"fmt"
	"github.com/streamsync/streamsync/inspect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/partnersim"
	"github.com/streamsync/streamsync/sinks/partner"
)

// wideEntry is a valid upsert with n extra fields, one of them holding bytes
// that are not UTF-8, and data padded so that the entry weighs size bytes
// (0: no padding).
func wideEntry(id, key string, n, size int, extra ...string) []string {
	kv := append([]string{"id", id, "account", "acc-" + key, "entity", "main", "key", key, "op", "upsert",
		"version", "1", "odd", "\xff\xfe raw"}, extra...)
	for i := 1; i <= n; i++ {
		kv = append(kv, fmt.Sprintf("x%d", i), "1")
	}
	data := `{"n":1}`
	if size > 0 {
		used := len("data")
		for _, s := range kv {
			used += len(s)
		}
		data = `{"pad":"` + strings.Repeat("p", size-used-len(`{"pad":""}`)) + `"}`
	}
	return append(kv, "data", data)
}

type wideCase struct {
	name   string
	fields int
	size   int
}

// wideMaxBytes is event.max_bytes in these tests: 256 KiB keeps a -race run
// quick; the scripts' limits are on field counts, not bytes.
const wideMaxBytes = 256 << 10

var wideCases = []wideCase{
	{"4100 fields", 4100, 0},
	{"near max_bytes", 8000, wideMaxBytes - 10},
}

// An event with many fields (up to event.max_bytes) parks, is released,
// retries, is dead-lettered with every field byte for byte, and replays
// like any other: no script fails halfway and nothing is left behind.
func TestWideEventParksRetriesDiesAndReplays(t *testing.T) {
	for _, tc := range wideCases {
		t.Run(tc.name, func(t *testing.T) {
			// A megabyte body under -race on a busy machine takes a while.
			h := newHarness(t, options{
				sink: func(c *partner.Config) { c.Timeout = 20 * time.Second },
				cfg:  func(c *Config) { c.Limits = event.Limits{MaxBytes: wideMaxBytes} },
			})
			ctx := context.Background()

			// Parked behind a parent, released when the parent arrives.
			h.xadd(wideEntry("w-park", "k1", tc.fields, tc.size, "parent_entity", "main", "parent_key", "m-absent")...)
			h.waitSteps("w-park", "parked")
			h.upsert("p1", "acc-k1", "main", "m-absent", 1, `{}`)
			h.waitSteps("w-park", "parked", "released", "delivered")

			// Retried after a 503.
			h.faults(partnersim.Faults{ErrorRate: 1})
			h.xadd(wideEntry("w-retry", "k2", tc.fields, tc.size)...)
			h.waitSteps("w-retry", "retry_scheduled")
			h.faults(partnersim.Faults{RejectPrefix: "bad"})
			h.clock.Add(time.Second)
			h.waitSteps("w-retry", "retry_scheduled", "delivered")

			// Dead-lettered with every field, then replayed.
			h.xadd(wideEntry("w-dead", "bad-3", tc.fields, tc.size)...)
			h.waitSteps("w-dead", "dead")
			d := h.dead()
			if len(d) != 1 {
				t.Fatalf("%d dead letters", len(d))
			}
			want := wideEntry("w-dead", "bad-3", tc.fields, tc.size)
			for i := 0; i < len(want); i += 2 {
				if got, ok := d[0].Fields[want[i]]; !ok || got != want[i+1] {
					t.Fatalf("dead letter field %s = %.40q (%v), want %.40q", want[i], got, ok, want[i+1])
				}
			}
			if d[0].Reason != "rejected" || len(d[0].Fields) != len(want)/2+4 {
				t.Fatalf("dead letter: reason %s, %d fields, want %d", d[0].Reason, len(d[0].Fields), len(want)/2+4)
			}
			h.faults(partnersim.Faults{})
			ops := inspect.DeadOps{RDB: h.rdb, Keys: h.keys, Instance: "op", AttemptLog: true, Clock: h.clock}
			if got, err := ops.Replay(ctx, inspect.DeadFilter{IDs: []string{"w-dead"}}); err != nil || len(got) != 1 {
				t.Fatalf("replay: %v %v", got, err)
			}
			h.waitSteps("w-dead", "dead", "replayed", "delivered")

			for _, k := range []string{h.keys.Payloads, h.keys.Delayed, h.keys.Retry} {
				if n := h.rdb.Exists(ctx, k).Val(); n != 0 {
					t.Errorf("%s left behind", k)
				}
			}
			if d := h.dead(); len(d) != 0 {
				t.Fatalf("dead letters left: %d", len(d))
			}
		})
	}
}

// A parked payload that cannot be read back is dead-lettered with its bytes
// instead of failing the move (which would hold up every member after it).
func TestUnreadablePayloadIsDeadLettered(t *testing.T) {
	h := newHarness(t, options{})
	ctx := context.Background()
	due := float64(h.clock.Now().UnixMilli())
	h.rdb.HSet(ctx, h.keys.Payloads, "broken", "12:short")
	h.rdb.ZAdd(ctx, h.keys.Delayed, redisZ(due, "broken"))
	h.rdb.HSet(ctx, h.keys.Payloads, "old", `["id","old","account","a","entity","main","key","k","op","upsert","version","1","data","{}"]`)
	h.rdb.ZAdd(ctx, h.keys.Delayed, redisZ(due, "old"))
	h.waitSteps("broken", "invalid")
	h.waitSteps("old", "released", "delivered") // the JSON payloads of older versions still move
	d := h.dead()
	if len(d) != 1 || d[0].EventID != "broken" || d[0].Fields["raw"] != "12:short" || d[0].Reason != "invalid" {
		t.Fatalf("dead %+v", d)
	}
}

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }
