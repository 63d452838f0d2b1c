package handlers

import "github.com/streamsync/streamsync/event"

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
