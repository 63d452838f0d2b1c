package partnersim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// run is one sender: it takes echoes from q in order, waits until each is
// due, and sends it (events: with the others already due, up to
// echoMaxBatch in one request), until the echoer is closed.
func (e *echoer) run(q chan echoMsg) {
	defer e.wg.Done()
	var carry *echoMsg
	for {
		var m echoMsg
		if carry != nil {
			m, carry = *carry, nil
		} else {
			select {
			case <-e.ctx.Done():
				return
			case m = <-q:
			}
		}
		if !e.sleep(m.due.Sub(e.now())) {
			return
		}
		batch := []echoMsg{m}
	more:
		for e.opts.Format == EchoEvents && len(batch) < echoMaxBatch {
			select {
			case n := <-q:
				if n.due.After(e.now()) {
					carry = &n
					break more
				}
				batch = append(batch, n)
			default:
				break more
			}
		}
		e.deliver(batch)
	}
}

// deliver sends one request's echoes, retrying a failure that may pass
// (a network error, 408, 429, 5xx) with doubling waits, at most
// opts.Attempts tries.
func (e *echoer) deliver(batch []echoMsg) {
	n := int64(len(batch))
	defer e.pending.Add(-n)
	wait := e.opts.Backoff
	for attempt := 1; ; attempt++ {
		status, err := e.post(batch)
		if err == nil {
			e.sent.Add(n)
			return
		}
		retry := status == 0 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
		if !retry || attempt >= e.opts.Attempts {
			e.failed.Add(n)
			e.log.Warn("echo given up", "id", batch[0].id, "echoes", n, "attempts", attempt, "status", status, "error", err)
			return
		}
		e.retries.Add(1)
		if !e.sleep(wait) {
			return
		}
		wait = min(2*wait, e.opts.MaxWait)
	}
}

// post sends the echoes once; status is the receiver's HTTP status (0 when
// there was no answer) and err is nil for a 2xx.
func (e *echoer) post(batch []echoMsg) (int, error) {
	var body []byte
	if e.opts.Format == EchoEvents {
		events := make([]map[string]any, len(batch))
		for i, m := range batch {
			events[i] = m.event
		}
		body = mustJSON(events)
	} else {
		body = batch[0].webhook
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.opts.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("echo request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if e.opts.Format == EchoEvents {
		if e.opts.Token != "" {
			req.Header.Set("Authorization", "Bearer "+e.opts.Token)
		}
	} else {
		ts := strconv.FormatInt(e.now().Unix(), 10)
		req.Header.Set("webhook-id", batch[0].id)
		req.Header.Set("webhook-timestamp", ts)
		req.Header.Set("webhook-signature", "v1,"+WebhookSign(e.key, batch[0].id, ts, body))
	}
	resp, err := e.opts.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("echo %s: %w", batch[0].id, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, echoMaxAnswer))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("echo %s: answered %d", batch[0].id, resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// WebhookSign is the Standard Webhooks signature of a message, without its
// "v1," prefix: base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)),
// key being the bytes of the secret's base64 after "whsec_" and timestamp
// unix seconds (https://www.standardwebhooks.com/).
func WebhookSign(key []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// sleep waits d (nothing when d ≤ 0); it is false when the echoer closed.
func (e *echoer) sleep(d time.Duration) bool {
	if d <= 0 {
		return e.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.ctx.Done():
		return false
	}
}

// webhookBody is a Standard Webhooks payload: {"type","timestamp","data"}.
func webhookBody(at time.Time, data any) []byte {
	return mustJSON(struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      any    `json:"data"`
	}{"record.changed", at.UTC().Format(time.RFC3339), data})
}
