package poll_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/poll"
)

const t0 = int64(1_799_999_000_000) // the partner's clock, unix ms

// A first poll reads every record once, pages and all, and moves the
// cursor to the newest updated time; the next asks from the cursor less
// the overlap, whose re-reads are not appended again, a change made since
// is, and a change committed late with an earlier time, inside the
// overlap, is found.
func TestPollFindsChangesOnceAndOverlapRereadsNotAgain(t *testing.T) {
	s := newSetup(t)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		s.partner.put(k, int64(i+1), t0+int64(i)*20_000)
	}
	p := s.poller(t)
	ctx := context.Background()
	if err := p.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	refs := s.app.refs()
	if len(refs) != 5 || refs[0] != "poll/contact/1799999000000/1/a" || refs[4] != "poll/contact/1799999080000/5/e" {
		t.Fatalf("first poll appended %v", refs)
	}
	if q := s.partner.queries(); len(q) != 3 || !strings.Contains(q[0], "updated_since=0") {
		t.Fatalf("first poll asked %v", q)
	}
	if c := s.app.seen[refs[0]]; c.Entity != "contact" || c.Account != "acc-1" || c.Version != 1 || string(c.Data) != `{"v":1}` || c.ParentEntity != "company" || c.ParentKey != "co-1" {
		t.Fatalf("change %+v", c)
	}
	st := s.state(t)
	if st.Cursor.UnixMilli() != t0+80_000 || st.Listing || st.CaughtUp != s.clock.Now() {
		t.Fatalf("state after the first poll %+v", st)
	}

	// b changed since; c's change was committed late, stamped before the cursor but inside the overlap.
	s.partner.put("b", 7, t0+100_000)
	s.partner.put("c", 8, t0+50_000)
	s.clock.advance(time.Minute)
	if err := p.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	q := s.partner.queries()
	if !strings.Contains(q[3], "updated_since=1799999020000") {
		t.Fatalf("second poll asked %s, want the cursor less a minute", q[3])
	}
	again := s.app.refs()[5:]
	slices.Sort(again)
	want := []string{"poll/contact/1799999050000/8/c", "poll/contact/1799999100000/7/b"}
	if !slices.Equal(again, want) {
		t.Fatalf("second poll appended %v, want %v (d and e, read again, appended before)", again, want)
	}
	if n := s.app.distinct(); n != 7 {
		t.Fatalf("%d distinct changes, want 7", n)
	}
	if got := s.state(t).Cursor.UnixMilli(); got != t0+100_000 {
		t.Fatalf("cursor %d", got)
	}
	if n := metric(t, s, "streamsync_poll_changes_total"); n != 7 {
		t.Fatalf("changes_total %v", n)
	}
}

// A poll stopped at its page cap keeps the listing's position; a new
// Poller (another process, or this one restarted) goes on from the next
// page, not from the first, and only the listing's end moves the cursor.
func TestPollResumesAcrossPollers(t *testing.T) {
	s := newSetup(t)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		s.partner.put(k, 1, t0+int64(i)*1000)
	}
	capped := func(c *poll.Config) { c.MaxPages = 1 }
	ctx := context.Background()
	if err := s.poller(t, capped).PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.state(t)
	if !st.Listing || st.Position != "c:b" || !st.Cursor.IsZero() || st.Max.UnixMilli() != t0+1000 {
		t.Fatalf("state after one page %+v", st)
	}
	s.clock.advance(time.Minute) // the listing's duration comes off the cursor
	if err := s.poller(t, capped).PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.poller(t).PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	q := s.partner.queries()
	if len(q) != 3 || !strings.Contains(q[1], "cursor=b") || !strings.Contains(q[2], "cursor=d") || !strings.Contains(q[2], "updated_since=0") {
		t.Fatalf("asked %v", q)
	}
	if r := s.app.refs(); len(r) != 5 {
		t.Fatalf("appended %v", r)
	}
	st = s.state(t)
	if st.Listing || st.Cursor.UnixMilli() != t0+4000-60_000 {
		t.Fatalf("state at the listing's end %+v (cursor %d)", st, st.Cursor.UnixMilli())
	}
}

// A failed append (a crash before it, as far as Redis knows) leaves the
// cursor and the listing's position where they were: the next poll reads
// the same page again, and its re-read changes carry the same refs.
func TestCrashBeforeAppendKeepsCursor(t *testing.T) {
	s := newSetup(t)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		s.partner.put(k, 1, t0+int64(i)*20_000)
	}
	ctx := context.Background()
	p := s.poller(t)
	if err := p.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	before := s.state(t)
	s.partner.put("f", 1, t0+100_000)
	s.partner.put("g", 1, t0+110_000)
	s.app.failAt = 6 // the second poll reads b…g (the overlap reaches back to b), passes b…e by (appended before), then fails on f
	s.clock.advance(time.Minute)
	if err := p.PollOnce(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("poll with a failing append: %v", err)
	}
	if st := s.state(t); st.Cursor != before.Cursor || st.Position != "c:e" || st.Max.UnixMilli() != t0+80_000 {
		t.Fatalf("state after the failed append %+v (before %+v)", st, before)
	}
	if n := metric(t, s, "streamsync_poll_errors_total"); n != 1 {
		t.Fatalf("errors_total %v", n)
	}
	s.app.failAt = 0
	if err := p.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if q := s.partner.queries(); !strings.Contains(q[len(q)-1], "cursor=e") {
		t.Fatalf("the retry did not go on from the kept page: %v", q)
	}
	if st := s.state(t); st.Cursor.UnixMilli() != t0+110_000 || st.Listing {
		t.Fatalf("state after the retry %+v", st)
	}
	if n := s.app.distinct(); n != 7 {
		t.Fatalf("%d distinct changes, want 7", n)
	}
}

// One process at a time polls a partner: while one holds the lease,
// another's poll asks the partner nothing; and a poller whose lease was
// taken over mid-poll writes nothing more.
func TestLeaseKeepsOnePollerAtATime(t *testing.T) {
	s := newSetup(t)
	for i, k := range []string{"a", "b", "c"} {
		s.partner.put(k, 1, t0+int64(i)*1000)
	}
	ctx := context.Background()
	a, b := s.poller(t), s.poller(t)

	inside, release := make(chan struct{}), make(chan struct{})
	first := true
	s.partner.hook = func() {
		if first {
			first = false
			close(inside)
			<-release
		}
	}
	done := make(chan error, 1)
	go func() { done <- a.PollOnce(ctx) }()
	<-inside
	if err := b.PollOnce(ctx); !errors.Is(err, poll.ErrBusy) {
		t.Fatalf("second poller while the first polls: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if q := s.partner.queries(); len(q) != 2 {
		t.Fatalf("the partner was asked %d times, want the first poller's 2", len(q))
	}
	if err := b.PollOnce(ctx); err != nil {
		t.Fatalf("the second poller once the lease is free: %v", err)
	}

	// The lease taken over while a page is read: nothing is written.
	before := s.state(t)
	s.partner.put("d", 1, t0+9000)
	rdb := testenv.Redis(t)
	s.partner.hook = func() { rdb.Set(ctx, s.cfg.LeaseKey, "someone-else", time.Minute) }
	s.clock.advance(time.Minute)
	if err := a.PollOnce(ctx); err == nil || !strings.Contains(err.Error(), "lease") {
		t.Fatalf("poll whose lease was taken over: %v", err)
	}
	if st := s.state(t); st != before {
		t.Fatalf("state written without the lease: %+v, was %+v", st, before)
	}
	if v, _ := rdb.Get(ctx, s.cfg.LeaseKey).Result(); v != "someone-else" {
		t.Fatalf("the other holder's lease was released: %q", v)
	}
}

// A partner that is down fails the poll, counted and logged, and Run tries
// again at the next tick of its clock, from the same cursor.
func TestErrorsCountedAndRetriedAtNextTick(t *testing.T) {
	s := newSetup(t)
	s.partner.put("a", 1, t0)
	s.partner.setFail(http.StatusServiceUnavailable)
	p := s.poller(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	testenv.WaitFor(t, 10*time.Second, "the first poll to fail", func() bool {
		return metric(t, s, "streamsync_poll_errors_total") == 1 && s.clock.waiting()
	})
	if st := s.state(t); st != (poll.State{}) {
		t.Fatalf("state after a failed poll %+v", st)
	}
	s.partner.setFail(0)
	s.clock.tick(time.Minute)
	testenv.WaitFor(t, 10*time.Second, "the next poll to append", func() bool { return len(s.app.refs()) == 1 && s.clock.waiting() })
	if st := s.state(t); st.Cursor.UnixMilli() != t0 {
		t.Fatalf("state after the retry %+v", st)
	}
	if age := metric(t, s, "streamsync_poll_cursor_age_seconds"); age != 0 {
		t.Fatalf("cursor age %v right after a listing read to its end", age)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A listing position the partner refuses (an expired cursor) starts that
// listing again from its first page.
func TestRefusedPositionRestartsListing(t *testing.T) {
	s := newSetup(t)
	for i, k := range []string{"a", "b", "c"} {
		s.partner.put(k, 1, t0+int64(i)*1000)
	}
	ctx := context.Background()
	if err := s.poller(t, func(c *poll.Config) { c.MaxPages = 1 }).PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	s.partner.setFail(http.StatusBadRequest)
	if err := s.poller(t).PollOnce(ctx); err == nil {
		t.Fatal("a refused page did not fail")
	}
	if st := s.state(t); !st.Listing || st.Position != "" {
		t.Fatalf("state after a refused position %+v", st)
	}
	s.partner.setFail(0)
	if err := s.poller(t).PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if q := s.partner.queries(); strings.Contains(q[len(q)-2], "cursor=") {
		t.Fatalf("the listing did not start again: %v", q)
	}
	if st := s.state(t); st.Listing || st.Cursor.UnixMilli() != t0+2000 {
		t.Fatalf("state %+v", st)
	}
}

// Settings that cannot work stop New, naming the setting.
func TestConfigErrors(t *testing.T) {
	s := newSetup(t)
	for name, tc := range map[string]struct {
		mod  func(*poll.Config)
		want string
	}{
		"no entities":   {func(c *poll.Config) { c.Entities = nil }, "partners.sim.poll.entities"},
		"cannot poll":   {func(c *poll.Config) { c.Profile, _ = noSinceProfile(t) }, "cannot poll contact"},
		"other slots":   {func(c *poll.Config) { c.LeaseKey = "{other}:lease" }, "different Cluster slots"},
		"negative lap":  {func(c *poll.Config) { c.Overlap = -time.Second }, "partners.sim.poll.overlap"},
		"named twice":   {func(c *poll.Config) { c.Entities = []string{"contact", "contact"} }, "named twice"},
		"negative tick": {func(c *poll.Config) { c.Every = -time.Second }, "partners.sim.poll.every"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := s.cfg
			tc.mod(&cfg)
			if _, err := poll.New(cfg, testenv.Redis(t), s.list, s.app); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// The keys of one shard on a single Redis have no hash tag: the cursor
// and the lease may lie in any slots there.
func TestConfigUntaggedKeys(t *testing.T) {
	s := newSetup(t)
	cfg := s.cfg
	cfg.CursorKey = func(e string) string { return "streamsync:p:sim:poll:" + e }
	cfg.LeaseKey = "streamsync:p:sim:poll:lock"
	if _, err := poll.New(cfg, testenv.Redis(t), s.list, s.app); err != nil {
		t.Fatalf("untagged keys: %v", err)
	}
}

// SetCursor and Reset are what an operator uses to move or forget a cursor.
func TestSetCursorAndReset(t *testing.T) {
	s := newSetup(t)
	s.partner.put("a", 1, t0)
	s.partner.put("b", 1, t0+600_000)
	ctx := context.Background()
	rdb := testenv.Redis(t)
	key := s.cfg.CursorKey("contact")
	if err := poll.SetCursor(ctx, rdb, key, time.UnixMilli(t0+300_000)); err != nil {
		t.Fatal(err)
	}
	if err := s.poller(t).PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if r := s.app.refs(); len(r) != 1 || !strings.HasSuffix(r[0], "/b") {
		t.Fatalf("from a set cursor: %v", r)
	}
	if err := poll.Reset(ctx, rdb, key); err != nil {
		t.Fatal(err)
	}
	if st := s.state(t); st != (poll.State{}) {
		t.Fatalf("after reset %+v", st)
	}
}
