package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"

	"github.com/streamsync/streamsync/tracing"
)

// otelRequests counts the OTLP export requests the bench collector got.
var otelRequests atomic.Int64

// otelBench returns a tracer provider and its Tracer: on, exporting to a
// local OTLP/HTTP endpoint that drains every request; off, a no-op.
func otelBench(on bool) (*tracing.Provider, *tracing.Tracer) {
	cfg := tracing.Config{Instance: "bench"}
	if on {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			otelRequests.Add(1)
			w.WriteHeader(http.StatusOK)
		}))
		cfg.Endpoint = srv.URL // closed with the process
	}
	tp, err := tracing.NewProvider(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "otel:", err)
		os.Exit(1)
	}
	return tp, tracing.New(tp)
}
