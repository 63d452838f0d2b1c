//go:build measure

package ingest

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var measureRate = flag.Int("rate", 1000, "prepare+confirm pairs a second; 0: one after another (closed loop), 1,000 pairs")

// go test -tags measure -run MeasurePrepare -v ./ingest
//
// Prepare + confirm round trip (two requests, one after the other) at
// 1,000 a second for 10 s, each started at its own time (an open model).
func TestMeasurePrepareConfirm(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	keys := preparedKeys(t)
	p := startPrepared(t, keys, &clock, "")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: 10 * time.Second}
	do := func(url, body string) error {
		resp, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s: %d", url, resp.StatusCode)
		}
		return nil
	}
	rate, secs := *measureRate, 10
	var mu sync.Mutex
	var lat []float64
	var wg sync.WaitGroup
	begin := time.Now()
	closed := rate == 0
	if closed {
		rate, secs = 1000, 1
	}
	for i := range rate * secs {
		if closed {
			wg.Wait()
		} else {
			time.Sleep(time.Until(begin.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("m-%d", i)
			start := time.Now()
			if err := do(p.url+"?prepare=1", pev(id)); err != nil {
				t.Error(err)
				return
			}
			if err := do(p.url+"/confirm", `{"ids":["`+id+`"]}`); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			lat = append(lat, float64(time.Since(start).Microseconds())/1000)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(begin)
	slices.Sort(lat)
	q := func(f float64) float64 { return lat[int(f*float64(len(lat)-1))] }
	n, _ := p.rdb.XLen(context.Background(), keys.Events).Result()
	t.Logf("%d prepare+confirm in %s (%.0f/s): round trip p50 %.2f ms, p99 %.2f ms, max %.2f ms; %d confirmed entries",
		len(lat), el.Round(time.Millisecond), float64(len(lat))/el.Seconds(), q(0.5), q(0.99), lat[len(lat)-1], n)
}
