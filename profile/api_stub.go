package profile

import (
	"net/http"
	"time"

	"github.com/streamsync/streamsync/event"
)

// The sender's view of a profile; the bodies are being built.

// Op is a request kind of an entity.
type Op string

// The request kinds.
const (
	OpUpsert Op = "upsert"
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
	OpFind   Op = "find"
)

// IDs are the partner's ids of a record and of its parent ("" when none).
type IDs struct{ Self, Parent string }

// ItemResult is one bulk item's result.
type ItemResult struct {
	OK     bool
	ID     string
	Status int
	Error  string
}

func (p *Profile) AssignsIDs(entity string) bool    { panic("not built") }
func (p *Profile) NeedsParentID(entity string) bool { panic("not built") }
func (p *Profile) RenderOp(op Op, e event.Event, ids IDs) (Rendered, error) {
	panic("not built")
}
func (p *Profile) CreatedID(entity string, op Op, h http.Header, body []byte) (string, bool, error) {
	panic("not built")
}
func (p *Profile) Authorize(r *http.Request, body []byte, now time.Time, nonce string) error {
	panic("not built")
}
func (p *Profile) OAuth2() (tokenURL, clientID, secret string, scopes []string, ok bool) {
	panic("not built")
}
func (p *Profile) Secrets() []string   { panic("not built") }
func (p *Profile) Mask(s string) string { panic("not built") }
func (p *Profile) CallLimits() (rate float64, burst, concurrency int, timeout time.Duration) {
	panic("not built")
}
func (p *Profile) VersionKind() string { panic("not built") }
func (p *Profile) Bulk(entity string) (size int, linger time.Duration, ok bool) {
	panic("not built")
}
func (p *Profile) RenderBulk(entity string, batch []event.Event, ids []IDs) (Rendered, error) {
	panic("not built")
}
func (p *Profile) BulkResults(entity string, body []byte, batch []event.Event) ([]ItemResult, error) {
	panic("not built")
}
