package cutproxy

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Proxy forwards every TCP connection it accepts to one server address.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	down  bool
	// beforeReply, when set, is asked before each chunk the server sends
	// is forwarded; true cuts that connection instead (once).
	beforeReply func() bool
	cuts        int
	// hole, while true, swallows every byte both ways and holds new
	// connections unanswered (BlackHole); holed are the connections that
	// lived through it, closed by Restore.
	hole  bool
	holed []net.Conn
	// latency and bytesPerSec slow every chunk forwarded (Slow).
	latency     time.Duration
	bytesPerSec int
}

// New listens on a free loopback port and forwards to target (host:port)
// until Close.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target}
	go p.accept()
	return p, nil
}

// Addr is the address clients dial instead of the server's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.holdIfHoled(c) {
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			_ = s.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { p.forward(s, c); _ = s.Close() }()
		go func() { p.replies(c, s); _ = c.Close() }()
	}
}

func (p *Proxy) forward(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.swallow() {
			p.throttle(n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// replies forwards the server's bytes to the client, asking beforeReply
// first about each chunk.
func (p *Proxy) replies(c, s net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 && !p.swallow() {
			p.throttle(n)
			if p.cutNow() {
				_ = c.Close()
				_ = s.Close()
				return
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) cutNow() bool {
	p.mu.Lock()
	f := p.beforeReply
	p.mu.Unlock()
	if f == nil || !f() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.beforeReply == nil { // another connection cut first
		return false
	}
	p.beforeReply = nil
	p.cuts++
	return true
}

// CutBeforeReply arms the proxy: from now on every chunk a server sends is
// first shown to cut; the first time it answers true, that chunk is
// dropped and its connection closed on both sides — the server did what
// it was asked, the client never hears so. Then the proxy forwards as
// before. cut runs on the proxy's goroutines; it must not block for long.
func (p *Proxy) CutBeforeReply(cut func() bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.beforeReply = cut
}

// Cuts is how many connections CutBeforeReply has cut.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Cut closes every connection, and every new one until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// IsCut reports whether Cut is in force (until Restore).
func (p *Proxy) IsCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// Restore forwards new connections again, and ends a black hole: the
// connections that lived through it are closed (their bytes were lost, as
// a peer that forgot them answers with a reset).
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
	if p.hole {
		p.hole = false
		for _, c := range p.holed {
			_ = c.Close()
		}
		p.holed = nil
	}
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() error {
	p.Cut()
	err := p.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
