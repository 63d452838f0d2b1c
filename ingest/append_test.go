package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/testenv"
)

// sized is an upsert without ts whose appended entry, before ts is stamped,
// weighs size bytes (the test server's event.max_bytes is 2048).
func sized(id string, size int) string {
	fixed := len("id") + len(id) + len("account") + 1 + len("entity") + 1 + len("key") + 1 + len("op") + len("upsert") +
		len("version") + 1 + len("data") + len(`{"p":""}`)
	return fmt.Sprintf(`{"id":%q,"account":"a","entity":"x","key":"k","op":"upsert","version":1,"data":{"p":"%s"}}`,
		id, strings.Repeat("y", size-fixed))
}

// Whatever the ingest answers 202 for, the pipeline takes as valid: the
// entry actually appended (ts stamped) is what is validated.
func TestIngestAcceptsOnlyWhatThePipelineAccepts(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, stream) })
	url := start(t, rdb, stream)

	tests := []struct {
		name, body string
		status     int
		reason     string
	}{
		{"5 bytes under max_bytes before ts", sized("near", 2043), 400, "more than event.max_bytes"},
		{"room for ts", sized("fits", 2048-len("ts")-13), 202, ""},
		{"key not utf8", "{\"id\":\"u1\",\"account\":\"a\",\"entity\":\"x\",\"key\":\"r-\xff\",\"op\":\"delete\",\"version\":1}", 400, "not valid UTF-8"},
		{"key lone surrogate", `{"id":"u2","account":"a","entity":"x","key":"r-\udcfe","op":"delete","version":1}`, 400, "surrogate"},
		{"key with a tab", `{"id":"t1","account":"a\tb","entity":"x","key":"r\t1","op":"delete","version":1}`, 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := post(t, url, tt.body)
			if st != tt.status {
				t.Fatalf("status %d (%v), want %d", st, body, tt.status)
			}
			if tt.reason != "" {
				errs, _ := body["errors"].([]any)
				if len(errs) != 1 || !strings.Contains(errs[0].(map[string]any)["reason"].(string), tt.reason) {
					t.Fatalf("errors %v, want %q", body, tt.reason)
				}
			}
		})
	}
	entries, err := rdb.XRange(ctx, stream, "-", "+").Result()
	if err != nil || len(entries) != 2 {
		t.Fatalf("%d entries appended (%v), want 2", len(entries), err)
	}
	for _, en := range entries {
		if _, err := event.FromStream(en.Values, event.Limits{MaxBytes: 2048}); err != nil {
			t.Errorf("accepted entry %v is invalid to the pipeline: %v", en.Values["id"], err)
		}
	}
}
