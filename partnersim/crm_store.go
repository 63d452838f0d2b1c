package partnersim

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// crmZone is the offset the crm API writes its times in.
var crmZone = time.FixedZone("+08:00", 8*3600)

// CRMRecord is one record of the crm API, as its answers show it.
type CRMRecord struct {
	ID         string          `json:"id"`
	ExternalID string          `json:"external_id"`
	Owner      string          `json:"owner"`
	Fields     json.RawMessage `json:"fields"`
	ParentID   string          `json:"parent_id,omitempty"`
	UpdatedAt  string          `json:"updated_at"` // RFC 3339, seconds, +08:00
	Archived   bool            `json:"archived"`

	entity  string
	updated time.Time // UpdatedAt as a time (touch sets both)
}

// crmEntity holds one entity's records in id order (= creation order) and by
// external id.
type crmEntity struct {
	recs  []*CRMRecord
	byExt map[string][]*CRMRecord
}

// crmReplay is a remembered create answer, by X-Request-Id.
type crmReplay struct {
	entity string
	body   []byte
}

type crmNonce struct {
	nonce   string
	expires int64 // unix ns
}

// crmStore is the crm API's own record store, behind its own lock; it never
// takes Server.mu (Server.mu may be held while it is locked: reset).
type crmStore struct {
	opts    CRMOptions
	idemMax int

	mu       sync.Mutex
	rng      *rand.Rand
	seq      int64
	byID     map[string]*CRMRecord
	entities map[string]*crmEntity
	replays  map[string]crmReplay
	replayQ  []string
	nonces   map[string]int64
	nonceQ   []crmNonce
	window   int64 // start of the rate window, unix ns
	used     int
	stats    CRMStats
}

// CRMStats are the crm API's counters (until /_sim/reset).
type CRMStats struct {
	// Requests counts calls by method and route, e.g. "POST /crm/v2/contact",
	// "PATCH /crm/v2/contact/{id}", "POST /crm/v2/contact/batch_upsert".
	Requests map[string]int64 `json:"requests"`
	// Codes counts answers by their "code" ("0", "40001", "50300" …).
	Codes map[string]int64 `json:"codes"`
	// Records is how many records exist (archived ones included).
	Records int64 `json:"records"`
	// Replays counts creates answered from memory for a repeated X-Request-Id.
	Replays int64 `json:"replays"`
	// Aborted counts calls whose connection was closed without an answer
	// (drop_creates, hang_bulk, or the client gone during a delay).
	Aborted int64 `json:"aborted"`
}

// crmMaxRoutes bounds the distinct routes counted; more are counted as "other".
const crmMaxRoutes = 10_000

func newCRMStore(opts CRMOptions, idemMax int, seed uint64) *crmStore {
	c := &crmStore{opts: opts, idemMax: idemMax, rng: rand.New(rand.NewPCG(seed^0x5bd1e995, seed))}
	c.reset()
	return c
}

func (c *crmStore) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq = 0
	c.byID = map[string]*CRMRecord{}
	c.entities = map[string]*crmEntity{}
	c.replays = map[string]crmReplay{}
	c.replayQ = nil
	c.nonces = map[string]int64{}
	c.nonceQ = nil
	c.window, c.used = 0, 0
	c.stats = CRMStats{Requests: map[string]int64{}, Codes: map[string]int64{}}
}

func (c *crmStore) entity(name string) *crmEntity {
	e := c.entities[name]
	if e == nil {
		e = &crmEntity{byExt: map[string][]*CRMRecord{}}
		c.entities[name] = e
	}
	return e
}

// add stores a new record and gives it the next id; c.mu is held. It is
// false when the store holds MaxRecords.
func (c *crmStore) add(r *CRMRecord) bool {
	if len(c.byID) >= c.opts.MaxRecords {
		return false
	}
	c.seq++
	r.ID = crmID(c.seq)
	c.byID[r.ID] = r
	e := c.entity(r.entity)
	e.recs = append(e.recs, r)
	e.byExt[r.ExternalID] = append(e.byExt[r.ExternalID], r)
	c.stats.Records++
	return true
}

// crmID is the id of the n-th record: c_000001 … c_999999, then c_1000000 …
// (ids are compared by their number, not as text).
func crmID(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) < 6 {
		s = "000000"[len(s):] + s
	}
	return "c_" + s
}

// get is the record id of entity; c.mu is held.
func (c *crmStore) get(entity, id string) *CRMRecord {
	r := c.byID[id]
	if r == nil || r.entity != entity {
		return nil
	}
	return r
}

// live is the first record of entity with the external id that is not
// archived; c.mu is held.
func (c *crmStore) live(entity, externalID string) *CRMRecord {
	e := c.entities[entity]
	if e == nil {
		return nil
	}
	for _, r := range e.byExt[externalID] {
		if !r.Archived {
			return r
		}
	}
	return nil
}

// parentOK tells whether id names a record that is not archived; c.mu is held.
func (c *crmStore) parentOK(id string) bool {
	p := c.byID[id]
	return p != nil && !p.Archived
}

// remember keeps a create's answer under its X-Request-Id, the oldest going
// first past idemMax; c.mu is held.
func (c *crmStore) remember(requestID, entity string, body []byte) {
	c.replays[requestID] = crmReplay{entity: entity, body: body}
	c.replayQ = append(c.replayQ, requestID)
	if len(c.replayQ) > c.idemMax {
		delete(c.replays, c.replayQ[0])
		c.replayQ = c.replayQ[1:]
	}
}

// useNonce records a nonce seen at now; false when it was seen within the
// sign window. At most idemMax nonces are kept.
func (c *crmStore) useNonce(nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := now.UnixNano()
	for len(c.nonceQ) > 0 && (c.nonceQ[0].expires <= ns || len(c.nonceQ) >= c.idemMax) {
		if c.nonces[c.nonceQ[0].nonce] == c.nonceQ[0].expires {
			delete(c.nonces, c.nonceQ[0].nonce)
		}
		c.nonceQ = c.nonceQ[1:]
	}
	if exp, ok := c.nonces[nonce]; ok && exp > ns {
		return false
	}
	exp := ns + int64(c.opts.SignWindow)
	c.nonces[nonce] = exp
	c.nonceQ = append(c.nonceQ, crmNonce{nonce, exp})
	return true
}

// take counts a call against the fixed rate window; over is true when the
// window was already used up.
func (c *crmStore) take(now time.Time) (ri rateInfo, over bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	over = c.used >= c.opts.RateLimit
	if !over {
		c.used++
	}
	return c.rateLocked(), over
}

// peek is the rate window's state without counting a call.
func (c *crmStore) peek(now time.Time) rateInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	return c.rateLocked()
}

func (c *crmStore) roll(now time.Time) {
	w := int64(c.opts.RateWindow)
	if start := now.UnixNano() / w * w; start != c.window {
		c.window, c.used = start, 0
	}
}

func (c *crmStore) rateLocked() rateInfo {
	end := c.window + int64(c.opts.RateWindow)
	reset := (end + int64(time.Second) - 1) / int64(time.Second)
	return rateInfo{limit: c.opts.RateLimit, remaining: c.opts.RateLimit - c.used, reset: reset}
}

// count adds one call of route answered with code.
func (c *crmStore) count(route string, code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.stats.Requests[route]; !ok && len(c.stats.Requests) >= crmMaxRoutes {
		route = "other"
	}
	c.stats.Requests[route]++
	c.stats.Codes[strconv.Itoa(code)]++
}

func (c *crmStore) countAborted() {
	c.mu.Lock()
	c.stats.Aborted++
	c.mu.Unlock()
}
