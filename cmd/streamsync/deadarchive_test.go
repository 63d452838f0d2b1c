package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// `streamsync run` archives the dead letters older than dead.max_age to
// ClickHouse and trims them; without ClickHouse it keeps them and /metrics
// says that archiving is off.
func TestRunArchivesOldDeadLetters(t *testing.T) {
	for _, withCH := range []bool{true, false} {
		t.Run(fmt.Sprint("clickhouse=", withCH), func(t *testing.T) {
			rdb, keys, env := streams(t, "archive")
			ctx := context.Background()
			sim, _ := partnersim.New(partnersim.Options{})
			hs := httptest.NewServer(sim)
			defer hs.Close()
			admin := freeAddr(t)
			env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_ADMIN__ADDR="+admin, "STREAMSYNC_DEAD__MAX_AGE=30d")
			conn, db := testenv.ClickHouse(t)
			if withCH {
				env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR="+testenv.ClickHouseAddr(t), "STREAMSYNC_CLICKHOUSE__DATABASE="+db,
					"STREAMSYNC_CLICKHOUSE__SPOOL_DIR="+t.TempDir())
			} else {
				env = append(env, "STREAMSYNC_CLICKHOUSE__ADDR=")
			}
			add := func(ago time.Duration, id string) string {
				sid, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Dead, ID: fmt.Sprintf("%d-*", time.Now().Add(-ago).UnixMilli()),
					Values: []any{"id", id, "account", "acc", "entity", "sub", "key", id, "op", "upsert", "version", "1", "data", "{}",
						"dead_reason", "rejected", "dead_error", "422", "dead_attempts", "1", "dead_at", fmt.Sprint(time.Now().Add(-ago).UnixMilli())}}).Result()
				if err != nil {
					t.Fatal(err)
				}
				return sid
			}
			oldID := add(40*24*time.Hour, "old")
			youngID := add(time.Hour, "young")

			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- dispatch(runCtx, []string{"run"}, &strings.Builder{}, env) }()
			t.Cleanup(func() {
				stop()
				if err := <-done; err != nil {
					t.Errorf("streamsync run: %v", err)
				}
			})
			base := "http://" + admin
			testenv.WaitFor(t, 20*time.Second, "streamsync ready", func() bool { return httpStatus(base+"/readyz") == 200 })
			left := func() []string {
				xs, _ := rdb.XRange(ctx, keys.Dead, "-", "+").Result()
				var ids []string
				for _, x := range xs {
					ids = append(ids, x.ID)
				}
				return ids
			}
			if withCH {
				testenv.WaitFor(t, 20*time.Second, "the old dead letter trimmed", func() bool { return fmt.Sprint(left()) == fmt.Sprint([]string{youngID}) })
				var id string
				if err := conn.QueryRow(ctx, "SELECT stream_id FROM `"+db+"`.dead_letters FINAL WHERE event_id = 'old'").Scan(&id); err != nil || id != oldID {
					t.Fatalf("archived old dead letter: %q, %v; want %s", id, err, oldID)
				}
			}
			metrics := ""
			testenv.WaitFor(t, 10*time.Second, "the archive's metrics", func() bool {
				metrics = get(t, base+"/metrics")
				return strings.Contains(metrics, "streamsync_dead_oldest_age_seconds")
			})
			want := map[bool]string{true: "streamsync_dead_archive_enabled 1", false: "streamsync_dead_archive_enabled 0"}[withCH]
			if !strings.Contains(metrics, want) {
				t.Fatalf("/metrics lacks %q", want)
			}
			// The attempt log's retention runs beside the archive, with clickhouse.retention's default.
			if has := strings.Contains(metrics, "streamsync_attempts_retention_seconds 2.592e+06"); has != withCH {
				t.Fatalf("/metrics has the attempt log's retention (30d): %v, want %v", has, withCH)
			}
			if !withCH {
				if got := left(); fmt.Sprint(got) != fmt.Sprint([]string{oldID, youngID}) {
					t.Fatalf("without ClickHouse the dead-letter stream holds %v, want both", got)
				}
			}
		})
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
