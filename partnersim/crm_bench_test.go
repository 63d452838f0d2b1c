package partnersim

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkCRMCreate is one create over loopback HTTP per op, unsigned and
// HMAC-signed; BenchmarkCRMBatchUpsert is one batch of 100 per op.
func BenchmarkCRMCreate(b *testing.B) {
	for _, auth := range []string{CRMAuthNone, CRMAuthHMAC} {
		b.Run(auth, func(b *testing.B) {
			c := startCRM(b, func(o *Options) {
				o.Now = time.Now
				o.CRM.Auth, o.CRM.AppKey, o.CRM.Secret = auth, "app", "secret"
				o.CRM.RateLimit = 1 << 30
			})
			c.clock = nil
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				body := crmBody(fmt.Sprintf("k-%d", i), "acc-1", `{"name":"Li Lei","seat":"A3","n":1}`, "")
				c.sendDiscard(c.signedNow(http.MethodPost, "/crm/v2/contact", body))
			}
		})
	}
}

func BenchmarkCRMBatchUpsert(b *testing.B) {
	c := startCRM(b, func(o *Options) { o.Now = time.Now; o.CRM.RateLimit = 1 << 30 })
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		items := make([]string, 100)
		for j := range items {
			items[j] = crmBody(fmt.Sprintf("k-%d-%d", i, j), "acc-1", `{"name":"Li Lei","seat":"A3","n":1}`, "")
		}
		c.sendDiscard(c.signedNow(http.MethodPost, "/crm/v2/contact/batch_upsert", `{"items":[`+strings.Join(items, ",")+`]}`))
	}
}

// signedNow is request with the wall clock (benchmarks run on time.Now).
func (c *crmSim) signedNow(method, path, body string) *http.Request {
	if c.clock == nil {
		c.clock = &fakeClock{}
	}
	c.clock.mu.Lock()
	c.clock.now = time.Now()
	c.clock.mu.Unlock()
	return c.request(method, path, body, nil)
}

func (c *crmSim) sendDiscard(req *http.Request) {
	resp, err := c.client.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
