package cutproxy

import (
	"io"
	"net"
)

// BlackHole makes the server silent without closing anything, as a
// network that drops every packet does: until Restore, every byte either
// side sends is swallowed, and a new connection is accepted and then never
// answered (it is not forwarded to the server). A client learns of it only
// through its own timeouts.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hole = true
	p.holed = append(p.holed, p.conns...)
	p.conns = nil
}

// swallow reports whether the proxy is a black hole now.
func (p *Proxy) swallow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hole
}

// holdIfHoled keeps c unanswered when the proxy is a black hole: its bytes
// are read and dropped until Restore closes it. It reports whether it did.
func (p *Proxy) holdIfHoled(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hole {
		return false
	}
	p.holed = append(p.holed, c)
	go func() { _, _ = io.Copy(io.Discard, c) }()
	return true
}
