package cutproxy

import (
	"bufio"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer answers every line with itself.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(l)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes a line and reads one back within wait.
func roundTrip(c net.Conn, wait time.Duration) (string, error) {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	return bufio.NewReader(c).ReadString('\n')
}

// A black hole answers nothing on an open connection or a new one, closes
// nothing until Restore, and after it the old connections are closed and
// new ones forwarded again.
func TestBlackHole(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	old, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if l, err := roundTrip(old, 5*time.Second); err != nil || l != "ping\n" {
		t.Fatalf("before the hole: %q %v", l, err)
	}
	p.BlackHole()
	if l, err := roundTrip(old, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("open connection in the hole: %q %v, want a timeout", l, err)
	}
	fresh, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("a new connection is accepted in the hole: %v", err)
	}
	defer fresh.Close()
	if l, err := roundTrip(fresh, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection in the hole: %q %v, want a timeout", l, err)
	}
	p.Restore()
	if _, err := roundTrip(old, 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection that lived through the hole answered after it (%v), want it closed", err)
	}
	again, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if l, err := roundTrip(again, 5*time.Second); err != nil || l != "ping\n" {
		t.Fatalf("after the hole: %q %v", l, err)
	}
}

// A slow link holds each chunk for the latency both ways and for as long
// as the bandwidth takes; Slow(0, 0) makes it fast again.
func TestSlow(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.Slow(150*time.Millisecond, 0)
	start := time.Now()
	if l, err := roundTrip(c, 5*time.Second); err != nil || l != "ping\n" {
		t.Fatalf("slow round trip: %q %v", l, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("a round trip with 150 ms latency took %s, want at least 300 ms", d)
	}
	p.Slow(0, 50) // 5 bytes each way at 50 B/s: 100 ms each way
	start = time.Now()
	if _, err := roundTrip(c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("10 bytes at 50 B/s took %s, want at least 200 ms", d)
	}
	p.Slow(0, 0)
	start = time.Now()
	if _, err := roundTrip(c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("after Slow(0, 0) a round trip took %s", d)
	}
}
