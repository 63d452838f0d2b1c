package pipeline

import (
	"testing"

	"github.com/streamsync/streamsync/internal/cutproxy"
)

// newCutProxy is a cutproxy.Proxy in front of target, closed when the test
// ends.
func newCutProxy(tb testing.TB, target string) *cutproxy.Proxy {
	tb.Helper()
	p, err := cutproxy.New(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}
