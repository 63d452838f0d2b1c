package pipeline

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/sinks/partner"
	"github.com/streamsync/streamsync/tracing"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// flaky stands between the sink and partnersim: it answers 503 to the
// first fail PUTs of paths under prefix and records every traceparent it sees.
type flaky struct {
	mu      sync.Mutex
	prefix  string
	fail    int
	parents []string // traceparent headers of the requests under prefix
}

func (f *flaky) wrap(next string) http.Handler {
	u, _ := url.Parse(next)
	proxy := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, f.prefix) {
			f.mu.Lock()
			f.parents = append(f.parents, r.Header.Get("traceparent"))
			fail := f.fail > 0
			f.fail--
			f.mu.Unlock()
			if fail {
				http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})
}

func TestTraceFollowsAnEventAcrossParkingAndRetries(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(t.Context())
	f := &flaky{prefix: "/v1/sub/", fail: 2}
	tr := tracing.New(tp)
	h := newHarness(t, options{
		cfg: func(c *Config) { c.Tracing = tp },
		sink: func(c *partner.Config) {
			proxy := httptest.NewServer(f.wrap(c.BaseURL))
			t.Cleanup(proxy.Close)
			c.BaseURL, c.TokenURL = proxy.URL, c.BaseURL+"/oauth/token"
			c.WrapTransport = tr.Transport
		},
	})
	const producer = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	h.upsert("c1", "acc", "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "m1", "traceparent", producer)
	h.waitSteps("c1", "parked")
	h.upsert("p1", "acc", "main", "m1", 1, `{}`)
	h.waitSteps("c1", "parked", "released", "retry_scheduled")
	h.clock.Add(time.Second)
	h.waitSteps("c1", "parked", "released", "retry_scheduled", "retry_scheduled")
	h.clock.Add(2 * time.Second)
	h.waitSteps("c1", "parked", "released", "retry_scheduled", "retry_scheduled", "delivered")

	traceID, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	var spans tracetest.SpanStubs
	testenv.WaitFor(t, 10*time.Second, "four passes of c1 ended", func() bool {
		spans = nil
		for _, s := range exp.GetSpans() {
			if s.SpanContext.TraceID() == traceID {
				spans = append(spans, s)
			}
		}
		return count(spans, tracing.SpanEvent) == 4
	})
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	// Every step of every pass is there, in the one trace of the producer.
	for name, want := range map[string]int{tracing.SpanEvent: 4, tracing.SpanValidate: 4, tracing.SpanLoop: 4, tracing.SpanLedger: 4,
		tracing.SpanGate: 4, tracing.SpanDeliver: 3, http.MethodPut: 3} {
		if got := count(spans, name); got != want {
			t.Errorf("%d %q spans in the trace, want %d", got, name, want)
		}
	}
	var passSteps []string
	for _, s := range spans {
		switch s.Name {
		case tracing.SpanEvent:
			if s.Parent.SpanID().String() != "b7ad6b7169203331" {
				t.Errorf("pass %v: parent %s, want the producer's span", attr(s, tracing.AttrStep), s.Parent.SpanID())
			}
			passSteps = append(passSteps, attr(s, tracing.AttrStep))
			if attr(s, tracing.AttrStep) != "parked" && len(s.Links) != 1 {
				t.Errorf("pass %s has %d links, want one to the span that parked it", attr(s, tracing.AttrStep), len(s.Links))
			}
			for _, l := range s.Links {
				by, ok := byID[l.SpanContext.SpanID()]
				if !ok || (by.Name != tracing.SpanGate && by.Name != tracing.SpanDeliver) {
					t.Errorf("pass links to %q, want the gate or deliver span that parked it", by.Name)
				}
			}
		case http.MethodPut:
			if byID[s.Parent.SpanID()].Name != tracing.SpanDeliver || s.SpanKind != trace.SpanKindClient {
				t.Errorf("HTTP span's parent is %q (kind %v), want deliver", byID[s.Parent.SpanID()].Name, s.SpanKind)
			}
			if attr(s, "http.request.method") != "PUT" || !strings.HasSuffix(attr(s, "url.full"), "/v1/sub/s1") || attr(s, "server.address") != "127.0.0.1" {
				t.Errorf("HTTP span attributes %v", s.Attributes)
			}
		}
	}
	slices.Sort(passSteps)
	if strings.Join(passSteps, ",") != "delivered,parked,retry_scheduled,retry_scheduled" {
		t.Errorf("passes ended %v", passSteps)
	}
	var statuses []string
	for _, s := range spans {
		if s.Name == http.MethodPut {
			statuses = append(statuses, attr(s, "http.response.status_code"))
		}
	}
	slices.Sort(statuses)
	if strings.Join(statuses, ",") != "201,503,503" {
		t.Errorf("HTTP statuses %v", statuses)
	}
	// The partner got the deliver span's traceparent, one per call.
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.parents) != 3 {
		t.Fatalf("partner saw %d calls for the child, want 3", len(f.parents))
	}
	for _, tp := range f.parents {
		sc := parseTP(t, tp)
		if s, ok := byID[sc.SpanID()]; !ok || s.Name != tracing.SpanDeliver || sc.TraceID() != traceID {
			t.Errorf("partner got traceparent %s, which is not a deliver span of the trace", tp)
		}
	}
}

func TestTracingOffAddsNoField(t *testing.T) {
	h := newHarness(t, options{})
	h.upsert("c1", "acc", "sub", "s1", 1, `{}`, "parent_entity", "main", "parent_key", "m1")
	h.waitSteps("c1", "parked")
	payload, err := h.rdb.HGet(t.Context(), h.keys.Payloads, "c1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(payload, "_ss_trace") {
		t.Fatalf("tracing off, yet the parked payload carries a trace: %s", payload)
	}
}

func count(spans tracetest.SpanStubs, name string) int {
	n := 0
	for _, s := range spans {
		if s.Name == name {
			n++
		}
	}
	return n
}

func attr(s tracetest.SpanStub, key attribute.Key) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func parseTP(t *testing.T, tp string) trace.SpanContext {
	t.Helper()
	parts := strings.Split(tp, "-")
	if len(parts) != 4 {
		t.Fatalf("traceparent %q", tp)
	}
	tid, err1 := trace.TraceIDFromHex(parts[1])
	sid, err2 := trace.SpanIDFromHex(parts[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("traceparent %q", tp)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid})
}
