package main

import (
	"context"
	"fmt"

	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/source"
)

// recordReader lets op=sync deliveries read the source; nil for kind none,
// which makes sync events invalid (docs/reconcile.md).
func recordReader(s source.Source) handlers.RecordReader {
	if s == nil || s.Kind() == source.KindNone {
		return nil
	}
	return sourceReader{s}
}

type sourceReader struct{ s source.Source }

func (r sourceReader) Read(ctx context.Context, entity, key string) (handlers.SourceRecord, bool, error) {
	rec, found, err := r.s.Get(ctx, entity, key)
	if err != nil {
		if source.IsTransient(err) {
			return handlers.SourceRecord{}, false, fmt.Errorf("%w: %w", handlers.ErrSourceTransient, err)
		}
		return handlers.SourceRecord{}, false, err
	}
	return handlers.SourceRecord{Version: rec.Version, Data: rec.Data}, found, nil
}
