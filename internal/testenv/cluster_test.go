package testenv

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestScriptSlotError(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []any
		bad  bool
	}{
		{"one slot", []any{"evalsha", "abc", 2, "{s1}:a", "{s1}:b", "x"}, false},
		{"two slots", []any{"evalsha", "abc", 2, "{s1}:a", "{s2}:b", "x"}, true},
		{"eval two slots", []any{"EVAL", "return 1", 3, "{s1}:a", "{s1}:b", "plain"}, true},
		{"one key", []any{"eval", "return 1", 1, "a"}, false},
		{"not a script", []any{"mget", "a", "b", "c"}, false},
		{"args are not keys", []any{"evalsha", "abc", 1, "{s1}:a", "{s2}:b"}, false},
	} {
		if got := ScriptSlotError(tc.args) != nil; got != tc.bad {
			t.Errorf("%s: error %v, want %v", tc.name, got, tc.bad)
		}
	}
}

type recordTB struct {
	testing.TB
	errs []string
}

func (r *recordTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// The hook sees scripts run directly and in pipelines, and only flags those
// whose keys span two slots.
func TestCheckScriptSlotsHook(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	rec := &recordTB{TB: t}
	CheckScriptSlots(rec, rdb)
	ctx := context.Background()
	script := redis.NewScript("return 1")
	if err := script.Run(ctx, rdb, []string{"{a}:x", "{a}:y"}).Err(); err != nil {
		t.Fatal(err)
	}
	if len(rec.errs) != 0 {
		t.Fatalf("one slot flagged: %v", rec.errs)
	}
	_ = script.Run(ctx, rdb, []string{"{a}:x", "{b}:y"}).Err()
	pipe := rdb.Pipeline()
	script.Eval(ctx, pipe, []string{"{a}:x", "{c}:y"})
	_, _ = pipe.Exec(ctx)
	if len(rec.errs) != 2 {
		t.Fatalf("two-slot calls flagged %d times: %v", len(rec.errs), rec.errs)
	}
}
