package proof

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/streamsync/streamsync/event"
)

// Kind is what a proof lets an entry do.
type Kind string

// The kinds of proof.
const (
	// None: no proof, or one that does not verify; an ordinary event.
	None Kind = ""
	// Repair: a reconciliation repair (docs/reconcile.md). The ledger never
	// skips it as stale or unchanged, and once the partner has it the ledger
	// holds its version, even a lower one than it held before.
	Repair Kind = "repair"
	// Replay: a dead letter an operator re-entered. The ledger check is
	// skipped for this one event id.
	Replay Kind = "replay"
)

// Field is the stream field that holds an entry's proof: one of
// streamsync's own fields (prefix "_ss_"), which a producer cannot write
// through the ingest and which never reaches the partner, a dead letter or
// the attempt log.
const Field = event.FieldProof

// KeyBytes is the size of a Key: 32 random bytes, as much as HMAC-SHA256's
// output.
const KeyBytes = 32

// Key is the secret proofs are made with. It never prints: String,
// GoString, Format, slog and JSON show "[redacted]", so a Key that lands in
// a log line, an error or a status answer by mistake gives nothing away.
type Key struct {
	b [KeyBytes]byte
}

// NewKey makes a random key (crypto/rand).
func NewKey() (*Key, error) {
	k := &Key{}
	if _, err := rand.Read(k.b[:]); err != nil {
		return nil, fmt.Errorf("proof key: %w", err)
	}
	return k, nil
}

// ErrBadKey is returned for a stored key that is not 64 hex digits.
var ErrBadKey = errors.New("proof key: not 64 hex digits")

// parseKey reads a key in its stored form (hex).
func parseKey(s string) (*Key, error) {
	if len(s) != 2*KeyBytes {
		return nil, ErrBadKey
	}
	k := &Key{}
	if _, err := hex.Decode(k.b[:], []byte(s)); err != nil {
		return nil, ErrBadKey
	}
	return k, nil
}

// stored is the key's stored form (hex).
func (k *Key) stored() string { return hex.EncodeToString(k.b[:]) }

const redacted = "[redacted]"

// String hides the key.
func (k *Key) String() string { return redacted }

// GoString hides the key from %#v.
func (k *Key) GoString() string { return redacted }

// Format hides the key from every fmt verb.
func (k *Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue hides the key from log/slog.
func (k *Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON hides the key from encoding/json.
func (k *Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText hides the key from encoders that use text.
func (k *Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Sign is the proof of kind for an entry with these fields (its stream
// fields as written: name → value), in the form Field holds:
// "<kind>:<base64url HMAC>".
func (k *Key) Sign(kind Kind, fields map[string]string) string {
	return string(kind) + ":" + base64.RawURLEncoding.EncodeToString(k.mac(kind, fields))
}

// SignEvent is Sign over the stream fields e is appended as.
func (k *Key) SignEvent(kind Kind, e event.Event) string {
	f := e.Fields()
	m := make(map[string]string, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		m[f[i].(string)], _ = f[i+1].(string)
	}
	return k.Sign(kind, m)
}

// Verify reports the kind that proof proves for an entry with these
// fields, or None when it proves nothing (not a proof, an unknown kind,
// made with another key, or made for other fields). The comparison takes
// constant time.
func (k *Key) Verify(proof string, fields map[string]string) Kind {
	kind, mac, ok := split(proof)
	if !ok {
		return None
	}
	if hmac.Equal(mac, k.mac(kind, fields)) {
		return kind
	}
	return None
}

// split reads "<kind>:<base64url HMAC>"; ok is false when it is not one.
func split(proof string) (Kind, []byte, bool) {
	ks, m, ok := strings.Cut(proof, ":")
	kind := Kind(ks)
	if !ok || (kind != Repair && kind != Replay) {
		return None, nil, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(mac) != sha256.Size {
		return None, nil, false
	}
	return kind, mac, true
}

// signed are the fields a proof covers, besides the SHA-256 of data: what
// identifies the change and what the ledger and the partner act on. ts,
// traceparent and extra fields are not covered: they change nothing the
// ledger decides.
var signed = []string{
	event.FieldID, event.FieldAccount, event.FieldEntity, event.FieldKey, event.FieldOp, event.FieldVersion,
	event.FieldParentEntity, event.FieldParentKey, event.FieldOrigin,
}

// domain separates these MACs from any other use of the key.
const domain = "streamsync proof v1"

// mac is HMAC-SHA256 under k of the domain, the kind, each signed field
// (absent, or present with its length and bytes, so that no two entries
// encode alike) and the SHA-256 of data (or its absence).
func (k *Key) mac(kind Kind, fields map[string]string) []byte {
	h := hmac.New(sha256.New, k.b[:])
	var n [binary.MaxVarintLen64]byte
	put := func(s string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	put(domain)
	put(string(kind))
	for _, name := range signed {
		v, ok := fields[name]
		if !ok {
			h.Write([]byte{0})
			continue
		}
		h.Write([]byte{1})
		put(v)
	}
	if d, ok := fields[event.FieldData]; ok {
		sum := sha256.Sum256([]byte(d))
		h.Write([]byte{1})
		h.Write(sum[:])
	} else {
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}
