package ingest

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/inbound"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/profile"
	"github.com/streamsync/streamsync/webhook"
)

type appended struct {
	mu  sync.Mutex
	n   int
	ref string
}

func (a *appended) Append(_ context.Context, _ string, _ inbound.Via, ref string, changes []inbound.Change) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n += len(changes)
	a.ref = ref
	return nil
}

// A partner's webhook reaches the ingest without a producer's token: its
// signature is its credential; the events endpoint still needs a token,
// and a webhook's token proves nothing.
func TestWebhooksBesideProducers(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	bi, err := profile.BuiltIn(profile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rdb := testenv.Redis(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(rdb, prefix) })
	app := &appended{}
	s, err := New(Config{Addr: "127.0.0.1:0", Stream: prefix + "events", Limits: event.Limits{MaxBytes: 4096}, Producers: testProducers,
		Webhooks: webhook.Config{Appender: app, Partners: map[string]webhook.Partner{
			"erp": {Profile: bi, Secrets: []string{secret}, SeenKey: prefix + "p:erp:webhook_ids"}}}}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	base := "http://" + s.Addr()

	body := `{"type":"record.changed","timestamp":"2026-12-07T10:00:00Z","data":{"entity":"contact","key":"k1","account":"a1","version":17,"data":{"n":1}}}`
	wh, _ := standardwebhooks.NewWebhook(secret)
	now := time.Now()
	sig, _ := wh.Sign("evt-1", now, []byte(body))
	send := func(sig string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/partners/erp/webhooks", strings.NewReader(body))
		req.Header.Set("webhook-id", "evt-1")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send("v1,AAAA"); st != http.StatusUnauthorized {
		t.Errorf("badly signed webhook: %d, want 401", st)
	}
	if st := send(sig); st != http.StatusOK || app.n != 1 || app.ref != "evt-1" {
		t.Errorf("signed webhook without a token: %d, %d changes appended", st, app.n)
	}
	if st, _, _ := postAs(t, base+"/v1/events", "", `{"id":"e1","account":"a","entity":"x","key":"k","op":"upsert","version":1,"data":{}}`); st != http.StatusUnauthorized {
		t.Errorf("events without a token beside webhooks: %d, want 401", st)
	}
	if st, _, _ := postAs(t, base+"/v1/events", "Bearer s3cret-crm", `{"id":"e1","account":"a","entity":"x","key":"k","op":"upsert","version":1,"data":{}}`); st != http.StatusAccepted {
		t.Errorf("events with a token: %d, want 202", st)
	}
}

// A webhook configuration that cannot work stops the ingest's start-up,
// naming the setting and not the secret.
func TestWebhooksConfigRefused(t *testing.T) {
	bi, _ := profile.BuiltIn(profile.Options{})
	_, err := New(Config{Addr: "127.0.0.1:0", Stream: "x", Webhooks: webhook.Config{Appender: &appended{}, Partners: map[string]webhook.Partner{
		"erp": {Profile: bi, Secrets: []string{"not-a-whsec-s3cret"}, SeenKey: "k"}}}}, testenv.Redis(t))
	if err == nil || !strings.Contains(err.Error(), "partners.erp.webhooks.secrets[0]") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("got %v", err)
	}
}
