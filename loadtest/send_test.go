package loadtest

import (
	"encoding/json"
	"github.com/streamsync/streamsync/demo"
	"reflect"
	"testing"
	"time"
)

func entries(kinds ...string) []demo.Entry {
	out := make([]demo.Entry, len(kinds))
	for i, k := range kinds {
		out[i] = demo.Entry{Kind: k}
	}
	return out
}

func TestSplitRequests(t *testing.T) {
	for _, c := range []struct {
		name  string
		kinds []string
		n     int
		want  []int
	}{
		{"one per request", []string{"event", "event", "malformed", "event"}, 1, []int{0, 1, 2, 3, 4}},
		{"full batches and a rest", []string{"event", "event", "echo", "event", "event"}, 2, []int{0, 2, 4, 5}},
		{"a malformed event alone", []string{"event", "event", "malformed", "event", "event", "event"}, 3, []int{0, 2, 3, 6}},
		{"malformed ones in a row", []string{"malformed", "malformed", "event"}, 5, []int{0, 1, 2, 3}},
		{"nothing", nil, 50, []int{0}},
	} {
		if got := splitRequests(entries(c.kinds...), c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: splitRequests(n=%d) = %v, want %v", c.name, c.n, got, c.want)
		}
	}
}

// The pacer sends a request when its first event is due, so events go out
// at the level's rate however many a request carries, and stops after the
// last request.
func TestEventPacerKeepsTheEventRate(t *testing.T) {
	kinds := make([]string, 3000)
	for i := range kinds {
		kinds[i] = "event"
	}
	kinds[1000] = "malformed"
	starts := splitRequests(entries(kinds...), 50)
	p := eventPacer{starts: starts, rate: 1000}
	for k := 0; k < len(starts)-1; k++ {
		want := time.Duration(starts[k]) * time.Millisecond // 1,000 events/s: event i at i ms
		if wait, stop := p.Pace(0, uint64(k)); stop || wait != want {
			t.Fatalf("request %d (first event %d): Pace = %v, %v; want %v, false", k, starts[k], wait, stop, want)
		}
	}
	if wait, stop := p.Pace(0, 20); stop || wait != time.Second {
		t.Errorf("request 20 starts with event 1,000: Pace = %v, %v; want 1s", wait, stop)
	}
	if wait, _ := p.Pace(1500*time.Millisecond, 20); wait != -500*time.Millisecond {
		t.Errorf("behind by 0.5 s: wait %v, want -0.5s (send at once)", wait)
	}
	if _, stop := p.Pace(0, uint64(len(starts)-1)); !stop {
		t.Error("Pace after the last request: want stop")
	}
	if got, want := p.Rate(0), 1000.0*float64(len(starts)-1)/3000; got != want {
		t.Errorf("Rate = %v requests/s, want %v", got, want)
	}
}

// Every request body of a story is what ingest takes: an object alone, or
// an array of as many objects as the request has entries, in order.
func TestRequestBodies(t *testing.T) {
	story := demo.Story(demo.StoryConfig{Seed: 7, Accounts: 20, Events: 3000})
	now := time.UnixMilli(1_800_000_000_000)
	for _, n := range []int{1, 7, 50} {
		starts := splitRequests(story, n)
		for k := 0; k+1 < len(starts); k++ {
			es := make([]demo.Entry, 0, n)
			for _, e := range story[starts[k]:starts[k+1]] {
				es = append(es, demo.WithTS(e, now))
			}
			body := requestBody(es, n > 1)
			if n == 1 {
				var obj map[string]any
				if err := json.Unmarshal(body, &obj); err != nil || obj["id"] != es[0].Get("id") {
					t.Fatalf("n=1, request %d: body %s is not the event's object (%v)", k, body, err)
				}
				continue
			}
			var arr []map[string]any
			if err := json.Unmarshal(body, &arr); err != nil {
				t.Fatalf("n=%d, request %d: body is not a JSON array: %v\n%s", n, k, err, body)
			}
			if len(arr) != len(es) {
				t.Fatalf("n=%d, request %d: %d objects, want %d", n, k, len(arr), len(es))
			}
			for i, obj := range arr {
				if obj["id"] != es[i].Get("id") {
					t.Fatalf("n=%d, request %d, object %d: id %v, want %s", n, k, i, obj["id"], es[i].Get("id"))
				}
			}
		}
	}
}
