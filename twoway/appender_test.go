package twoway

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/event"
	"github.com/streamsync/streamsync/handlers"
	"github.com/streamsync/streamsync/inbound"
)

func TestAppenderIDsAreDeterministic(t *testing.T) {
	r := newRig(t, Theirs, PolicyNewest)
	changes := []inbound.Change{
		{Entity: entity, Key: "k1", Account: account, Version: 5, Data: json.RawMessage(`{"n":1}`)},
		{Entity: entity, Key: "k2", Account: account, Version: 6, Deleted: true},
	}
	for range 2 {
		if err := r.app.Append(t.Context(), partner, inbound.ViaWebhook, "msg_1", changes); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.app.Append(t.Context(), partner, inbound.ViaPoll, "msg_1", changes[:1]); err != nil {
		t.Fatal(err)
	}
	got := entries(t, r.rdb, r.keys.Inbound().For(account).Events)
	if len(got) != 5 {
		t.Fatalf("%d entries, want 5", len(got))
	}
	id := func(i int) string { return got[i][event.FieldID].(string) }
	if id(0) != id(2) || id(1) != id(3) {
		t.Errorf("the same delivery twice gave ids %s %s, then %s %s", id(0), id(1), id(2), id(3))
	}
	if id(0) == id(1) || id(4) == id(0) || !strings.HasPrefix(id(0), "in-") || len(id(0)) != 35 {
		t.Errorf("ids %s %s %s: one per change and way, in- and 32 hex digits", id(0), id(1), id(4))
	}
	if got[0][event.FieldOrigin] != partner || got[0][event.FieldOp] != string(event.OpUpsert) || got[1][event.FieldOp] != string(event.OpDelete) {
		t.Errorf("entries %v: origin the partner, ops as the changes", got[:2])
	}
	if got[0][event.FieldTS] != strconv.FormatInt(now.UnixMilli(), 10) {
		t.Errorf("ts %v, want the arrival time", got[0][event.FieldTS])
	}
}

func TestAppenderAccountAndVersionFallbacks(t *testing.T) {
	r := newRig(t, Theirs, PolicyNewest)
	ctx := t.Context()
	// the partner's ledger knows k1's account; the inbound ledger k2's
	l := handlers.Ledger{Found: true, Version: 3, Hash: "h", EventID: "e0", Account: "acct-ledger"}
	if err := r.rdb.HSet(ctx, r.keys.For("").Ledger(entity), "k1", l.String()).Err(); err != nil {
		t.Fatal(err)
	}
	l.Account = "acct-inbound"
	if err := r.rdb.HSet(ctx, r.keys.Inbound().For("").Ledger(entity), "k2", l.String()).Err(); err != nil {
		t.Fatal(err)
	}
	changes := []inbound.Change{
		{Entity: entity, Key: "k1", Version: 0, Data: json.RawMessage(`{"n":1}`)},
		{Entity: entity, Key: "k2", Version: 7, Data: json.RawMessage(`{"n":2}`)},
		{Entity: entity, Key: "k3", Version: 8, Data: json.RawMessage(`{"n":3}`)},
	}
	if err := r.app.Append(ctx, partner, inbound.ViaPoll, "run-1", changes); err != nil {
		t.Fatal(err)
	}
	got := entries(t, r.rdb, r.keys.Inbound().For("").Events) // one shard: every account's stream
	if len(got) != 3 {
		t.Fatalf("%d entries, want 3", len(got))
	}
	for i, want := range []string{"acct-ledger", "acct-inbound", "k3"} {
		if got[i][event.FieldAccount] != want {
			t.Errorf("change %d: account %v, want %s", i+1, got[i][event.FieldAccount], want)
		}
	}
	if got[0][event.FieldVersion] != strconv.FormatInt(now.UnixMilli(), 10) || got[1][event.FieldVersion] != "7" {
		t.Errorf("versions %v %v: the arrival time for none, else the partner's", got[0][event.FieldVersion], got[1][event.FieldVersion])
	}
}

func TestAppenderInvalidChangeFailsTheCall(t *testing.T) {
	r := newRig(t, Theirs, PolicyNewest)
	changes := []inbound.Change{
		{Entity: entity, Key: "k1", Account: account, Version: 5, Data: json.RawMessage(`{"n":1}`)},
		{Entity: entity, Key: "k2", Account: account, Version: 6, Data: json.RawMessage(`[1,2]`)}, // not an object
	}
	err := r.app.Append(t.Context(), partner, inbound.ViaWebhook, "msg_1", changes)
	if err == nil || !strings.Contains(err.Error(), "change 2 ("+entity+"/k2)") {
		t.Fatalf("err %v, want one naming change 2", err)
	}
	if n := len(entries(t, r.rdb, r.keys.Inbound().For(account).Events)); n != 0 {
		t.Errorf("%d entries appended by a call that failed", n)
	}
	if err := r.app.Append(t.Context(), "other", inbound.ViaWebhook, "m", changes[:1]); !errors.Is(err, ErrUnknownPartner) {
		t.Errorf("an unknown partner: %v", err)
	}
}
