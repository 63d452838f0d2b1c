package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config is the otel section of the settings.
type Config struct {
	// Endpoint is the OTLP/HTTP collector, e.g. "http://127.0.0.1:4318"
	// (spans go to {Endpoint}/v1/traces); empty turns tracing off.
	Endpoint string
	// ServiceName is the service.name resource attribute ("streamsync").
	ServiceName string
	// Instance is the service.instance.id resource attribute.
	Instance string
}

func (c *Config) setDefaults() {
	if c.ServiceName == "" {
		c.ServiceName = "streamsync"
	}
}

// Validate reports an endpoint that is not an absolute http(s) URL.
func (c Config) Validate() error {
	if c.Endpoint == "" {
		return nil
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("otel.endpoint: %q is not an absolute http(s) URL", c.Endpoint)
	}
	return nil
}

// Provider hands out the tracer; Shutdown flushes the spans still batched.
type Provider struct {
	trace.TracerProvider
	shutdown func(context.Context) error
}

// Shutdown flushes and stops the exporter; it is safe to call more than once.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.shutdown == nil {
		return nil
	}
	err := p.shutdown(ctx)
	p.shutdown = nil
	return err
}

// NewProvider builds a tracer provider exporting over OTLP/HTTP to
// cfg.Endpoint, batched; with an empty endpoint it is a no-op provider that
// costs next to nothing per span.
func NewProvider(cfg Config) (*Provider, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Endpoint == "" {
		return &Provider{TracerProvider: noop.NewTracerProvider()}, nil
	}
	u, _ := url.Parse(cfg.Endpoint)
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithTimeout(10 * time.Second)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" {
		opts = append(opts, otlptracehttp.WithURLPath(p+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("otel.endpoint: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName), semconv.ServiceInstanceID(cfg.Instance))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Provider{TracerProvider: tp, shutdown: func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx))
	}}, nil
}
