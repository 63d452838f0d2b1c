package partnersim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The echo (docs/partnersim.md): after every write it applies,
// the simulator sends the change back to a receiver as its own change — a
// new version, no origin — the way a system that re-emits every write it
// receives does. It is what two-way sync must not turn into ping-pong.

// Echo formats (EchoOptions.Format).
const (
	// EchoWebhook posts each change as a Standard Webhooks request
	// (https://www.standardwebhooks.com/), signed with EchoOptions.Secret.
	EchoWebhook = "webhook"
	// EchoEvents posts changes as streamsync's own ingest does take them
	// (docs/events.md, "Over HTTP"): the simulator plays our own system.
	EchoEvents = "events"
)

// Defaults of the echo.
const (
	DefaultEchoQueue    = 100_000
	DefaultEchoSenders  = 4
	DefaultEchoAttempts = 6
	DefaultEchoBackoff  = 100 * time.Millisecond
	DefaultEchoMaxWait  = 5 * time.Second
	DefaultEchoTimeout  = 10 * time.Second
	// echoMaxBatch is the most events one events-format request carries.
	echoMaxBatch = 100
	// echoMaxAnswer bounds how much of a receiver's answer is read.
	echoMaxAnswer = 64 << 10
)

// EchoOptions configure the echo; an empty URL turns it off.
type EchoOptions struct {
	// URL receives the echoes: a webhook endpoint (webhook) or streamsync's
	// ingest POST /v1/events (events).
	URL string
	// Format is EchoWebhook (the default) or EchoEvents.
	Format string
	// Secret signs webhooks: "whsec_" + base64 of the key bytes.
	Secret string
	// Token, for events, is sent as "Authorization: Bearer TOKEN" (none when empty).
	Token string
	// Delay holds each echo this long after its write before it is sent.
	Delay time.Duration
	// Queue bounds the echoes waiting to be sent, over all senders
	// (DefaultEchoQueue when 0); an echo made while its sender's queue is
	// full is dropped and counted, never waited for.
	Queue int
	// Senders is how many goroutines send (DefaultEchoSenders when 0). The
	// echoes of one record always go through the same sender, in order.
	Senders int
	// Attempts bounds the tries of one echo (DefaultEchoAttempts when 0); the
	// waits between them double from Backoff up to MaxWait.
	Attempts int
	Backoff  time.Duration
	MaxWait  time.Duration
	// Timeout bounds each request (DefaultEchoTimeout when 0).
	Timeout time.Duration
	// Client sends the requests (a client with Timeout when nil).
	Client *http.Client
}

func (o *EchoOptions) setDefaults() {
	if o.Format == "" {
		o.Format = EchoWebhook
	}
	if o.Queue <= 0 {
		o.Queue = DefaultEchoQueue
	}
	if o.Senders <= 0 {
		o.Senders = DefaultEchoSenders
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultEchoAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultEchoBackoff
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultEchoMaxWait
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultEchoTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
}

// Validate reports a format that is unknown, or a webhook secret that is
// not "whsec_" + base64 (the secret itself is never in the error).
func (o EchoOptions) Validate() error {
	if o.URL == "" {
		return nil
	}
	if !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
		return errors.New("echo url must be an http:// or https:// URL")
	}
	switch o.Format {
	case "", EchoWebhook:
		if _, err := webhookKey(o.Secret); err != nil {
			return fmt.Errorf("echo secret: %w", err)
		}
	case EchoEvents:
	default:
		return fmt.Errorf("echo format must be webhook or events, is %q", o.Format)
	}
	if o.Delay < 0 {
		return errors.New("echo delay must not be negative")
	}
	return nil
}

// webhookKey is the key of a Standard Webhooks secret: the base64 after "whsec_".
func webhookKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New(`a webhook secret is "whsec_" followed by base64`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, errors.New(`the part after "whsec_" is not base64`)
	}
	return key, nil
}

// EchoStats are the echo's counters (until /_sim/reset).
type EchoStats struct {
	// Format and URL say where echoes go ("" when the echo is off).
	Format string `json:"format,omitempty"`
	URL    string `json:"url,omitempty"`
	// Made counts echoes made (one per applied write).
	Made int64 `json:"made"`
	// Sent counts echoes the receiver accepted (a 2xx).
	Sent int64 `json:"sent"`
	// Failed counts echoes given up: refused with a 4xx other than 408 and
	// 429, or still failing after the last attempt.
	Failed int64 `json:"failed"`
	// Dropped counts echoes not queued because the queue was full.
	Dropped int64 `json:"dropped"`
	// Retries counts requests sent again after a failure.
	Retries int64 `json:"retries"`
	// Pending is how many echoes are queued or being sent.
	Pending int64 `json:"pending"`
}

// echoMsg is one change to send back; the §2 record or the crm record it
// is made from is copied when the write is applied.
type echoMsg struct {
	id    string    // webhook-id or event id
	due   time.Time // not sent before
	shard uint32
	// webhook is the webhook body; event the ingest event.
	webhook []byte
	event   map[string]any
}

// echoer queues and sends echoes.
type echoer struct {
	opts   EchoOptions
	key    []byte // the webhook key
	now    func() time.Time
	log    *slog.Logger
	prefix string // per run, so that ids never repeat across restarts
	seq    atomic.Int64
	queues []chan echoMsg

	made, sent, failed, dropped, retries, pending atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func newEchoer(opts EchoOptions, now func() time.Time, log *slog.Logger) *echoer {
	e := &echoer{opts: opts, now: now, log: log}
	e.key, _ = webhookKey(opts.Secret)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	e.prefix = hex.EncodeToString(b)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	per := max(1, opts.Queue/opts.Senders)
	for range opts.Senders {
		q := make(chan echoMsg, per)
		e.queues = append(e.queues, q)
		e.wg.Add(1)
		go e.run(q)
	}
	return e
}

// nextID is a new unique id: msg_<run>_<n> for a webhook, echo-<run>-<n>
// for an event.
func (e *echoer) nextID() string {
	n := e.seq.Add(1)
	if e.opts.Format == EchoEvents {
		return fmt.Sprintf("echo-%s-%d", e.prefix, n)
	}
	return fmt.Sprintf("msg_%s_%d", e.prefix, n)
}

// enqueue hands m to the sender of its record without waiting: a full
// queue drops it (counted). It may be called with the store's lock held.
func (e *echoer) enqueue(recordKey string, m echoMsg) {
	h := fnv.New32a()
	h.Write([]byte(recordKey))
	m.shard = h.Sum32() % uint32(len(e.queues))
	m.due = e.now().Add(e.opts.Delay)
	e.made.Add(1)
	e.pending.Add(1)
	select {
	case e.queues[m.shard] <- m:
	default:
		e.pending.Add(-1)
		e.dropped.Add(1)
	}
}

func (e *echoer) stats() EchoStats {
	return EchoStats{
		Format: e.opts.Format, URL: e.opts.URL, Made: e.made.Load(), Sent: e.sent.Load(), Failed: e.failed.Load(),
		Dropped: e.dropped.Load(), Retries: e.retries.Load(), Pending: e.pending.Load(),
	}
}

// reset zeroes the counters; queued echoes are still sent (and counted).
func (e *echoer) reset() {
	e.made.Store(e.pending.Load())
	e.sent.Store(0)
	e.failed.Store(0)
	e.dropped.Store(0)
	e.retries.Store(0)
}

// close stops the senders; echoes not sent yet are dropped. It waits for
// the senders to return (each gives up its request at once).
func (e *echoer) close() {
	e.once.Do(func() {
		e.cancel()
		e.wg.Wait()
	})
}
