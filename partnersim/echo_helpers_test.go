package partnersim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

const testEchoSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// gotReq is one request a receiver took.
type gotReq struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP server that takes echoes: it answers status(n)
// to the n-th request (200 when nil), after release is closed when set.
type receiver struct {
	url     string
	status  func(n int) int
	release chan struct{}

	mu   sync.Mutex
	reqs []gotReq
}

func startReceiver(tb testing.TB, status func(n int) int, release chan struct{}) *receiver {
	tb.Helper()
	rc := &receiver{status: status, release: release}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if rc.release != nil {
			select {
			case <-rc.release:
			case <-r.Context().Done():
				return
			}
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, gotReq{header: r.Header.Clone(), body: b})
		n := len(rc.reqs)
		rc.mu.Unlock()
		st := http.StatusOK
		if rc.status != nil {
			st = rc.status(n)
		}
		w.WriteHeader(st)
	}))
	tb.Cleanup(hs.Close)
	rc.url = hs.URL
	return rc
}

func (rc *receiver) got() []gotReq {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]gotReq(nil), rc.reqs...)
}

// waitN waits until the receiver holds n requests and returns them.
func (rc *receiver) waitN(tb testing.TB, n int) []gotReq {
	tb.Helper()
	testenv.WaitFor(tb, 10*time.Second, "echo requests", func() bool { return len(rc.got()) >= n })
	return rc.got()
}

// webhooks decodes the bodies of the requests, each checked against its
// Standard Webhooks signature.
func webhooks(tb testing.TB, reqs []gotReq) []map[string]any {
	tb.Helper()
	out := make([]map[string]any, len(reqs))
	for i, r := range reqs {
		if err := verifyStandardWebhook(testEchoSecret, r.header, r.body); err != nil {
			tb.Fatalf("request %d: %v", i, err)
		}
		out[i] = decode(tb, r.body)
	}
	return out
}

// verifyStandardWebhook checks a request as a Standard Webhooks receiver
// does (https://www.standardwebhooks.com/), written apart from the
// simulator's signer: the key is the base64 after "whsec_", the signed
// bytes "{webhook-id}.{webhook-timestamp}.{body}", and webhook-signature a
// space-separated list of "v1,<base64 HMAC-SHA256>".
func verifyStandardWebhook(secret string, h http.Header, body []byte) error {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" || ts == "" {
		return errors.New("webhook-id or webhook-timestamp missing")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		v, ok := strings.CutPrefix(sig, "v1,")
		if !ok {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(v); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no webhook-signature matches")
}

// echoOpts turns the echo on towards rc, retrying fast, with one sender
// (so that echoes arrive in the order of the writes).
func echoOpts(rc *receiver, format string) func(*Options) {
	return func(o *Options) {
		o.Echo = EchoOptions{URL: rc.url, Format: format, Secret: testEchoSecret, Token: "tok-1", Senders: 1,
			Backoff: time.Millisecond, MaxWait: 5 * time.Millisecond}
	}
}

// both applies every mutator.
func both(ms ...func(*Options)) func(*Options) {
	return func(o *Options) {
		for _, m := range ms {
			m(o)
		}
	}
}

func echoStats(s *Server) EchoStats { return s.Snapshot("").Echo }

func asJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
