package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

// The faults of a partner reached through a profile (docs/partners.md),
// end to end: `streamsync run` as a child process with sink.profile set to
// examples/partners/crm.yaml (or a variant of it), partnersim's crm API
// over real HTTP with HMAC-signed calls, and real Redis.

// crmTestSecret is the HMAC secret the sim checks and the profile reads
// from CRM_APP_SECRET.
const crmTestSecret = "faults-crm-secret"

// crmExample is the example profile of partnersim's crm API.
const crmExample = "../../examples/partners/crm.yaml"

// crmSeen is one call the crm API got: when it came and went, and what it
// answered (code -1: the connection was closed without an answer).
type crmSeen struct {
	method, path string
	start, end   time.Time
	code         int
	reset        int64 // X-RateLimit-Reset, unix seconds
}

// crmPartner is partnersim's crm API (HMAC-signed calls) behind a real
// HTTP server that logs every crm call.
type crmPartner struct {
	sim *partnersim.Server
	url string

	mu    sync.Mutex
	calls []crmSeen
}

func newCRMPartner(t *testing.T) *crmPartner {
	t.Helper()
	sim, err := partnersim.New(partnersim.Options{API: partnersim.APICRM,
		CRM: partnersim.CRMOptions{Auth: partnersim.CRMAuthHMAC, AppKey: partnersim.DefaultCRMAppKey, Secret: crmTestSecret}})
	if err != nil {
		t.Fatal(err)
	}
	p := &crmPartner{sim: sim}
	hs := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(hs.Close)
	p.url = hs.URL
	return p
}

// capture keeps what an answer said, for the call log.
type capture struct {
	http.ResponseWriter
	body   bytes.Buffer
	status int
}

func (c *capture) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }
func (c *capture) Write(b []byte) (int, error) {
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

func (p *crmPartner) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/crm/") {
		p.sim.ServeHTTP(w, r)
		return
	}
	c := &capture{ResponseWriter: w}
	seen := crmSeen{method: r.Method, path: r.URL.Path, start: time.Now(), code: -1}
	defer func() { // also when the sim aborts the call (a panic it re-raises)
		seen.end = time.Now()
		var a struct{ Code *int }
		if c.body.Len() > 0 && json.Unmarshal(c.body.Bytes(), &a) == nil && a.Code != nil {
			seen.code = *a.Code
		}
		seen.reset, _ = strconv.ParseInt(w.Header().Get("X-RateLimit-Reset"), 10, 64)
		p.mu.Lock()
		p.calls = append(p.calls, seen)
		p.mu.Unlock()
	}()
	p.sim.ServeHTTP(c, r)
}

// seen is a copy of the call log.
func (p *crmPartner) seen() []crmSeen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]crmSeen(nil), p.calls...)
}

// count is how many calls of method to a path starting with prefix came.
func (p *crmPartner) count(method, prefix string) int {
	n := 0
	for _, c := range p.seen() {
		if c.method == method && strings.HasPrefix(c.path, prefix) {
			n++
		}
	}
	return n
}

func (p *crmPartner) faults(t *testing.T, f partnersim.Faults) {
	t.Helper()
	if err := p.sim.SetFaults(f); err != nil {
		t.Fatal(err)
	}
}

// records are the crm records carrying our key (archived ones included).
func (p *crmPartner) records(entity, key string) []partnersim.CRMRecord {
	return p.sim.CRMRecords(entity, key)
}

// lockedBuffer is a process' output, written by exec's copier while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// profileRun is streamsync run through a profile against a crmPartner,
// on streams of the test's own.
type profileRun struct {
	t    *testing.T
	rdb  *redis.Client
	keys layout.Keys
	env  []string
	crm  *crmPartner

	cmd *exec.Cmd
	out *lockedBuffer
}

// newProfileRun prepares a run of the profile file at path (not started).
func newProfileRun(t *testing.T, path string) *profileRun {
	t.Helper()
	rdb, keys, env := streams(t, "faults")
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	crm := newCRMPartner(t)
	env = append(env, "STREAMSYNC_SINK__PROFILE="+abs, "STREAMSYNC_SINK__BASE_URL="+crm.url+"/crm", "CRM_APP_SECRET="+crmTestSecret,
		"STREAMSYNC_RETRY__INITIAL=50ms", "STREAMSYNC_RETRY__MAX=1s", "STREAMSYNC_SINK__TIMEOUT=3s")
	r := &profileRun{t: t, rdb: rdb, keys: keys, env: env, crm: crm}
	t.Cleanup(r.kill)
	return r
}

// profileVariant writes examples/partners/crm.yaml — its defaults, without
// its entities' own sections (the contacts' batch upsert), which the tests
// append their own of — with each pair of replace (old, new) applied (each
// old must occur) to a file of the test.
func profileVariant(t *testing.T, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(crmExample)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if i := strings.Index(s, "\nentities:"); i >= 0 {
		s = s[:i+1]
	}
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("the example profile has no %q", replace[i])
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), "crm.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// noRequestID is the example profile without the crm's idempotency
// header: a retried create is then kept from making a duplicate by the
// find alone, as with a partner that has no such header.
func noRequestID(t *testing.T, replace ...string) string {
	return profileVariant(t, append([]string{"    idempotency_header: X-Request-Id\n", ""}, replace...)...)
}

func (r *profileRun) start() {
	r.t.Helper()
	r.kill()
	r.cmd = exec.Command(os.Args[0], "run")
	r.cmd.Env = append(append(os.Environ(), childEnv+"=1"), r.env...)
	r.out = &lockedBuffer{}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
}

// kill ends the process with SIGKILL: nothing of it runs on.
func (r *profileRun) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// entry is one ingest entry; parent is parent_entity, parent_key.
type entry struct {
	id, account, entity, key, op string
	version                      int64
	data                         string
	parent                       []string
}

func (r *profileRun) add(es ...entry) {
	r.t.Helper()
	for _, e := range es {
		v := []any{"id", e.id, "account", e.account, "entity", e.entity, "key", e.key, "op", e.op, "version", e.version}
		if e.op == "upsert" {
			v = append(v, "data", e.data)
		}
		if len(e.parent) == 2 {
			v = append(v, "parent_entity", e.parent[0], "parent_key", e.parent[1])
		}
		if err := r.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: r.keys.Events, Values: v}).Err(); err != nil {
			r.t.Fatal(err)
		}
	}
}

// step is how many times the pipeline took step (delivered, parked, …).
func (r *profileRun) step(name string) int64 {
	n, _ := r.rdb.HGet(context.Background(), r.keys.Steps, name).Int64()
	return n
}

// waitStep waits until step was taken at least n times.
func (r *profileRun) waitStep(name string, n int64, d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for r.step(name) < n {
		if time.Now().After(deadline) {
			steps, _ := r.rdb.HGetAll(context.Background(), r.keys.Steps).Result()
			r.t.Fatalf("%d %s steps after %s, want %d; steps %v; partner calls %v; process output:\n%s",
				r.step(name), name, d, n, steps, r.crm.seen(), r.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *profileRun) output() string {
	if r.out == nil {
		return ""
	}
	return tail(r.out.String(), 4000)
}

// idmapID is the partner's id `streamsync idmap get` shows for a record,
// with its kind (id, creating, gone).
func (r *profileRun) idmapID(entity, key string) (id, kind string) {
	r.t.Helper()
	out, err := cli(r.t, r.env, "idmap", "get", entity, key, "--json")
	var got struct{ Items []layout.IDMapEntry }
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got.Items) != 1 {
		r.t.Fatalf("idmap get %s %s: %v\n%s", entity, key, err, out)
	}
	return got.Items[0].ID, string(got.Items[0].Kind)
}

// oneRecord is the one live record at the partner carrying key; a test
// failure when there are none or several.
func (r *profileRun) oneRecord(entity, key string) partnersim.CRMRecord {
	r.t.Helper()
	recs := r.crm.records(entity, key)
	if len(recs) != 1 {
		r.t.Fatalf("%d records of %s %q at the partner, want 1: %+v; calls %v", len(recs), entity, key, recs, r.crm.seen())
	}
	return recs[0]
}

// A crash (SIGKILL) after the partner made the record and before its
// answer was committed: the restarted process finds the record by our key
// instead of creating it again. One record; the id map holds its id; a
// later update PATCHes that id.
func TestProfileCrashBetweenCreateAndCommit(t *testing.T) {
	r := newProfileRun(t, noRequestID(t))
	r.crm.faults(t, partnersim.Faults{CRM: partnersim.CRMFaults{AnswerDelay: partnersim.Duration(time.Minute)}})
	r.add(entry{id: "e-1", account: "acc-1", entity: "contact", key: "k-1", op: "upsert", version: 1, data: `{"name":"Ann"}`})
	r.start()
	testenv.WaitFor(t, 20*time.Second, "the create applied at the partner, its answer held", func() bool {
		return len(r.crm.records("contact", "k-1")) == 1
	})
	if _, kind := r.idmapID("contact", "k-1"); kind != "creating" {
		t.Fatalf("id map entry before the crash is %q, want creating", kind)
	}
	r.kill()
	r.crm.faults(t, partnersim.Faults{})

	r.start()
	r.waitStep("delivered", 1, 20*time.Second)
	rec := r.oneRecord("contact", "k-1")
	if id, kind := r.idmapID("contact", "k-1"); id != rec.ID || kind != "id" {
		t.Fatalf("id map holds %q (%s), the partner's record is %s", id, kind, rec.ID)
	}
	if n := r.crm.count(http.MethodPost, "/crm/v2/contact"); n != 1 {
		t.Fatalf("%d creates sent, want 1 (the one before the crash)", n)
	}

	r.add(entry{id: "e-2", account: "acc-1", entity: "contact", key: "k-1", op: "upsert", version: 2, data: `{"name":"Bea"}`})
	r.waitStep("delivered", 2, 20*time.Second)
	rec = r.oneRecord("contact", "k-1")
	if string(rec.Fields) != `{"name":"Bea"}` {
		t.Fatalf("the record holds %s after the update", rec.Fields)
	}
	calls := r.crm.seen()
	last := calls[len(calls)-1]
	if last.method != http.MethodPatch || last.path != "/crm/v2/contact/"+rec.ID {
		t.Fatalf("the update went as %s %s, want PATCH of %s", last.method, last.path, rec.ID)
	}
}

// The create's answer is lost (the partner made the record, then closed
// the connection): one record after the retry, the id map holds its id —
// by the find alone, and with the crm's idempotency header too.
// (company: the example sends it by the defaults' single create; its contacts
// go through the batch upsert, which finds by external id.)
func TestProfileLostCreateAnswer(t *testing.T) {
	for _, tt := range []struct{ name, profile string }{
		{"find", noRequestID(t)},
		{"example", crmExample},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newProfileRun(t, tt.profile)
			r.crm.faults(t, partnersim.Faults{CRM: partnersim.CRMFaults{DropCreates: 1}})
			r.add(entry{id: "e-1", account: "acc-1", entity: "company", key: "k-1", op: "upsert", version: 1, data: `{"name":"Ann"}`})
			r.start()
			r.waitStep("delivered", 1, 20*time.Second)
			rec := r.oneRecord("company", "k-1")
			if id, kind := r.idmapID("company", "k-1"); id != rec.ID || kind != "id" {
				t.Fatalf("id map holds %q (%s), the partner's record is %s", id, kind, rec.ID)
			}
			if st := r.crm.sim.CRMStats(); st.Aborted != 1 || r.step("retry_scheduled") < 1 {
				t.Fatalf("the lost answer was not a retry: %d aborted, %d retries", st.Aborted, r.step("retry_scheduled"))
			}
		})
	}
}

// A child whose parent's create is retrying (the partner is down: 503)
// waits, then is sent with the parent's partner id.
func TestProfileChildWaitsForRetriedParent(t *testing.T) {
	r := newProfileRun(t, crmExample)
	r.crm.faults(t, partnersim.Faults{Outage: true})
	r.add(entry{id: "e-p", account: "acc-1", entity: "company", key: "co-1", op: "upsert", version: 1, data: `{"name":"Acme"}`},
		entry{id: "e-c", account: "acc-1", entity: "contact", key: "k-1", op: "upsert", version: 1, data: `{"name":"Ann"}`, parent: []string{"company", "co-1"}})
	r.start()
	deadline := time.Now().Add(20 * time.Second)
	for len(r.crm.seen()) < 2 || r.step("parked") < 1 {
		if time.Now().After(deadline) {
			steps, _ := r.rdb.HGetAll(context.Background(), r.keys.Steps).Result()
			t.Fatalf("the parent not refused twice with the child waiting: steps %v, calls %v\n%s", steps, r.crm.seen(), r.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := r.crm.count(http.MethodPost, "/crm/v2/contact"); n != 0 {
		t.Fatalf("the child was sent %d times while its parent was not created", n)
	}
	r.crm.faults(t, partnersim.Faults{})
	r.waitStep("delivered", 2, 20*time.Second)
	parent, child := r.oneRecord("company", "co-1"), r.oneRecord("contact", "k-1")
	if child.ParentID != parent.ID {
		t.Fatalf("the child's parent_id is %q, the parent's id %q", child.ParentID, parent.ID)
	}
	if id, _ := r.idmapID("contact", "k-1"); id != child.ID {
		t.Fatalf("id map holds %q for the child, the partner's id is %s", id, child.ID)
	}
}

// A delete of a record that was never created is delivered with nothing
// sent, and the id map notes the record gone.
func TestProfileDeleteOfNeverCreated(t *testing.T) {
	r := newProfileRun(t, crmExample)
	r.add(entry{id: "e-1", account: "acc-1", entity: "contact", key: "never", op: "delete", version: 3})
	r.start()
	r.waitStep("delivered", 1, 20*time.Second)
	if calls := r.crm.seen(); len(calls) != 0 {
		t.Fatalf("calls sent for a delete of a record never created: %v", calls)
	}
	if st := r.crm.sim.CRMStats(); len(st.Requests) != 0 {
		t.Fatalf("the partner counted requests: %v", st.Requests)
	}
	if _, kind := r.idmapID("contact", "never"); kind != "gone" {
		t.Fatalf("id map entry %q, want gone", kind)
	}
	out, err := cli(t, r.env, "status", "--format", "json")
	var st struct{ Steps map[string]int64 }
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Steps["delivered"] != 1 || len(st.Steps) != 1 {
		t.Fatalf("status: %v\n%s", err, out)
	}
}

// 200 {"code":42900} with X-RateLimit-Reset holds the event and the
// partner: no call of any event until the reset, then both are
// delivered; 200 {"code":0} is success.
func TestProfileRateLimitInside200HoldsThePartner(t *testing.T) {
	r := newProfileRun(t, crmExample)
	r.crm.faults(t, partnersim.Faults{RetryAfter: partnersim.Duration(2 * time.Second), CRM: partnersim.CRMFaults{RateLimitNext: 1}})
	r.add(entry{id: "e-1", account: "acc-1", entity: "contact", key: "k-1", op: "upsert", version: 1, data: `{"name":"Ann"}`})
	r.start()
	r.waitStep("retry_scheduled", 1, 20*time.Second)
	var limited crmSeen
	for _, c := range r.crm.seen() {
		if c.code == partnersim.CRMCodeRateLimited {
			limited = c
		}
	}
	if limited.reset == 0 {
		t.Fatalf("no 42900 answer with a reset: %v", r.crm.seen())
	}
	reset := time.Unix(limited.reset, 0)
	// Another account's event, after the 42900: held with the partner.
	r.add(entry{id: "e-2", account: "acc-2", entity: "contact", key: "k-2", op: "upsert", version: 1, data: `{"name":"Bea"}`})
	r.waitStep("delivered", 2, 20*time.Second)
	for _, c := range r.crm.seen() {
		if c.start.After(limited.end) && c.start.Before(reset) {
			t.Errorf("%s %s at %s, before the reset %s", c.method, c.path, c.start.Format("15:04:05.000"), reset.Format("15:04:05.000"))
		}
	}
	r.oneRecord("contact", "k-1")
	r.oneRecord("contact", "k-2")
	if st := r.crm.sim.CRMStats(); st.Codes["0"] < 2 {
		t.Fatalf("answers %v", st.Codes)
	}
}

// A profile error stops `streamsync run` at start-up, exit code ≠ 0, with
// a message naming the profile, the setting (entity and field) and its
// line; `streamsync partner preview` shows the same message.
func TestProfileErrorStopsStartUp(t *testing.T) {
	_, _, env := streams(t, "faults")
	evFile := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(evFile, []byte(`{"id":"e-1","account":"a","entity":"contact","key":"k","op":"upsert","version":1,"data":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	update := func(path, body string) string {
		return "entities:\n  contact:\n    update:\n      method: PATCH\n      path: " + path + "\n      body: '" + body + "'\n"
	}
	// the lines of the example's defaults, which the sections appended follow
	lines := func(path string) int {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "\n")
	}
	base := lines(profileVariant(t))
	noDelete := profileVariant(t, "  delete:\n    method: DELETE\n    path: /v2/{entity}/{partner_id}\n", "")
	noDeleteBase := lines(noDelete)
	for _, tt := range []struct {
		name    string
		profile string
		secret  bool // CRM_APP_SECRET set
		want    string
	}{
		{"bad jq", profileAppend(t, update("/v2/{entity}/{partner_id}", "{fields: .data")), true,
			fmt.Sprintf("profile crm: entities.contact.update.body (line %d): jq: unexpected EOF", base+6)},
		{"unknown placeholder", profileAppend(t, update("/v2/{entity}/{partner_idd}", "{fields: .data}")), true,
			fmt.Sprintf("profile crm: entities.contact.update.path (line %d): unknown placeholder {partner_idd}", base+5)},
		{"delete with no request", noDelete, true, ""}, // no entity names a delete: appended below
		{"hmac without a secret", profileVariant(t, "    secret: env:CRM_APP_SECRET\n", ""), true,
			"profile crm: auth.hmac.secret (line 13): required: an HMAC needs a secret"},
		{"hmac secret not set", crmExample, false,
			"profile crm: auth.hmac.secret (line 15): environment variable CRM_APP_SECRET is not set"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "delete with no request" {
				appendTo(t, tt.profile, "entities:\n  contact: {}\n")
				tt.want = fmt.Sprintf("profile crm: entities.contact.delete (line %d): no request for this op, here or in defaults", noDeleteBase+2)
			}
			abs, _ := filepath.Abs(tt.profile)
			e := append(append([]string(nil), env...), "STREAMSYNC_SINK__PROFILE="+abs)
			if tt.secret {
				e = append(e, "CRM_APP_SECRET="+crmTestSecret)
			}
			var outs []string
			for _, args := range [][]string{{"run"}, {"partner", "preview", "--event", evFile}} {
				out, code := runChild(t, e, args...)
				outs = append(outs, out)
				if code == 0 {
					t.Errorf("streamsync %s exited 0, want a non-zero exit\n%s", args[0], out)
				}
				if want := "streamsync: sink.profile: " + tt.want; !strings.HasPrefix(out, want) {
					t.Errorf("streamsync %s says\n%s\nwant it to start %q", args[0], out, want)
				}
			}
			if outs[0] != outs[1] {
				t.Errorf("run says\n%s\npartner preview says\n%s", outs[0], outs[1])
			}
		})
	}
}

// runChild runs streamsync with args to its end, in env (and nothing of
// the test's environment that names CRM_APP_SECRET); its output and exit
// code.
func runChild(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CRM_APP_SECRET=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, childEnv+"=1"), env...)
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b)), cmd.ProcessState.ExitCode()
}

// profileAppend is the example profile with text added at its end.
func profileAppend(t *testing.T, text string) string {
	t.Helper()
	path := profileVariant(t)
	appendTo(t, path, text)
	return path
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(path, append(b, text...), 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// bulkProfile is the example with contacts upserted through the crm's
// batch_upsert (100 a request), each item's code judged for its own
// event, and a 2 s timeout a call.
func bulkProfile(t *testing.T) string {
	return profileVariant(t, "  timeout: 10s\n", "  timeout: 2s\n", "  read:\n", `  bulk:
    size: 100
    linger: 300ms
    request:
      method: POST
      path: /v2/{entity}/batch_upsert
      body: '{items: [.[] | {external_id: .key, owner: .account, fields: .data}]}'
    results: >-
      .data.results | map({ok: (.code == 0), id: .id, error: .msg,
        status: (if .code == 0 then 200 elif .code == 42900 then 429 elif .code >= 50000 then 503 else 400 end)})
  read:
`)
}

// Bulk through the pipeline: one item refused → only its event dies, the
// others of the batch are delivered once; a batch applied and then timed
// out is retried without a duplicate, and the id map holds each record's id.
func TestProfileBulkItemFailsAndBatchTimesOut(t *testing.T) {
	r := newProfileRun(t, bulkProfile(t))
	r.crm.faults(t, partnersim.Faults{RejectPrefix: "bad-"})
	r.add(entry{id: "e-1", account: "acc-1", entity: "contact", key: "ok-1", op: "upsert", version: 1, data: `{"n":1}`},
		entry{id: "e-2", account: "acc-2", entity: "contact", key: "bad-2", op: "upsert", version: 1, data: `{"n":2}`},
		entry{id: "e-3", account: "acc-3", entity: "contact", key: "ok-3", op: "upsert", version: 1, data: `{"n":3}`})
	r.start()
	r.waitStep("delivered", 2, 20*time.Second)
	testenv.WaitFor(t, 10*time.Second, "the refused item dead-lettered", func() bool { return r.rdb.XLen(context.Background(), r.keys.Dead).Val() == 1 })
	dead, _ := r.rdb.XRange(context.Background(), r.keys.Dead, "-", "+").Result()
	if d := dead[0].Values; d["id"] != "e-2" || d["dead_reason"] != "rejected" {
		t.Fatalf("dead letter %v", d)
	}
	if n := r.crm.count(http.MethodPost, "/crm/v2/contact/batch_upsert"); n != 1 || r.step("retry_scheduled") != 0 {
		t.Fatalf("%d batches, %d retries: one item's failure touched the others", n, r.step("retry_scheduled"))
	}
	for _, k := range []string{"ok-1", "ok-3"} {
		if id, _ := r.idmapID("contact", k); id != r.oneRecord("contact", k).ID {
			t.Fatalf("id map holds %q for %s", id, k)
		}
	}

	r.crm.faults(t, partnersim.Faults{CRM: partnersim.CRMFaults{HangBulk: 1}})
	r.add(entry{id: "e-4", account: "acc-4", entity: "contact", key: "h-4", op: "upsert", version: 1, data: `{"n":4}`},
		entry{id: "e-5", account: "acc-5", entity: "contact", key: "h-5", op: "upsert", version: 1, data: `{"n":5}`})
	r.waitStep("delivered", 4, 30*time.Second)
	if st := r.crm.sim.CRMStats(); st.Aborted != 1 || r.step("retry_scheduled") < 2 {
		t.Fatalf("the hung batch was not retried: %d aborted, %d retries", st.Aborted, r.step("retry_scheduled"))
	}
	if d := r.crm.sim.CRMDuplicates("contact"); len(d) != 0 {
		t.Fatalf("duplicates at the partner: %v", d)
	}
	for _, k := range []string{"h-4", "h-5"} {
		if id, _ := r.idmapID("contact", k); id != r.oneRecord("contact", k).ID {
			t.Fatalf("id map holds %q for %s", id, k)
		}
	}
}

func (c crmSeen) String() string {
	return fmt.Sprintf("%s %s→%d", c.method, c.path, c.code)
}
