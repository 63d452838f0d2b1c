package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/demo"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Sent is one event the driver sent.
type Sent struct {
	ID       string
	Kind     string
	At       time.Time
	Latency  time.Duration
	Accepted bool   // 202 from ingest, or XADD done
	Reason   string // why it was not accepted
}

// Attack sends every entry at rate events a second, through the ingest
// endpoint (vegeta) or with XADD at the same pace; it returns what was sent.
// With batch > 1 (ingest only) each request carries up to batch events as a
// JSON array (docs/events.md), requests paced so that events still go out at
// rate; every event of a request gets the request's send time and answer.
// token, when set, is the producer's (ingest.tokens), sent as
// "Authorization: Bearer <token>".
func Attack(ctx context.Context, mode, ingestURL, token string, rdb *redis.Client, stream string, entries []demo.Entry, rate, batch int) []Sent {
	if mode == "xadd" {
		return xaddAttack(ctx, rdb, stream, entries, vegeta.ConstantPacer{Freq: rate, Per: time.Second})
	}
	starts := splitRequests(entries, batch)
	requests := len(starts) - 1
	var mu sync.Mutex
	next := 0 // the next request
	sent := make([]Sent, len(entries))
	targeter := func(t *vegeta.Target) error {
		mu.Lock()
		defer mu.Unlock()
		if next >= requests {
			return vegeta.ErrNoTargets
		}
		now := time.Now()
		es := make([]demo.Entry, 0, starts[next+1]-starts[next])
		for i := starts[next]; i < starts[next+1]; i++ {
			e := demo.WithTS(entries[i], now)
			sent[i] = Sent{ID: e.Get("id"), Kind: e.Kind}
			es = append(es, e)
		}
		// The request's index rides in the URL, which the result carries back.
		t.Method, t.URL, t.Body = http.MethodPost, ingestURL+"?n="+strconv.Itoa(next), requestBody(es, batch > 1)
		t.Header = http.Header{"Content-Type": {"application/json"}}
		if token != "" {
			t.Header.Set("Authorization", "Bearer "+token)
		}
		next++
		return nil
	}
	atk := vegeta.NewAttacker(vegeta.Timeout(30*time.Second), vegeta.MaxWorkers(512), vegeta.KeepAlive(true))
	// No time limit: every entry goes out, even when the machine cannot keep
	// the pace (a story cut short would leave children without parents).
	for r := range atk.Attack(targeter, eventPacer{starts: starts, rate: rate}, 0, "ingest") {
		u, err := url.Parse(r.URL)
		if err != nil {
			continue
		}
		k, err := strconv.Atoi(u.Query().Get("n"))
		if err != nil || k < 0 || k >= requests {
			continue
		}
		for i := starts[k]; i < starts[k+1]; i++ {
			s := &sent[i]
			s.At, s.Latency, s.Accepted = r.Timestamp, r.Latency, r.Code == http.StatusAccepted
			if !s.Accepted {
				s.Reason = fmt.Sprintf("%d %s %s", r.Code, r.Error, clip(string(r.Body), 300))
			}
		}
		if ctx.Err() != nil {
			atk.Stop()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return sent[:starts[next]]
}

// splitRequests cuts entries into requests of at most n events, in order,
// and returns where each request starts, then len(entries): request k is
// entries[starts[k]:starts[k+1]]. A malformed entry goes in a request of its
// own: ingest refuses a whole batch for one bad event (docs/events.md), which
// would take the valid ones of its batch with it.
func splitRequests(entries []demo.Entry, n int) []int {
	n = max(n, 1)
	starts := []int{0}
	size := 0
	for i, e := range entries {
		if size == n || size > 0 && (e.Kind == "malformed" || entries[i-1].Kind == "malformed") {
			starts, size = append(starts, i), 0
		}
		size++
	}
	if len(entries) > 0 {
		starts = append(starts, len(entries))
	}
	return starts
}

// requestBody is the ingest body of es: one JSON object, or with array a
// JSON array of them.
func requestBody(es []demo.Entry, array bool) []byte {
	if !array && len(es) == 1 {
		return es[0].JSON()
	}
	body := []byte{'['}
	for i, e := range es {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, e.JSON()...)
	}
	return append(body, ']')
}

// eventPacer paces requests of several events each so that the events go
// out at rate a second: request k is due when its first event is, at
// starts[k]/rate seconds into the attack (starts as splitRequests gives).
type eventPacer struct {
	starts []int
	rate   int
}

// Pace implements vegeta.Pacer: hits is how many requests went out.
func (p eventPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if p.rate <= 0 || hits >= uint64(len(p.starts)-1) {
		return 0, true
	}
	due := time.Duration(p.starts[hits]) * time.Second / time.Duration(p.rate)
	return due - elapsed, false
}

// Rate implements vegeta.Pacer: requests a second, on average.
func (p eventPacer) Rate(time.Duration) float64 {
	events := p.starts[len(p.starts)-1]
	if events == 0 {
		return 0
	}
	return float64(p.rate) * float64(len(p.starts)-1) / float64(events)
}

func xaddAttack(ctx context.Context, rdb *redis.Client, stream string, entries []demo.Entry, pacer vegeta.Pacer) []Sent {
	sent := make([]Sent, 0, len(entries))
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range entries {
		wait, stop := pacer.Pace(time.Since(start), uint64(i))
		if stop || ctx.Err() != nil {
			break
		}
		time.Sleep(wait)
		e := demo.WithTS(entries[i], time.Now())
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			at := time.Now()
			err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: e.Values()}).Err()
			s := Sent{ID: e.Get("id"), Kind: e.Kind, At: at, Latency: time.Since(at), Accepted: err == nil}
			if err != nil {
				s.Reason = err.Error()
			}
			mu.Lock()
			sent = append(sent, s)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return sent
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
