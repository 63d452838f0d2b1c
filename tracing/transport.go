package tracing

import (
	"errors"
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Transport wraps rt so that every request made within a traced context is
// a client span (named by its method) with the HTTP semantic-convention
// attributes: http.request.method, url.full, server.address, server.port,
// http.response.status_code and error.type. It injects nothing: the partner's
// traceparent header is the deliver span's, set by the sink (Deliver).
// With tracing off it returns rt itself.
func (t *Tracer) Transport(rt http.RoundTripper) http.RoundTripper {
	if !t.On() {
		return rt
	}
	return &transport{rt: rt, t: t}
}

type transport struct {
	rt http.RoundTripper
	t  *Tracer
}

func (x *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !trace.SpanContextFromContext(req.Context()).IsValid() {
		return x.rt.RoundTrip(req) // not within a pass (token fetch from elsewhere): no orphan span
	}
	u := *req.URL
	u.User = nil
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p, _ := strconv.Atoi(port)
	_, span := x.t.tr.Start(req.Context(), req.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		semconv.HTTPRequestMethodKey.String(req.Method), semconv.URLFull(u.String()),
		semconv.ServerAddress(host), semconv.ServerPort(p)))
	defer span.End()
	resp, err := x.rt.RoundTrip(req)
	if err != nil {
		kind := "request_error"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			kind = "timeout"
		}
		span.SetAttributes(semconv.ErrorTypeKey.String(kind))
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return resp, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, resp.Status)
	}
	return resp, nil
}

// CloseIdleConnections passes through to the wrapped transport, so that
// http.Client.CloseIdleConnections still reaches it.
func (x *transport) CloseIdleConnections() {
	if c, ok := x.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
