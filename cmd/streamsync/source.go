package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/streamsync/streamsync/config"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/source"
)

// openSource builds the source source.* configures (contract §5).
func openSource(c config.SourceConfig, log *slog.Logger) (source.Source, error) {
	sc, err := sourceConfig(c, log)
	if err != nil {
		return nil, err
	}
	return source.New(sc)
}

// sourceConfig is the source.Config of source.*, its TLS included.
func sourceConfig(c config.SourceConfig, log *slog.Logger) (source.Config, error) {
	tc, err := tlsFor("source", c.TLSFiles())
	if err != nil {
		return source.Config{}, err
	}
	return source.Config{Kind: c.Kind, BaseURL: c.BaseURL, TokenURL: c.TokenURL, ClientID: c.ClientID,
		ClientSecret: c.ClientSecret, Timeout: c.Timeout, File: c.File, Entities: c.Entities, Logger: log, TLS: tc}, nil
}

// partnerReader reads the partner's records through its §2 read API with
// the sink's settings (sink.*, its TLS included); errors name the partner
// and sink.*, not the source.
func partnerReader(c config.SinkConfig, log *slog.Logger) (source.Source, error) {
	tc, err := tlsFor("sink", c.TLSFiles())
	if err != nil {
		return nil, err
	}
	return source.New(source.Config{Kind: source.KindHTTP, BaseURL: c.BaseURL, TokenURL: c.EffectiveTokenURL(),
		ClientID: c.ClientID, ClientSecret: c.ClientSecret, Timeout: c.Timeout, Logger: log, TLS: tc,
		Label: "partner", Setting: "sink"})
}

// recordReader lets op=sync deliveries read the source; nil for kind none,
// which makes sync events invalid (contract §5).
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
