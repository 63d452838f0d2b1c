package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

type okTransport struct{}

func (okTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}, nil
}

// benchPass runs one event's pass as the pipeline does (validate, loop,
// ledger, gate, deliver with one HTTP call), without Redis or a network, so
// that the difference between tracing on and off is the tracing alone.
func benchPass(b *testing.B, tr *Tracer) {
	fields := map[string]string{"id": "evt-1", "account": "acc-1", "entity": "main", "key": "k1", "op": "upsert",
		"version": "1", "data": `{"a":1}`, "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	client := &http.Client{Transport: tr.Transport(okTransport{})}
	pass := func(context.Context, *handlers.Work) (*handlers.Outcome, error) { return nil, nil }
	deliver := func(ctx context.Context, w *handlers.Work) (*handlers.Outcome, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://partner.example/v1/main/k1", nil)
		req.Header.Set("traceparent", w.Event.TraceParent)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return &handlers.Outcome{Step: handlers.StepDelivered, Attempt: 1, HTTPStatus: resp.StatusCode}, nil
	}
	steps := handlers.Chain(tr.Step(SpanLoop, pass), tr.Step(SpanLedger, pass), tr.Step(SpanGate, pass), tr.Deliver(deliver))
	lim := event.Limits{MaxBytes: 1 << 20}
	b.ReportAllocs()
	for b.Loop() {
		ctx, span := tr.Begin(context.Background(), fields, "1-0")
		e, m, o := tr.Validate(ctx, fields, lim)
		if o == nil {
			o, _ = steps(ctx, &handlers.Work{Event: e, Meta: m})
		}
		End(span, o, nil)
	}
}

func BenchmarkEventPassTracingOff(b *testing.B) { benchPass(b, New(nil)) }

// Spans exported over OTLP/HTTP (batched) to a local collector that drains them.
func BenchmarkEventPassTracingOn(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	p, err := NewProvider(Config{Endpoint: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	benchPass(b, New(p))
}

// Spans recorded and batched, the export discarded: the cost of making them.
func BenchmarkEventPassTracingNoExport(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	benchPass(b, New(tp))
}
