package partner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/profile"
)

// A create records the partner's id; the next upsert updates by it.
func TestProfileCreateRecordsPartnerID(t *testing.T) {
	f := newProfiledFixture(t, "", nil)
	ctx := context.Background()
	e := contact("e1", "c/1", 1, "Li Lei")
	a := f.sink.Send(ctx, e)
	if a.Class != delivery.Delivered || a.Calls != 1 || a.IDMap != (idmap.Write{Op: idmap.WriteSet, ID: "p-1"}) {
		t.Fatalf("create: %+v", a)
	}
	if got := f.crm.idemKeys[0]; got != "e1" {
		t.Fatalf("Idempotency-Key %q, want the event's id", got)
	}
	f.commit(t, e, a)
	e2 := contact("e2", "c/1", 2, "Li Lei 2")
	if a := f.sink.Send(ctx, e2); a.Class != delivery.Delivered || a.Calls != 1 || a.IDMap.Op != "" {
		t.Fatalf("update: %+v", a)
	}
	if want := []string{"POST /contacts", "PATCH /contacts/p-1"}; !slices.Equal(f.crm.requests(), want) {
		t.Fatalf("requests %v, want %v", f.crm.requests(), want)
	}
	if f.crm.contacts["p-1"]["name"] != "Li Lei 2" {
		t.Fatalf("partner has %v", f.crm.contacts)
	}
}

// The partner creates the record, and the answer is lost: the retry finds
// it by our key and updates it; one record, its id kept.
func TestProfileLostCreateAnswerFindsBeforeCreatingAgain(t *testing.T) {
	f := newProfiledFixture(t, "", func(c *crm, _ *Config) { c.hijackCreate = 1 })
	ctx := context.Background()
	e := contact("e1", "c/1", 1, "Li Lei")
	a := f.sink.Send(ctx, e)
	if a.Class != delivery.Transient || a.Calls != 1 {
		t.Fatalf("lost create: %+v", a)
	}
	a = f.sink.Send(ctx, e) // the pipeline's retry of the same event
	if a.Class != delivery.Delivered || a.Calls != 2 || a.IDMap != (idmap.Write{Op: idmap.WriteSet, ID: "p-1"}) {
		t.Fatalf("retry: %+v", a)
	}
	f.commit(t, e, a)
	if n := f.crm.contactCount(); n != 1 {
		t.Fatalf("%d records at the partner, want 1", n)
	}
	if want := []string{"POST /contacts", "GET /contacts", "PATCH /contacts/p-1"}; !slices.Equal(f.crm.requests(), want) {
		t.Fatalf("requests %v, want %v", f.crm.requests(), want)
	}
	if id, _ := f.ids.Get(ctx, "contact", "c/1"); id != "p-1" {
		t.Fatalf("id map holds %q", id)
	}
}

// While another event's create of the record is in flight, a delete waits
// without a call; a delete of a record never created is delivered with
// nothing sent.
func TestProfileWaitAndNothingSendNothing(t *testing.T) {
	f := newProfiledFixture(t, "", nil)
	ctx := context.Background()
	other := contact("e0", "c/1", 1, "x")
	if p, err := f.ids.Begin(ctx, other, f.clock.Now(), time.Minute); err != nil || p.Action != idmap.Create {
		t.Fatalf("begin: %+v %v", p, err)
	}
	del := event.Event{ID: "e1", Account: other.Account, Entity: "contact", Key: "c/1", Op: event.OpDelete, Version: 2}
	a := f.sink.Send(ctx, del)
	if a.Class != delivery.Transient || a.Calls != 0 || a.RetryAfter != time.Minute {
		t.Fatalf("wait: %+v", a)
	}
	never := event.Event{ID: "e2", Account: "acc", Entity: "contact", Key: "c/never", Op: event.OpDelete, Version: 3}
	a = f.sink.Send(ctx, never)
	if a.Class != delivery.Delivered || a.Calls != 0 || a.IDMap.Op != idmap.WriteGone || !strings.Contains(a.Detail, "nothing sent") {
		t.Fatalf("delete never created: %+v", a)
	}
	if r := f.crm.requests(); len(r) != 0 {
		t.Fatalf("requests sent: %v", r)
	}
	if s := f.sink.Health().Breaker; s != BreakerClosed {
		t.Fatalf("breaker %v", s)
	}
}

// A delete of a created record deletes it by its id and notes it gone.
func TestProfileDeleteByPartnerID(t *testing.T) {
	f := newProfiledFixture(t, "", nil)
	ctx := context.Background()
	e := contact("e1", "c/1", 1, "x")
	a := f.sink.Send(ctx, e)
	f.commit(t, e, a)
	del := event.Event{ID: "e2", Account: e.Account, Entity: "contact", Key: "c/1", Op: event.OpDelete, Version: 2}
	if a := f.sink.Send(ctx, del); a.Class != delivery.Delivered || a.IDMap.Op != idmap.WriteGone {
		t.Fatalf("delete: %+v", a)
	}
	if want := []string{"POST /contacts", "DELETE /contacts/p-1"}; !slices.Equal(f.crm.requests(), want) {
		t.Fatalf("requests %v", f.crm.requests())
	}
}

// A child whose request names its parent's partner id waits
// (parent_missing, nothing sent) until the parent is delivered, then is
// sent with it.
func TestProfileChildWaitsForParentID(t *testing.T) {
	f := newProfiledFixture(t, "", nil)
	ctx := context.Background()
	parent := contact("e1", "c/1", 1, "x")
	child := event.Event{ID: "e2", Account: parent.Account, Entity: "deal", Key: "d1", Op: event.OpUpsert, Version: 1,
		ParentEntity: "contact", ParentKey: "c/1", Data: json.RawMessage(`{"amount":5}`)}
	if a := f.sink.Send(ctx, child); a.Class != delivery.ParentMissing || a.Calls != 0 {
		t.Fatalf("child first: %+v", a)
	}
	if r := f.crm.requests(); len(r) != 0 {
		t.Fatalf("requests sent: %v", r)
	}
	a := f.sink.Send(ctx, parent)
	f.commit(t, parent, a)
	if a := f.sink.Send(ctx, child); a.Class != delivery.Delivered {
		t.Fatalf("child after: %+v", a)
	}
	if got := f.crm.deals["d1"]["contact"]; got != "p-1" {
		t.Fatalf("child sent with parent %v", got)
	}
}

// 200 {"code":42900} with a rate-limit header is transient with the
// header's wait, and holds the partner's other calls; 200 {"code":0} is
// delivered; 200 {"code":…} otherwise is what the rules say.
func TestProfileAnswersInside200(t *testing.T) {
	f := newProfiledFixture(t, "", func(c *crm, _ *Config) { c.rateLimited = 1 })
	ctx := context.Background()
	e := event.Event{ID: "e1", Account: "a", Entity: "order", Key: "o1", Op: event.OpUpsert, Version: 1, Data: json.RawMessage(`{"amount":1}`)}
	a := f.sink.Send(ctx, e)
	if a.Class != delivery.Transient || a.RetryAfter != 7*time.Second || a.Status != 200 || a.Calls != 1 || !strings.Contains(a.Detail, "too many requests") {
		t.Fatalf("rate limited: %+v", a)
	}
	// The partner is held: a call within the wait does not go.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	e2 := e
	e2.ID, e2.Key = "e2", "o2"
	if a := f.sink.Send(short, e2); a.Class != delivery.Aborted || len(f.crm.requests()) != 1 {
		t.Fatalf("during the wait: %+v, requests %v", a, f.crm.requests())
	}
	f.clock.Add(8 * time.Second)
	if a := f.sink.Send(ctx, e); a.Class != delivery.Delivered || a.Status != 200 {
		t.Fatalf("code 0: %+v", a)
	}
	f.crm.mu.Lock()
	f.crm.code = 40001
	f.crm.mu.Unlock()
	if a := f.sink.Send(ctx, e); a.Class != delivery.Permanent || !strings.Contains(a.Detail, "refused") {
		t.Fatalf("code 40001: %+v", a)
	}
}

// hmacAuth signs the method, the path, a timestamp and the body as sent.
const hmacAuth = `auth:
  kind: hmac
  hmac:
    secret: hmac-secret-0123456789
    string_to_sign: "{method}\n{path}\n{timestamp}\n{body}"
    sign_header: X-Signature
    headers:
      X-Timestamp: "{timestamp}"`

// reencode is a transport that re-encodes a JSON body after it was signed,
// as a proxy or a careless client might.
type reencode struct{ next http.RoundTripper }

func (r reencode) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		var v any
		if json.Unmarshal(b, &v) == nil {
			b, _ = json.MarshalIndent(v, "", " ")
		}
		req = req.Clone(req.Context())
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	}
	return r.next.RoundTrip(req)
}

// The partner checks the signature over the bytes it receives: what the
// sink sends is what it signed, byte for byte (the rendered body), and a
// body re-encoded after signing is refused; the secret never shows.
func TestProfileHMACSignsTheBytesSent(t *testing.T) {
	const secret = "hmac-secret-0123456789"
	e := event.Event{ID: "e1", Account: "a", Entity: "order", Key: "o1", Op: event.OpUpsert, Version: 1, Data: json.RawMessage(`{"amount": 1.50, "x": "<&>"}`)}
	f := newProfiledFixture(t, hmacAuth, func(c *crm, _ *Config) { c.secret = secret })
	if a := f.sink.Send(context.Background(), e); a.Class != delivery.Delivered {
		t.Fatalf("signed: %+v", a)
	}
	want, err := f.sink.prof.p.RenderOp(profile.OpUpsert, e, profile.IDs{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.crm.bodies[0], want.Body) {
		t.Fatalf("sent %s, rendered %s", f.crm.bodies[0], want.Body)
	}
	g := newProfiledFixture(t, hmacAuth, func(c *crm, cfg *Config) {
		c.secret = secret
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return reencode{rt} }
	})
	a := g.sink.Send(context.Background(), e)
	if a.Class != delivery.Permanent || !strings.Contains(a.Detail, "signature mismatch") || strings.Contains(a.Detail, secret) {
		t.Fatalf("re-encoded after signing: %+v", a)
	}
}

// sendAll sends events at once, as the pipeline does for different
// accounts, and returns their answers in order.
func sendAll(s *Sink, es []event.Event) []delivery.Answer {
	out := make([]delivery.Answer, len(es))
	var wg sync.WaitGroup
	for i, e := range es {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.Send(context.Background(), e)
		}()
	}
	wg.Wait()
	return out
}

// A batch answered with one item failed: that item alone fails, by its
// status's meaning (422: permanent); the others are delivered; one request.
func TestProfileBulkOneItemFails(t *testing.T) {
	f := newProfiledFixture(t, "", func(c *crm, _ *Config) { c.failDeal = "b" })
	var es []event.Event
	for _, k := range []string{"a", "b", "c"} {
		es = append(es, event.Event{ID: "e-" + k, Account: "acc-" + k, Entity: "bulkdeal", Key: k, Op: event.OpUpsert, Version: 1, Data: json.RawMessage(`{"amount":1}`)})
	}
	as := sendAll(f.sink, es)
	if as[0].Class != delivery.Delivered || as[2].Class != delivery.Delivered {
		t.Fatalf("delivered items: %+v", as)
	}
	if as[1].Class != delivery.Permanent || as[1].Status != 422 || !strings.Contains(as[1].Detail, "amount must be positive") {
		t.Fatalf("failed item: %+v", as[1])
	}
	if r := f.crm.requests(); len(r) != 1 || r[0] != "POST /batch/deals" {
		t.Fatalf("requests %v", r)
	}
}

// Two events of one account never share a batch: the later waits for the
// earlier's batch.
func TestProfileBulkOneEventPerAccount(t *testing.T) {
	f := newProfiledFixture(t, "", nil)
	var es []event.Event
	for i, k := range []string{"a", "b", "c"} {
		es = append(es, event.Event{ID: "e-" + k, Account: "same", Entity: "bulkdeal", Key: k, Op: event.OpUpsert, Version: int64(i + 1), Data: json.RawMessage(`{"amount":1}`)})
	}
	for i, a := range sendAll(f.sink, es) {
		if a.Class != delivery.Delivered {
			t.Fatalf("%d: %+v", i, a)
		}
	}
	f.crm.mu.Lock()
	defer f.crm.mu.Unlock()
	if len(f.crm.bodies) != 3 {
		t.Fatalf("%d requests for 3 events of one account, want 3 batches of one", len(f.crm.bodies))
	}
}

// A batch of creates whose answer comes too late (the partner applied it):
// each item is transient; the retry finds each record by our key and
// updates it in the next batch — no duplicate, ids recorded.
func TestProfileBulkTimeoutRetriesWithoutDuplicates(t *testing.T) {
	f := newProfiledFixture(t, "", func(c *crm, cfg *Config) {
		c.slowBatch = 5 * time.Second
		cfg.Timeout = 300 * time.Millisecond
	})
	es := []event.Event{
		{ID: "e-a", Account: "acc-a", Entity: "bulkcontact", Key: "a", Op: event.OpUpsert, Version: 1, Data: json.RawMessage(`{"name":"A"}`)},
		{ID: "e-b", Account: "acc-b", Entity: "bulkcontact", Key: "b", Op: event.OpUpsert, Version: 1, Data: json.RawMessage(`{"name":"B"}`)},
	}
	for i, a := range sendAll(f.sink, es) {
		if a.Class != delivery.Transient || a.Calls != 1 {
			t.Fatalf("timed out %d: %+v", i, a)
		}
	}
	if n := f.crm.contactCount(); n != 2 {
		t.Fatalf("the partner applied %d", n)
	}
	as := sendAll(f.sink, es)
	for i, a := range as {
		if a.Class != delivery.Delivered || a.IDMap.Op != idmap.WriteSet || a.IDMap.ID == "" || a.Calls != 2 {
			t.Fatalf("retry %d: %+v", i, a)
		}
		f.commit(t, es[i], a)
	}
	if n := f.crm.contactCount(); n != 2 {
		t.Fatalf("%d records at the partner after the retry, want 2", n)
	}
	ids := map[string]bool{}
	for _, e := range es {
		id, _ := f.ids.Get(context.Background(), e.Entity, e.Key)
		ids[id] = true
		if f.crm.contacts[id]["external_id"] != e.Key {
			t.Fatalf("%s maps to %q: %v", e.Key, id, f.crm.contacts)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("ids %v", ids)
	}
}

// Without a profile nothing of the profile's path is set up.
func TestNoProfileIsTheBuiltInAPI(t *testing.T) {
	f := newFixture(t, nil)
	if f.sink.prof != nil {
		t.Fatal("a profile path without a profile")
	}
}

// A repair or backfill of a record the partner already holds (one
// streamsync never created, so the id map has no id) looks it up before
// creating it, and updates what it finds instead of making a duplicate; a
// live event's first create does not look it up (no extra call).
func TestProfileRepairFindsBeforeFirstCreate(t *testing.T) {
	f := newProfiledFixture(t, "", nil)
	ctx := context.Background()
	f.crm.mu.Lock()
	f.crm.contacts["p-77"] = map[string]any{"external_id": "c/held", "name": "old"}
	f.crm.mu.Unlock()
	repair := contact("rc-1", "c/held", 5, "new")
	repair.Origin = "reconcile"
	a := f.sink.Send(ctx, repair)
	if a.Class != delivery.Delivered || a.IDMap != (idmap.Write{Op: idmap.WriteSet, ID: "p-77"}) {
		t.Fatalf("repair: %+v", a)
	}
	if n := f.crm.contactCount(); n != 1 {
		t.Fatalf("%d records at the partner, want 1 (no duplicate)", n)
	}
	if want := []string{"GET /contacts", "PATCH /contacts/p-77"}; !slices.Equal(f.crm.requests(), want) {
		t.Fatalf("requests %v, want %v", f.crm.requests(), want)
	}
	live := contact("e-2", "c/new", 1, "x")
	if a := f.sink.Send(ctx, live); a.Class != delivery.Delivered || a.Calls != 1 {
		t.Fatalf("live first create: %+v", a)
	}
}

// An update by an id the partner no longer knows (deleted on its side, or
// the partner's store lost) makes the record again: a find first (a create
// of this path whose answer was lost leaves no note), then the create,
// whose id replaces the old one; a delete by such an id is done.
func TestProfileUpdateOfAnIDThePartnerLostMakesItAgain(t *testing.T) {
	f := newProfiledFixture(t, "", nil)
	ctx := context.Background()
	e := contact("e1", "c/1", 2, "Han Meimei")
	if _, _, err := f.ids.Set(ctx, "contact", "c/1", e.Account, "p-gone"); err != nil {
		t.Fatal(err)
	}
	a := f.sink.Send(ctx, e)
	if a.Class != delivery.Delivered || a.IDMap != (idmap.Write{Op: idmap.WriteSet, ID: "p-1"}) || a.Calls != 3 {
		t.Fatalf("update of a lost id: %+v", a)
	}
	if want := []string{"PATCH /contacts/p-gone", "GET /contacts", "POST /contacts"}; !slices.Equal(f.crm.requests(), want) {
		t.Fatalf("requests %v, want %v", f.crm.requests(), want)
	}
	if n := f.crm.contactCount(); n != 1 {
		t.Fatalf("%d records at the partner, want 1", n)
	}
	if _, _, err := f.ids.Set(ctx, "contact", "c/2", e.Account, "p-gone-too"); err != nil {
		t.Fatal(err)
	}
	del := event.Event{ID: "e2", Account: e.Account, Entity: "contact", Key: "c/2", Op: event.OpDelete, Version: 3}
	if a := f.sink.Send(ctx, del); a.Class != delivery.Delivered || a.IDMap.Op != idmap.WriteGone {
		t.Fatalf("delete of a lost id: %+v", a)
	}
}

// A delete racing its create in another process (two sinks sharing the id
// map): while the create is in flight the delete waits, sending nothing;
// once the create is answered and committed the delete's retry deletes the
// record by its id — no record is left behind. And when the delete comes
// first (nothing to delete), a create of an older version that starts later
// is stale, so it cannot leave a record behind either.
func TestProfileDeleteRacingCreateInAnotherProcess(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	f := newProfiledFixture(t, "", func(c *crm, _ *Config) { c.createHeld, c.createGo = held, release })
	other, err := New(Config{Profile: f.sink.prof.p, IDs: f.ids, Timeout: 2 * time.Second, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	ctx := context.Background()
	create := contact("e1", "c/race", 1, "x")
	del := event.Event{ID: "e2", Account: create.Account, Entity: "contact", Key: "c/race", Op: event.OpDelete, Version: 2}
	created := make(chan delivery.Answer, 1)
	go func() { created <- f.sink.Send(ctx, create) }()
	<-held // the create is at the partner, unanswered
	if a := other.Send(ctx, del); a.Class != delivery.Transient || a.Calls != 0 || a.RetryAfter <= 0 {
		t.Fatalf("delete while the create is in flight: %+v", a)
	}
	close(release)
	a := <-created
	f.commit(t, create, a)
	d := other.Send(ctx, del) // the delete's retry
	if d.Class != delivery.Delivered || d.IDMap.Op != idmap.WriteGone {
		t.Fatalf("delete after the create: %+v", d)
	}
	f.commit(t, del, d)
	if n := f.crm.contactCount(); n != 0 {
		t.Fatalf("%d records left at the partner", n)
	}

	// the other order: the delete decides nothing is there, then an older
	// create of the record begins
	del2 := event.Event{ID: "e4", Account: "acc-c/late", Entity: "contact", Key: "c/late", Op: event.OpDelete, Version: 5}
	if a := other.Send(ctx, del2); a.Class != delivery.Delivered || a.Calls != 0 {
		t.Fatalf("delete of nothing: %+v", a)
	}
	if a := f.sink.Send(ctx, contact("e3", "c/late", 4, "y")); a.Class != delivery.Stale || a.Calls != 0 {
		t.Fatalf("older create after the delete: %+v", a)
	}
	if n := f.crm.contactCount(); n != 0 {
		t.Fatalf("%d records left at the partner", n)
	}
}

// An event the bulk request cannot be rendered with fails alone; the
// others of its batch go in one request.
func TestProfileBulkBadItemFailsAlone(t *testing.T) {
	f := newProfiledFixture(t, "", nil)
	var es []event.Event
	for _, k := range []string{"a", "b", "c"} {
		amount := `1`
		if k == "b" {
			amount = `"not a number"`
		}
		es = append(es, event.Event{ID: "e-" + k, Account: "acc-" + k, Entity: "bulkdeal", Key: k, Op: event.OpUpsert, Version: 1, Data: json.RawMessage(`{"amount":` + amount + `}`)})
	}
	as := sendAll(f.sink, es)
	if as[0].Class != delivery.Delivered || as[2].Class != delivery.Delivered {
		t.Fatalf("the others: %+v", as)
	}
	if as[1].Class != delivery.Permanent || as[1].Calls != 0 || !strings.Contains(as[1].Detail, "render bulk") {
		t.Fatalf("the bad one: %+v", as[1])
	}
	if r := f.crm.requests(); len(r) != 1 || r[0] != "POST /batch/deals" {
		t.Fatalf("requests %v", r)
	}
}
