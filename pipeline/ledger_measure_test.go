//go:build measure

package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
)

// go test -tags measure -run MeasureLedger -v ./pipeline
//
// What one record costs in the ledger (docs/operations.md, "How big the
// ledger gets"): 100,000 records of one entity written as the pipeline
// writes them (record key → "version|sha256 hex|deleted|event id"), then
// MEMORY USAGE of the hash (SAMPLES 0: every field counted) per record.
func TestMeasureLedger(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := context.Background()
	uuid := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		h := hex.EncodeToString(b)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	const n = 100_000
	for _, tt := range []struct {
		name    string
		key, id func(i int) string
	}{
		{"short keys and ids (r-123456, evt-123456)", func(i int) string { return fmt.Sprintf("r-%06d", i) }, func(i int) string { return fmt.Sprintf("evt-%06d", i) }},
		{"UUID keys and ids (36 bytes each)", func(int) string { return uuid() }, func(int) string { return uuid() }},
	} {
		prefix := testenv.Prefix(t)
		keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
		ledger := keys.Ledger("sub_registration")
		var valueBytes, keyBytes int
		for from := 0; from < n; from += 1000 {
			pipe := rdb.Pipeline()
			for i := from; i < from+1000; i++ {
				e := event.Event{ID: tt.id(i), Version: 1732350000123 + int64(i), Op: event.OpUpsert, Data: []byte(fmt.Sprintf(`{"name":"Li Lei %d","seat":"A3"}`, i))}
				v := handlers.LedgerOf(e).String()
				k := tt.key(i)
				valueBytes += len(v)
				keyBytes += len(k)
				pipe.HSet(ctx, ledger, k, v)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		used, err := rdb.MemoryUsage(ctx, ledger, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d records, MEMORY USAGE %d bytes = %.0f bytes a record (key %.0f + value %.0f bytes of data)",
			tt.name, n, used, float64(used)/n, float64(keyBytes)/n, float64(valueBytes)/n)
		testenv.DeleteKeys(rdb, prefix)
	}
}
