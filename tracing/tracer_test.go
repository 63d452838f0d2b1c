package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/streamsync/streamsync/handlers"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestOffWrapsNothing(t *testing.T) {
	p, err := NewProvider(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*Tracer{New(nil), New(p), {}} {
		if tr.On() {
			t.Fatal("tracing on without an endpoint")
		}
		rt := http.DefaultTransport
		if tr.Transport(rt) != rt {
			t.Fatal("transport wrapped while off")
		}
		ctx, span := tr.Begin(context.Background(), map[string]string{"id": "e1"}, "1-0")
		if span.IsRecording() || TraceParent(ctx) != "" {
			t.Fatal("a span while off")
		}
	}
}

func TestProviderConfig(t *testing.T) {
	tests := []struct {
		endpoint string
		ok       bool
	}{{"", true}, {"http://127.0.0.1:4318", true}, {"https://otel.example/base", true}, {"127.0.0.1:4318", false}, {"ftp://x", false}}
	for _, tt := range tests {
		p, err := NewProvider(Config{Endpoint: tt.endpoint})
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v, want ok=%v", tt.endpoint, err, tt.ok)
		}
		if p != nil {
			_ = p.Shutdown(context.Background())
			_ = p.Shutdown(context.Background())
		}
	}
}

func TestStepStoresTheParkingSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := New(tp)
	park := tr.Step(SpanGate, func(context.Context, *handlers.Work) (*handlers.Outcome, error) {
		return &handlers.Outcome{Step: handlers.StepParked, Error: "parent main/m1 not at the partner yet"}, nil
	})
	ctx, span := tr.Begin(context.Background(), map[string]string{"id": "e1"}, "1-0")
	o, _ := park(ctx, &handlers.Work{})
	End(span, o, nil)
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	gate := spans[0]
	if want := TraceParent(contextWith(gate.SpanContext)); o.Meta.Trace != want || want == "" {
		t.Fatalf("stored %q, want the gate span %q", o.Meta.Trace, want)
	}
	// The next pass continues that trace and links to the gate span.
	_, next := tr.Begin(context.Background(), map[string]string{"id": "e1", handlers.MetaTrace: o.Meta.Trace}, "2-0")
	next.End()
	n := exp.GetSpans()[2]
	if n.SpanContext.TraceID() != gate.SpanContext.TraceID() || len(n.Links) != 1 || n.Links[0].SpanContext.SpanID() != gate.SpanContext.SpanID() {
		t.Fatalf("next pass %+v", n)
	}
}

func TestTransportMarksServerErrors(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := New(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("traceparent") != "" {
			t.Error("the transport injected a traceparent; the deliver span's is the one to send")
		}
		w.WriteHeader(503)
	}))
	defer srv.Close()
	client := &http.Client{Transport: tr.Transport(http.DefaultTransport)}
	ctx, span := tr.Begin(context.Background(), map[string]string{}, "")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/v1/main/k", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	span.End()
	s := exp.GetSpans()[0]
	got := map[string]string{}
	for _, kv := range s.Attributes {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	if s.Name != "PUT" || got["http.response.status_code"] != "503" || got["error.type"] != "503" || s.Status.Code.String() != "Error" {
		t.Fatalf("span %s %v %v", s.Name, got, s.Status)
	}
}

func contextWith(sc trace.SpanContext) context.Context {
	return trace.ContextWithSpanContext(context.Background(), sc)
}
