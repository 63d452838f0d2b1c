package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/streamsync/streamsync/internal/apiclient"
)

// Check-back answers (docs/producers.md).
const (
	CheckCommit   = "commit"
	CheckRollback = "rollback"
	CheckUnknown  = "unknown"
)

// checker asks producers about prepared events nobody confirmed or
// cancelled in time: GET {url}?id=<event id>[&producer=<name>] →
// {"status":"commit"|"rollback"|"unknown"} (producer: the name in
// ingest.tokens of the producer that prepared it, when it had one). Commit releases the event, rollback drops it,
// unknown or a failed call asks again after a backoff, and after
// maxAttempts check-backs the event is dead-lettered unconfirmed.
type checker struct {
	store       *Prepared
	url         string // empty: no check-back; a due event is dead-lettered at once
	maxAttempts int
	// The wait after the n-th unsettled check-back: initial·2^(n-1), at most max.
	initial, max time.Duration
	client       *http.Client
	now          func() time.Time
	log          *slog.Logger
}

// checkClient asks ingest.check_url within timeout and never follows a
// redirect: a 3xx is the answer, which counts as unknown (docs/security.md,
// "Transport").
func checkClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// checkBatch is how many due events one pass takes at most.
const checkBatch = 100

// checkDue checks back every prepared event due now, a batch at a time, and
// returns how many it looked at.
func (c *checker) checkDue(ctx context.Context) (int, error) {
	total := 0
	for {
		now := c.now()
		fields, err := c.store.claimDue(ctx, now, checkBatch, c.client.Timeout+30*time.Second)
		if err != nil {
			return total, err
		}
		for _, f := range fields {
			if err := c.checkOne(ctx, f); err != nil {
				return total, err
			}
		}
		total += len(fields)
		if len(fields) < checkBatch {
			return total, nil
		}
	}
}

// checkOne checks back the prepared event kept under field (PreparedField).
func (c *checker) checkOne(ctx context.Context, field string) error {
	producer, id := splitPreparedField(field)
	status, detail := CheckUnknown, "no ingest.check_url to ask"
	if c.url != "" {
		status, detail = c.ask(ctx, id, producer)
	}
	now := c.now()
	switch status {
	case CheckCommit:
		_, err := c.store.Release(ctx, field, ActionConfirm, "", now)
		return err
	case CheckRollback:
		_, err := c.store.Release(ctx, field, ActionCancel, "", now)
		return err
	}
	n := 0
	if c.url != "" {
		var err error
		if n, err = c.store.recheck(ctx, field, now, c.initial, c.max); err != nil || n < 0 {
			return err // n < 0: confirmed or cancelled meanwhile
		}
		if n < c.maxAttempts {
			return nil // asked again after the backoff
		}
	}
	_, err := c.store.Release(ctx, field, ActionDead, fmt.Sprintf("not confirmed; %d check-backs unsettled, last: %s", n, detail), now)
	if err == nil {
		c.log.Warn("prepared event dead-lettered unconfirmed", "event_id", id, "producer", producer, "checks", n, "last", detail)
	}
	return err
}

// ask makes one check-back call about producer's event id; a failed call
// counts as unknown.
func (c *checker) ask(ctx context.Context, id, producer string) (string, string) {
	u, err := url.Parse(c.url)
	if err != nil {
		return CheckUnknown, err.Error()
	}
	q := u.Query()
	q.Set("id", id)
	if producer != "" {
		q.Set("producer", producer)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return CheckUnknown, err.Error()
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return CheckUnknown, "check-back failed: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, apiclient.MaxAnswer))
		if loc := resp.Header.Get("Location"); loc != "" {
			return CheckUnknown, fmt.Sprintf("check-back answered %d to %s (redirects are not followed)", resp.StatusCode, loc)
		}
		return CheckUnknown, fmt.Sprintf("check-back answered %d", resp.StatusCode)
	}
	return judgeCheckBack(resp.Body)
}

// judgeCheckBack reads a check-back's 200 answer, at most
// apiclient.MaxAnswer bytes of it, and finds its "status" wherever it
// stands: a status read whole decides, also in the first MiB of a longer
// answer; an answer cut short by the connection, or without a status, is
// unknown (asked again later).
func judgeCheckBack(r io.Reader) (status, detail string) {
	body, err := apiclient.ReadBody(r, apiclient.MaxAnswer)
	if err != nil {
		return CheckUnknown, "check-back " + err.Error()
	}
	s, found := apiclient.JSONString(body, "status")
	switch {
	case !found && body.Over:
		return CheckUnknown, fmt.Sprintf("check-back answer over %d KiB without a status in its first %d KiB", apiclient.MaxAnswer>>10, apiclient.MaxAnswer>>10)
	case !found:
		return CheckUnknown, fmt.Sprintf("check-back answer is not {\"status\":…}: %q", clipText(body.Bytes, 100))
	}
	switch s {
	case CheckCommit, CheckRollback, CheckUnknown:
		return s, "check-back answered " + s
	}
	return CheckUnknown, fmt.Sprintf("check-back answered status %q", clipText([]byte(s), 100))
}

// clipText is at most n bytes of b, whole characters only, for a message.
func clipText(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}

// run checks back every interval until ctx ends.
func (c *checker) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := c.checkDue(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("checking back prepared events failed; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
