package proof

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/streamsync/streamsync/event"
)

func entry() map[string]string {
	return map[string]string{"id": "rc-1-1", "account": "acc", "entity": "main", "key": "k/1", "op": "upsert",
		"version": "7", "parent_entity": "p", "parent_key": "pk", "origin": "reconcile", "data": `{"a":1}`,
		"ts": "1700000000000", "extra": "x"}
}

func TestSignVerify(t *testing.T) {
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKey()
	p := k.Sign(Repair, entry())
	if !strings.HasPrefix(p, "repair:") {
		t.Fatalf("proof %q", p)
	}
	if got := k.Verify(p, entry()); got != Repair {
		t.Fatalf("own proof verifies as %q", got)
	}
	tests := []struct {
		name   string
		proof  string
		change func(map[string]string)
		want   Kind
	}{
		{"ts is not covered", p, func(f map[string]string) { f["ts"] = "1" }, Repair},
		{"extra fields are not covered", p, func(f map[string]string) { f["extra"] = "y"; f["more"] = "z" }, Repair},
		{"another key", other.Sign(Repair, entry()), nil, None},
		{"another kind", "replay:" + strings.TrimPrefix(p, "repair:"), nil, None},
		{"an unknown kind", "admin:" + strings.TrimPrefix(p, "repair:"), nil, None},
		{"not base64", "repair:!!", nil, None},
		{"too short", "repair:AAAA", nil, None},
		{"no kind", strings.TrimPrefix(p, "repair:"), nil, None},
		{"empty", "", nil, None},
		{"data dropped", p, func(f map[string]string) { delete(f, "data") }, None},
		{"parent dropped", p, func(f map[string]string) { delete(f, "parent_entity"); delete(f, "parent_key") }, None},
		{"a field emptied is not a field dropped", p, func(f map[string]string) { f["origin"] = "" }, None},
	}
	for _, name := range signed {
		tests = append(tests, struct {
			name   string
			proof  string
			change func(map[string]string)
			want   Kind
		}{"changed " + name, p, func(f map[string]string) { f[name] += "9" }, None})
	}
	tests = append(tests, struct {
		name   string
		proof  string
		change func(map[string]string)
		want   Kind
	}{"changed data", p, func(f map[string]string) { f["data"] = `{"a":2}` }, None})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := entry()
			if tt.change != nil {
				tt.change(f)
			}
			if got := k.Verify(tt.proof, f); got != tt.want {
				t.Fatalf("verifies as %q, want %q", got, tt.want)
			}
		})
	}
}

// Values that run into each other cannot make one entry's proof fit another.
func TestSignIsUnambiguous(t *testing.T) {
	k, _ := NewKey()
	a := map[string]string{"id": "ab", "account": "c"}
	b := map[string]string{"id": "a", "account": "bc"}
	if k.Verify(k.Sign(Replay, a), b) != None {
		t.Fatal("a proof fits an entry whose fields split the same bytes differently")
	}
}

// SignEvent signs the fields an event is appended as.
func TestSignEvent(t *testing.T) {
	k, _ := NewKey()
	e := event.Event{ID: "rc-1", Account: "a", Entity: "main", Key: "k", Op: event.OpUpsert, Version: 3,
		Origin: "reconcile", Data: json.RawMessage(`{"x":1}`), TS: 5}
	e.Proof = k.SignEvent(Repair, e)
	f := e.Fields()
	m := map[string]string{}
	for i := 0; i < len(f); i += 2 {
		m[f[i].(string)] = f[i+1].(string)
	}
	if m[Field] != e.Proof {
		t.Fatalf("the proof is not appended as %s: %v", Field, m)
	}
	if k.Verify(m[Field], m) != Repair {
		t.Fatal("an appended repair does not verify")
	}
}

// The key never prints, whatever prints it.
func TestKeyNeverPrints(t *testing.T) {
	k, _ := NewKey()
	secret := k.stored()
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("x", "key", k)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "key", k)
	js, _ := json.Marshal(map[string]any{"key": k})
	holder := struct{ K *Key }{k}
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x %X", k, k, k, k, k, k, k),
		fmt.Sprintf("%+v %#v", holder, holder), k.String(), string(js), logged.String(),
		fmt.Errorf("wrapped: %v", k).Error(),
	} {
		if strings.Contains(strings.ToLower(s), secret[:16]) || bytes.Contains([]byte(s), k.b[:8]) {
			t.Fatalf("the key shows in %q", s)
		}
		if !strings.Contains(s, redacted) {
			t.Fatalf("%q does not say the key is hidden", s)
		}
	}
}

// BenchmarkVerify is the cost a proven entry adds to its handling (an entry
// without a proof costs one map lookup): HMAC-SHA256 over its fields and
// SHA-256 of 1 KiB of data.
func BenchmarkVerify(b *testing.B) {
	k, _ := NewKey()
	f := entry()
	f["data"] = `{"d":"` + strings.Repeat("x", 1000) + `"}`
	p := k.Sign(Repair, f)
	b.ReportAllocs()
	for b.Loop() {
		if k.Verify(p, f) != Repair {
			b.Fatal("no")
		}
	}
}
