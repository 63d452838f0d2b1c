package ingest

import (
	"fmt"
	"net/http"

	"github.com/streamsync/streamsync/webhook"
)

// withWebhooks puts the partners' webhooks (Config.Webhooks) beside h,
// outside the producers' authentication: a webhook is verified by its
// signature (docs/security.md, "Webhooks from a partner"). With no partner
// configured it is h alone.
func (s *Server) withWebhooks(h http.Handler) (http.Handler, error) {
	wc := s.cfg.Webhooks
	if len(wc.Partners) == 0 {
		return h, nil
	}
	if wc.Registerer == nil {
		wc.Registerer = s.cfg.Registerer
	}
	if wc.Now == nil {
		wc.Now = s.cfg.Now
	}
	if wc.Logger == nil {
		wc.Logger = s.cfg.Logger
	}
	wh, err := webhook.New(wc, s.rdb)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(webhook.Pattern, wh)
	mux.Handle("/", h)
	return mux, nil
}
