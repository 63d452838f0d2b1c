package partner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/apiclient"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/profile"
)

// A bulk entity's upserts (docs/partners.md, "Bulk") are gathered from
// concurrent Sends into batches of up to the profile's size, each waiting
// at most its linger for more, and sent as one request; every Send gets
// its own item's answer. A batch holds at most one event per account, so
// per-account order holds: the pipeline has one delivery per account in
// flight, and an event of an account already in the open batch waits for
// that batch to be answered before it joins the next.

// batcher gathers one entity's batches.
type batcher struct {
	s      *Sink
	entity string
	size   int
	linger time.Duration

	mu   sync.Mutex
	open *batch // the batch taking events; nil: none
}

// batch is one bulk request's events; done is closed once each item's
// answer is set.
type batch struct {
	items    []*bulkItem
	accounts map[string]bool
	sealed   bool
	timer    *time.Timer
	done     chan struct{}
}

type bulkItem struct {
	e   event.Event
	ids profile.IDs
	g   delivery.Guard
	out result
}

// batcherOf is the batcher of entity, made on first use.
func (s *Sink) batcherOf(entity string) *batcher {
	pr := s.prof
	pr.mu.Lock()
	defer pr.mu.Unlock()
	b := pr.bulks[entity]
	if b == nil {
		size, linger, _ := pr.p.Bulk(entity)
		b = &batcher{s: s, entity: entity, size: max(1, size), linger: linger}
		pr.bulks[entity] = b
	}
	return b
}

// sendBulk sends e (an upsert of a bulk entity, ids its partner ids) in a
// batch and returns its item's answer. g is asked before e joins a batch
// (the batch's one call goes for every item) and told when the batch's
// call may still be at the partner.
func (s *Sink) sendBulk(ctx context.Context, e event.Event, ids profile.IDs, g delivery.Guard) result {
	if err := check(ctx, g); err != nil {
		return noCallAnswer(delivery.Aborted, err.Error())
	}
	return s.batcherOf(e.Entity).submit(ctx, &bulkItem{e: e, ids: ids, g: g})
}

// submit adds it to the open batch (opening one, with its linger timer,
// when there is none) and waits for its answer; a full batch goes at once.
func (b *batcher) submit(ctx context.Context, it *bulkItem) result {
	for {
		b.mu.Lock()
		bt := b.open
		if bt != nil && bt.accounts[it.e.Account] {
			// Never two events of one account in a batch: wait for the
			// batch that holds the other one.
			b.mu.Unlock()
			b.s.log.Warn("two events of one account in flight at once; the later waits for the earlier's batch",
				"entity", b.entity, "account", it.e.Account, "event_id", it.e.ID)
			select {
			case <-bt.done:
				continue
			case <-ctx.Done():
				return noCallAnswer(delivery.Aborted, ctx.Err().Error())
			}
		}
		if bt == nil {
			bt = &batch{accounts: map[string]bool{}, done: make(chan struct{})}
			b.open = bt
			bt.timer = time.AfterFunc(b.linger, func() { b.seal(bt) })
		}
		bt.items = append(bt.items, it)
		bt.accounts[it.e.Account] = true
		full := len(bt.items) >= b.size
		b.mu.Unlock()
		if full {
			b.seal(bt)
		}
		select {
		case <-bt.done:
			return it.out
		case <-ctx.Done():
			// The batch goes without waiting for us: the partner may get
			// this event, whose delivery ends unanswered.
			if it.g != nil {
				it.g.Unsettled()
			}
			return result{Answer: delivery.Answer{Class: delivery.Aborted, Detail: ctx.Err().Error()}, unsettled: true}
		}
	}
}

// seal closes bt to new events and sends it, once.
func (b *batcher) seal(bt *batch) {
	b.mu.Lock()
	if bt.sealed {
		b.mu.Unlock()
		return
	}
	bt.sealed = true
	if b.open == bt {
		b.open = nil
	}
	bt.timer.Stop()
	b.mu.Unlock()
	go b.send(bt)
}

// send makes bt's request and sets each item's answer. The call is the
// sink's, not any one Send's: it ends when the sink closes, or by the
// profile's timeout.
func (b *batcher) send(bt *batch) {
	defer close(bt.done)
	s := b.s
	items, events, rd, err := b.render(bt.items)
	if len(items) == 0 {
		return
	}
	if err != nil { // render rendered each alone; a batch of them fails as one
		for _, it := range items {
			it.out = noCallAnswer(delivery.Permanent, s.scrub(fmt.Sprintf("render bulk: %v", err)))
		}
		return
	}
	rp := s.exchange(s.prof.stop, nil, call{op: profile.OpUpsert, entity: b.entity, r: rd, key: batchKey(events)})
	rp.Detail = s.scrub(rp.Detail)
	if rp.unsettled {
		for _, it := range items {
			if it.g != nil {
				it.g.Unsettled()
			}
		}
	}
	if rp.Class != delivery.Delivered {
		// The batch failed as a whole: each item has its answer; the
		// breaker hears of it once.
		for i, it := range items {
			it.out = rp.result
			it.out.Detail = "bulk: " + rp.Detail
			it.out.batched = i > 0
		}
		return
	}
	results, err := s.prof.p.BulkResults(b.entity, rp.body, events)
	if err == nil && len(results) != len(items) {
		err = fmt.Errorf("%d results for %d items", len(results), len(items))
	}
	if err != nil {
		// The partner may have acted on some items: each is tried again
		// (a create is found before it is sent again).
		for i, it := range items {
			it.out = rp.result
			it.out.Class = delivery.Transient
			it.out.Detail = s.scrub(fmt.Sprintf("bulk: %d: the per-item results cannot be read: %v", rp.Status, err))
			it.out.batched = i > 0
		}
		return
	}
	for i, it := range items {
		it.out = b.itemAnswer(rp.result, it, results[i])
	}
}

// render renders the batch of items; when that fails it drops (answering
// them) each event the bulk request cannot be rendered with, tried alone, so
// that one event's bad data fails that event only, and renders the rest.
// It returns the items sent and their events; err is the rest's failure as
// a batch.
func (b *batcher) render(items []*bulkItem) ([]*bulkItem, []event.Event, profile.Rendered, error) {
	s := b.s
	build := func(items []*bulkItem) ([]event.Event, profile.Rendered, error) {
		events := make([]event.Event, len(items))
		ids := make([]profile.IDs, len(items))
		for i, it := range items {
			events[i], ids[i] = it.e, it.ids
		}
		rd, err := s.prof.p.RenderBulk(b.entity, events, ids)
		return events, rd, err
	}
	events, rd, err := build(items)
	if err == nil {
		return items, events, rd, nil
	}
	var ok []*bulkItem
	for _, it := range items {
		if _, err := s.prof.p.RenderBulk(b.entity, []event.Event{it.e}, []profile.IDs{it.ids}); err != nil {
			it.out = noCallAnswer(delivery.Permanent, s.scrub(fmt.Sprintf("render bulk: %v", err)))
			continue
		}
		ok = append(ok, it)
	}
	if len(ok) == 0 {
		return nil, nil, profile.Rendered{}, nil
	}
	events, rd, err = build(ok)
	return ok, events, rd, err
}

// itemAnswer is one item's answer from its result in a batch answered 2xx
// (call): ok is delivered (with the partner's id, when one came back); a
// status is judged by the answer rules, else by its built-in meaning; a
// failure without a status (an error, or no result for the item) is
// transient: retried, then dead-lettered exhausted — a result's status
// (a 4xx) is what makes an item's failure permanent.
func (b *batcher) itemAnswer(call result, it *bulkItem, res profile.ItemResult) result {
	s := b.s
	out := call
	out.unsettled = false
	switch {
	case res.OK:
		out.Class, out.Detail = delivery.Delivered, fmt.Sprintf("bulk: %d", call.Status)
		if res.ID != "" {
			out.IDMap = idmap.Write{Op: idmap.WriteSet, ID: res.ID}
		} else if it.ids.Self == "" && s.prof.p.AssignsIDs(it.e.Entity) {
			out.Class, out.Detail = delivery.Permanent, "bulk: created, but the item's result holds no partner id"
		}
	case res.Status != 0:
		a, _ := s.judge(b.entity, http.MethodPut, res.Status, http.Header{}, apiclient.Body{}, nil)
		out.Class, out.RetryAfter, out.Status = a.Class, a.RetryAfter, res.Status
		out.Detail = "bulk item: " + a.Detail
		if res.Error != "" {
			out.Detail += ": " + clip(res.Error, 200)
		}
	default:
		out.Class, out.Detail = delivery.Transient, "bulk item failed: "+clip(res.Error, 200)
	}
	out.Detail = s.scrub(out.Detail)
	return out
}

// batchKey is a bulk request's idempotency key: the SHA-256 of its events'
// keys, so the same batch sent again carries the same key.
func batchKey(events []event.Event) string {
	keys := make([]string, len(events))
	for i, e := range events {
		keys[i] = e.IdemKey()
	}
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return hex.EncodeToString(sum[:])
}
