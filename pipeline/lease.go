package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// ErrAccountBusy is returned while another process (or this consumer's life
// before a crash) holds the account's lease; the entry is handed out again
// after a pause.
var ErrAccountBusy = errors.New("account is being delivered by another process")

// newRunID names one life of a process: a restarted process under the same
// consumer name does not inherit the leases of the one that crashed, whose
// requests may still be at the partner.
func newRunID(consumer string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return consumer + ":" + hex.EncodeToString(b)
}
