package tracing

import (
	"context"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of streamsync's spans.
const ScopeName = "github.com/streamsync/streamsync"

// Span names: the pass, and a span per step named after the step.
const (
	SpanEvent    = "streamsync.event" // one pass of one stream entry through the steps
	SpanValidate = handlers.NameValidate
	SpanSync     = handlers.NameSync // op=sync: the record read from the source (docs/backfill.md)
	SpanLoop     = handlers.NameLoop
	SpanLedger   = handlers.NameLedger
	SpanGate     = handlers.NameGate
	SpanDeliver  = handlers.NameDeliver
)

// Attribute keys of streamsync's spans.
const (
	AttrEventID  = attribute.Key("streamsync.event.id")
	AttrAccount  = attribute.Key("streamsync.account")
	AttrRecord   = attribute.Key("streamsync.record") // entity/key
	AttrStreamID = attribute.Key("streamsync.stream_id")
	AttrStep     = attribute.Key("streamsync.step") // the outcome's step (docs/operations.md)
	AttrAttempt  = attribute.Key("streamsync.attempt")
	AttrReason   = attribute.Key("streamsync.dead_reason")
)

// Tracer makes the pipeline's spans. The zero value and New(nil) are off:
// every method then returns at once and wraps nothing.
type Tracer struct {
	tr trace.Tracer
}

// New returns a Tracer over tp; nil, or a no-op provider, turns tracing off.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return &Tracer{}
	}
	if _, ok := tp.(noop.TracerProvider); ok {
		return &Tracer{}
	}
	if p, ok := tp.(*Provider); ok {
		return New(p.TracerProvider)
	}
	return &Tracer{tr: tp.Tracer(ScopeName)}
}

// On reports whether spans are made.
func (t *Tracer) On() bool { return t != nil && t.tr != nil }

var w3c = propagation.TraceContext{}

// parse reads a W3C traceparent; the result is invalid when tp is not one.
func parse(tp string) trace.SpanContext {
	if tp == "" {
		return trace.SpanContext{}
	}
	ctx := w3c.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp})
	return trace.SpanContextFromContext(ctx)
}

// TraceParent is the W3C traceparent of the span in ctx, or "" when there is
// no valid one.
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	w3c.Inject(ctx, c)
	return c["traceparent"]
}

// Begin starts the span of one pass of a stream entry. Its parent is the
// producer's traceparent (docs/events.md) when the entry has a valid one;
// an entry re-entered after parking or a retry carries the context of the
// span that parked it (handlers.MetaTrace): the pass links to that span, and
// takes it as parent when the producer sent none, so every pass of one event
// is in one trace.
func (t *Tracer) Begin(ctx context.Context, fields map[string]string, streamID string) (context.Context, trace.Span) {
	if !t.On() {
		return ctx, trace.SpanFromContext(ctx)
	}
	parked := parse(fields[handlers.MetaTrace])
	parent := parse(fields[event.FieldTraceParent])
	if !parent.IsValid() {
		parent = parked
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		AttrEventID.String(fields[event.FieldID]), AttrAccount.String(fields[event.FieldAccount]),
		AttrRecord.String(fields[event.FieldEntity]+"/"+fields[event.FieldKey]), AttrStreamID.String(streamID))}
	if parked.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: parked,
			Attributes: []attribute.KeyValue{attribute.String("streamsync.link", "parked_by")}}))
	}
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	return t.tr.Start(ctx, SpanEvent, opts...)
}

// End records the pass' outcome (or its error) on span and ends it.
func End(span trace.Span, o *handlers.Outcome, err error) {
	if !span.IsRecording() {
		return
	}
	if o != nil {
		outcome(span, o)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func outcome(span trace.Span, o *handlers.Outcome) {
	span.SetAttributes(AttrStep.String(string(o.Step)), AttrAttempt.Int(o.Attempt))
	if o.DeadReason != "" {
		span.SetAttributes(AttrReason.String(o.DeadReason))
	}
	if o.Step == handlers.StepDead || o.Step == handlers.StepInvalid {
		span.SetStatus(codes.Error, o.Error)
	} else if o.Error != "" {
		span.AddEvent(string(o.Step), trace.WithAttributes(attribute.String("detail", o.Error)))
	}
}

// Wrap is the steps' middleware (handlers.NewSteps): every step in a span
// named after it. Validate's span records an invalid entry's outcome and
// nothing more; deliver's is Deliver's (the attempt, and the traceparent
// the partner gets); every other step's is Step's.
func (t *Tracer) Wrap(name string, s handlers.StepFunc) handlers.StepFunc {
	switch {
	case !t.On():
		return s
	case name == SpanValidate:
		return t.validate(s)
	case name == SpanDeliver:
		return t.Deliver(s)
	}
	return t.Step(name, s)
}

// Validate runs handlers.Validate inside a "validate" span, as Wrap wraps
// the validate step.
func (t *Tracer) Validate(ctx context.Context, fields map[string]string, lim event.Limits) (event.Event, handlers.Meta, *handlers.Outcome) {
	if !t.On() {
		return handlers.Validate(fields, lim)
	}
	w := &handlers.Work{Fields: fields}
	o, _ := t.validate(handlers.ValidateEntry(lim))(ctx, w)
	return w.Event, w.Meta, o
}

// validate wraps the validate step in a "validate" span that records its
// outcome when the entry is invalid.
func (t *Tracer) validate(s handlers.StepFunc) handlers.StepFunc {
	return func(ctx context.Context, w *handlers.Work) (*handlers.Outcome, error) {
		_, span := t.tr.Start(ctx, SpanValidate)
		defer span.End()
		o, err := s(ctx, w)
		if o != nil {
			outcome(span, o)
		}
		return o, err
	}
}

// Step wraps one step in a span named name. When the step parks the event or
// schedules a retry, the span's context goes with the event
// (Outcome.Meta.Trace), so the next pass continues the trace and links here.
func (t *Tracer) Step(name string, s handlers.StepFunc) handlers.StepFunc {
	if !t.On() {
		return s
	}
	return func(ctx context.Context, w *handlers.Work) (*handlers.Outcome, error) {
		ctx, span := t.tr.Start(ctx, name)
		defer span.End()
		o, err := s(ctx, w)
		t.finish(ctx, span, o, err)
		return o, err
	}
}

// Deliver wraps the deliver step in a "deliver" span whose traceparent is
// the one the partner gets (docs/events.md: traceparent carried through every
// step); the HTTP call is a child span (Transport).
func (t *Tracer) Deliver(s handlers.StepFunc) handlers.StepFunc {
	if !t.On() {
		return s
	}
	return func(ctx context.Context, w *handlers.Work) (*handlers.Outcome, error) {
		ctx, span := t.tr.Start(ctx, SpanDeliver, trace.WithAttributes(AttrAttempt.Int(w.Meta.Attempts+1)))
		defer span.End()
		wd := *w
		if tp := TraceParent(ctx); tp != "" {
			wd.Event.TraceParent = tp
		}
		o, err := s(ctx, &wd)
		t.finish(ctx, span, o, err)
		return o, err
	}
}

func (t *Tracer) finish(ctx context.Context, span trace.Span, o *handlers.Outcome, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return
	}
	if o == nil {
		span.SetAttributes(AttrStep.String("passed"))
		return
	}
	outcome(span, o)
	if o.Step == handlers.StepParked || o.Step == handlers.StepRetryScheduled {
		o.Meta.Trace = TraceParent(ctx)
	}
}
