package ingest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/testenv"
)

func start(t *testing.T, rdb redis.UniversalClient, stream string) string {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", Stream: stream, MaxBodyBytes: 8 << 10, Limits: event.Limits{MaxBytes: 2048},
		Now: func() time.Time { return time.UnixMilli(1700000000123) }}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return "http://" + s.Addr() + "/v1/events"
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

const ok1 = `{"id":"e1","account":"a","entity":"main_registration","key":"m/1","op":"upsert","version":5,"data":{"name":"Li"}}`

func TestIngest(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	t.Cleanup(func() { rdb.Del(context.Background(), stream) })
	url := start(t, rdb, stream)
	entries := func() []redis.XMessage {
		e, _ := rdb.XRange(context.Background(), stream, "-", "+").Result()
		return e
	}

	if st, body := post(t, url, ok1); st != 202 || body["accepted"] != float64(1) {
		t.Fatalf("one object: %d %v", st, body)
	}
	e := entries()[0].Values
	if e["id"] != "e1" || e["key"] != "m/1" || e["version"] != "5" || e["data"] != `{"name":"Li"}` || e["ts"] != "1700000000123" {
		t.Fatalf("entry %v: want flat contract fields, ts stamped", e)
	}
	batch := `[{"id":"e2","account":"a","entity":"x","key":"k","op":"upsert","version":"6","data":"{\"a\":1}","ts":1700000000000},
	           {"id":"e3","account":"a","entity":"x","key":"k","op":"delete","version":7}]`
	if st, body := post(t, url, batch); st != 202 || body["accepted"] != float64(2) {
		t.Fatalf("array: %d %v", st, body)
	}
	if es := entries(); len(es) != 3 || es[1].Values["id"] != "e2" || es[1].Values["ts"] != "1700000000000" || es[2].Values["op"] != "delete" {
		t.Fatalf("entries %v", es)
	}

	mixed := `[` + ok1 + `,{"id":"bad-1","account":"a","entity":"X","key":"k","op":"upsert","version":1,"data":{}},{"id":"bad-2","op":"merge"}]`
	st, body := post(t, url, mixed)
	errs, _ := body["errors"].([]any)
	if st != 400 || len(errs) != 2 {
		t.Fatalf("mixed batch: %d %v", st, body)
	}
	first := errs[0].(map[string]any)
	if first["index"] != float64(1) || first["id"] != "bad-1" || !strings.Contains(first["reason"].(string), "entity") {
		t.Fatalf("rejection %v", first)
	}
	if n := len(entries()); n != 3 {
		t.Fatalf("a rejected batch appended %d entries", n-3)
	}

	for name, tc := range map[string]struct {
		body   string
		status int
	}{
		"not json":    {`{"id":`, 400},
		"empty array": {`[]`, 400},
		"a string":    {`"x"`, 400},
		"too large":   {`[` + strings.Repeat(ok1+",", 100) + ok1 + `]`, 413},
	} {
		if st, body := post(t, url, tc.body); st != tc.status || body["errors"] == nil {
			t.Errorf("%s: %d %v, want %d with errors", name, st, body, tc.status)
		}
	}
	if n := len(entries()); n != 3 {
		t.Fatalf("bad requests appended %d entries", n-3)
	}
}

func TestIngestWithoutRedis(t *testing.T) {
	testenv.RedisAddr(t) // an integration test: skipped with -short
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	url := start(t, rdb, "x")
	if st, body := post(t, url, ok1); st != 503 || !strings.Contains(body["errors"].([]any)[0].(map[string]any)["reason"].(string), "not appended") {
		t.Fatalf("%d %v", st, body)
	}
}
