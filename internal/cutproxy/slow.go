package cutproxy

import "time"

// Slow makes the link slow until it is called again with zeros: each
// chunk of bytes, either way, is held latency before it is forwarded, and
// then as long as bytesPerSec takes to carry it (0: no limit). A chunk
// is what one read of a connection returns (up to 32 KiB), so a request
// and its answer each pay the latency at least once: a round trip costs
// 2 × latency or more.
func (p *Proxy) Slow(latency time.Duration, bytesPerSec int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency, p.bytesPerSec = latency, bytesPerSec
}

// throttle holds a chunk of n bytes as Slow says.
func (p *Proxy) throttle(n int) {
	p.mu.Lock()
	d := p.latency
	if p.bytesPerSec > 0 {
		d += time.Duration(n) * time.Second / time.Duration(p.bytesPerSec)
	}
	p.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}
