package partner

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/delivery"
	"github.com/streamsync/streamsync/internal/idmap"
	"github.com/streamsync/streamsync/internal/layout"
	"github.com/streamsync/streamsync/internal/replicas"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/profile"
)

// With redis.wait_replicas 1 a record's first create is sent only once the
// replica holds its hold: with the replica stopped nothing is sent and the
// event is tried again (transient, not dead); with it back the create goes
// out (docs/reliability.md, "After a rollback").
func TestProfileCreateWaitsForItsHoldOnTheReplicas(t *testing.T) {
	ss := testenv.Sentinel(t)
	prefix := testenv.Prefix(t)
	t.Cleanup(func() { testenv.DeleteKeys(ss.Client, prefix) })
	c := newCRM()
	hs := httptest.NewServer(c)
	t.Cleanup(hs.Close)
	p, err := profile.Parse([]byte(fmt.Sprintf(crmProfile, hs.URL, "")), "crm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keys := layout.NewKeys(prefix+"events", "g", prefix+"dead", prefix+"delayed", prefix+"retry")
	const timeout = 300 * time.Millisecond
	store := layout.NewIDMapStore(ss.Client, layout.Shards{keys}).WithReplicas(replicas.Wait{N: 1, Timeout: timeout})
	s, err := New(Config{Profile: p, IDs: store, Timeout: 2 * time.Second,
		Breaker: BreakerConfig{TripAfter: 5, OpenFor: 30 * time.Millisecond, PollInterval: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()

	// a record already created: its update writes no hold and waits for nothing
	old := contact("e0", "c/0", 1, "Han Mei")
	if a := s.Send(ctx, old); a.Class != delivery.Delivered {
		t.Fatalf("create with the replica up: %+v", a)
	}
	if _, _, err := store.Set(ctx, "contact", "c/0", old.Account, "p-1"); err != nil {
		t.Fatal(err)
	}

	replica, resume := ss.StopReplica(t)
	e := contact("e1", "c/1", 1, "Li Lei")
	start := time.Now()
	a := s.Send(ctx, e)
	took := time.Since(start)
	if a.Class != delivery.Transient || a.Calls != 0 || !strings.Contains(a.Detail, "nothing sent") || !strings.Contains(a.Detail, "redis.wait_replicas") {
		t.Fatalf("create with the replica %s stopped: %+v, want transient with nothing sent", replica, a)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Fatalf("answered after %s, want about redis.wait_timeout (%s)", took, timeout)
	}
	if want := []string{"POST /contacts"}; !slices.Equal(c.requests(), want) {
		t.Fatalf("requests %v, want only the first record's create %v", c.requests(), want)
	}
	if a := s.Send(ctx, contact("e2", "c/0", 2, "Han Mei 2")); a.Class != delivery.Delivered {
		t.Fatalf("update with the replica stopped: %+v, want delivered (no hold to wait for)", a)
	}

	resume()
	a = s.Send(ctx, e) // the pipeline's retry of the same event
	if a.Class != delivery.Delivered || a.IDMap != (idmap.Write{Op: idmap.WriteSet, ID: "p-2"}) {
		t.Fatalf("create with the replica back: %+v", a)
	}
	if n := c.contactCount(); n != 2 {
		t.Fatalf("%d records at the partner, want 2", n)
	}
}
