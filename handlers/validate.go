package handlers

import (
	"context"

	"github.com/streamsync/streamsync/event"
)

// Validate parses an entry's fields into an event. An invalid entry ends
// here with one `invalid` outcome that says every problem; it never stalls
// the stream.
func Validate(fields map[string]string, lim event.Limits) (event.Event, Meta, *Outcome) {
	values := make(map[string]any, len(fields))
	for k, v := range fields {
		if !IsMeta(k) {
			values[k] = v
		}
	}
	e, err := event.FromStream(values, lim)
	if err != nil {
		return e, Meta{}, &Outcome{Step: StepInvalid, DeadReason: ReasonInvalid, Error: err.Error()}
	}
	return e, MetaOf(fields), nil
}

// ValidateEntry is Validate as the first step: it reads w.Fields into
// w.Event and w.Meta. An invalid entry's Event holds what could be read of
// it, for its row and dead letter.
func ValidateEntry(lim event.Limits) StepFunc {
	return func(_ context.Context, w *Work) (*Outcome, error) {
		var o *Outcome
		w.Event, w.Meta, o = Validate(w.Fields, lim)
		return o, nil
	}
}
