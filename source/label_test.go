package source_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/source"
)

// TestLabelNamesThePartner: the HTTP reader, when it reads the partner's
// API, names the partner and the sink.* settings in its errors, not the
// source's.
func TestLabelNamesThePartner(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, c := range []struct {
		cfg        source.Config
		want, none string
	}{
		{source.Config{BaseURL: srv.URL}, "source GET " + srv.URL, "partner"},
		{source.Config{BaseURL: srv.URL, Label: "partner", Setting: "sink"}, "partner GET " + srv.URL, "source"},
		{source.Config{BaseURL: srv.URL, ClientID: "cid", ClientSecret: "x", Label: "partner", Setting: "sink"}, "partner (sink.client_id cid)", "source"},
	} {
		c.cfg.Kind, c.cfg.Retries = source.KindHTTP, 1
		s, err := source.New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.List("contact", source.ListOptions{}).Next(ctx)
		_ = s.Close()
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.none) {
			t.Errorf("%+v: error %v, want %q and no %q", c.cfg, err, c.want, c.none)
		}
	}
	_, err := source.New(source.Config{Kind: source.KindHTTP, BaseURL: "nope", Setting: "sink"})
	if err == nil || !strings.HasPrefix(err.Error(), "sink.base_url:") {
		t.Fatalf("a bad partner URL: %v, want it to name sink.base_url", err)
	}
}
