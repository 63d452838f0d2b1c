//go:build measure

package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/testenv"
)

// go test -tags measure -run MeasureFlatBody -v ./ingest
//
// What one request of empty objects costs the ingest: a body of `{}` items
// (1 MiB and 16 MiB, the default ingest.max_body_bytes) posted once; the
// answer's status and size, and how far the process' resident memory rose
// (peak RSS during the request minus RSS before it). Server and client share
// the process; the client only counts the answer's bytes.
func TestMeasureFlatBody(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	t.Cleanup(func() { rdb.Del(context.Background(), stream) })
	s, err := New(Config{Addr: "127.0.0.1:0", Stream: stream, Limits: event.Limits{}}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	url := "http://" + s.Addr() + "/v1/events"
	bodies := []struct {
		name string
		body []byte
	}{
		{"1 MiB of {}", flat((1<<20 - 2) / 3)},
		{"16 MiB of {}", flat((16<<20 - 2) / 3)},
		{"10,000 {}", flat(10000)},
		{"16 MiB, 10,000 valid events", valid(10000, 16<<20)},
		{"one event, 16 MiB of extra fields", wide(16 << 20)},
	}
	for _, b := range bodies {
		body := b.body
		runtime.GC()
		debug.FreeOSMemory()
		before := procStatus(t, "VmRSS")
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			t.Fatalf("reset the peak RSS: %v", err)
		}
		start := time.Now()
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		peak := procStatus(t, "VmHWM")
		t.Logf("%s (%d bytes): %d, answer %d bytes, %s; RSS %d MiB before, peak %d MiB (+%d MiB)",
			b.name, len(body), resp.StatusCode, answer, took.Round(time.Millisecond), before>>10, peak>>10, (peak-before)>>10)
	}
}

// flat is a JSON array of n empty objects.
func flat(n int) []byte { return []byte("[" + strings.Repeat("{},", n-1) + "{}]") }

// wide is a JSON array of one valid event padded with extra fields
// ("f0":0,"f1":0,…) to at most size bytes: about 1.3 million fields in
// 16 MiB.
func wide(size int) []byte {
	b := []byte(`[{"id":"x","account":"a","entity":"e","key":"k","op":"upsert","version":1,"data":{}`)
	for i := 0; ; i++ {
		f := fmt.Sprintf(`,"f%d":0`, i)
		if len(b)+len(f)+2 > size {
			break
		}
		b = append(b, f...)
	}
	return append(b, "}]"...)
}

// go test -tags measure -run MeasureWideParallel -v ./ingest
//
// Eight requests at once, each one event padded with 16 MiB of extra
// fields: how far the process' resident memory rose.
func TestMeasureWideParallel(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	t.Cleanup(func() { rdb.Del(context.Background(), stream) })
	s, err := New(Config{Addr: "127.0.0.1:0", Stream: stream}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	url := "http://" + s.Addr() + "/v1/events"
	body := wide(16 << 20)
	runtime.GC()
	debug.FreeOSMemory()
	before := procStatus(t, "VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
	start := time.Now()
	statuses := make([]int, 8)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			resp, err := http.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	peak := procStatus(t, "VmHWM")
	t.Logf("8 × one event with 16 MiB of extra fields (%d bytes each): %v, %s; RSS %d MiB before, peak %d MiB (+%d MiB)",
		len(body), statuses, time.Since(start).Round(time.Millisecond), before>>10, peak>>10, (peak-before)>>10)
}

// valid is a JSON array of n valid events that weighs at most size bytes.
func valid(n, size int) []byte {
	pad := strings.Repeat("x", size/n-200)
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id":"v-%d","account":"acc-%d","entity":"order","key":"k-%d","op":"upsert","version":1,"data":{"p":"%s"}}`, i, i%100, i, pad)
	}
	return []byte("[" + strings.Join(items, ",") + "]")
}

// procStatus reads one field of /proc/self/status, in KiB.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// go test -tags measure -run MeasureBatchThroughput -v ./ingest
//
// Requests of 50 valid events, one after another, for the cost of reading
// and validating a body (the append is the same before and after).
func TestMeasureBatchThroughput(t *testing.T) {
	rdb := testenv.Redis(t)
	stream := testenv.Prefix(t) + "events"
	t.Cleanup(func() { rdb.Del(context.Background(), stream) })
	s, err := New(Config{Addr: "127.0.0.1:0", Stream: stream}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	url := "http://" + s.Addr() + "/v1/events"
	body := valid(50, 50*400)
	const requests = 2000
	start := time.Now()
	for range requests {
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		rdb.Del(context.Background(), stream)
	}
	el := time.Since(start)
	t.Logf("%d requests of 50 events (%d bytes) in %s: %.0f events/s, %.2f ms a request", requests, len(body), el.Round(time.Millisecond),
		float64(requests*50)/el.Seconds(), float64(el.Microseconds())/1000/requests)
}
