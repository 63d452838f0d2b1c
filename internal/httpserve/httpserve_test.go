package httpserve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// serve starts a server with limits for h on loopback.
func serve(t *testing.T, limits Limits, h http.HandlerFunc) *Server {
	t.Helper()
	s := NewServer(Config{Setting: "test.addr", Addr: "127.0.0.1:0", Handler: h, Limits: limits})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// readBody answers 200 with the body's length, 408 when it came too slowly.
func readBody(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	switch {
	case IsTooSlow(err):
		WriteJSON(w, http.StatusRequestTimeout, map[string]string{"error": err.Error()})
	case err != nil:
		WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		WriteJSON(w, http.StatusOK, map[string]int64{"read": n})
	}
}

// dial opens a raw connection to s that the test closes.
func dial(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// trickle sends a POST whose body of size bytes goes out chunk bytes every
// every, until the body is sent, a write fails or stop closes; it returns
// the answer's status (0 when none came) and how long it took.
func trickle(t *testing.T, s *Server, size, chunk int, every time.Duration) (int, time.Duration) {
	t.Helper()
	c := dial(t, s)
	start := time.Now()
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", size)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for sent := 0; sent < size; sent += chunk {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte(strings.Repeat("x", min(chunk, size-sent)))); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, time.Since(start)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// A body that comes more slowly than MinBodyRate is cut off once BodyGrace
// has passed; one that keeps the rate may take longer than BodyGrace.
func TestSlowBodyIsCutOff(t *testing.T) {
	s := serve(t, Limits{BodyGrace: 300 * time.Millisecond, MinBodyRate: 1000}, readBody)
	// One byte every 20 ms (50 B/s): cut off at about 0.3 s.
	status, took := trickle(t, s, 10_000, 1, 20*time.Millisecond)
	if status != http.StatusRequestTimeout || took > 3*time.Second {
		t.Fatalf("a slow body: status %d after %s, want 408 within 3s", status, took)
	}
	// 100 bytes every 20 ms (5,000 B/s, five times the minimum) for about
	// 1.2 s, four times the grace: read in full.
	if status, took := trickle(t, s, 6_000, 100, 20*time.Millisecond); status != http.StatusOK {
		t.Fatalf("a body at five times the minimum rate: status %d after %s, want 200", status, took)
	}
	// A large body sent at once.
	resp, err := http.Post("http://"+s.Addr()+"/x", "text/plain", strings.NewReader(strings.Repeat("y", 4<<20)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("4 MiB at once: %d", resp.StatusCode)
	}
}

// Headers that come too slowly, a client that does not read its answer,
// and an idle kept-alive connection are each cut off.
func TestSlowHeadersReadersAndIdle(t *testing.T) {
	written := make(chan error, 1)
	s := serve(t, Limits{ReadHeaderTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond},
		func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/big" {
				WriteJSON(w, http.StatusOK, nil)
				return
			}
			chunk := []byte(strings.Repeat("z", 64<<10))
			for range 2000 { // 128 MiB: more than any socket buffer holds
				if _, err := w.Write(chunk); err != nil {
					written <- err
					return
				}
			}
			written <- nil
		})
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		return err == nil || !(errors.As(err, &ne) && ne.Timeout()) // EOF or reset, not our deadline
	}

	t.Run("slow headers", func(t *testing.T) {
		c := dial(t, s)
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHo") // and nothing more
		if !closedWithin(c, 5*time.Second) {
			t.Fatal("a request whose headers never end was not cut off")
		}
	})
	t.Run("slow reader", func(t *testing.T) {
		c := dial(t, s)
		fmt.Fprint(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n") // and never read
		select {
		case err := <-written:
			if err == nil {
				t.Fatal("128 MiB written to a client that reads nothing")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("writing to a client that reads nothing did not time out")
		}
	})
	t.Run("idle", func(t *testing.T) {
		c := dial(t, s)
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := br.ReadByte(); err == nil || isTimeout(err) {
			t.Fatalf("an idle kept-alive connection stayed open: %v", err)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Header lines over MaxHeaderBytes are refused.
func TestMaxHeaderBytes(t *testing.T) {
	s := serve(t, Limits{MaxHeaderBytes: 1024}, readBody)
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("h", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("16 KiB of headers: %d, want 431", resp.StatusCode)
	}
}

// No more than MaxConns connections are served at once; the next is served
// as soon as one of them ends.
func TestConnectionCap(t *testing.T) {
	s := serve(t, Limits{MaxConns: 2}, readBody)
	get := func(c net.Conn, wait time.Duration) error {
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	held := []net.Conn{dial(t, s), dial(t, s)}
	for _, c := range held {
		if err := get(c, 5*time.Second); err != nil { // served, then kept alive
			t.Fatal(err)
		}
	}
	third := dial(t, s)
	if err := get(third, 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("a third connection was served while two were held: %v", err)
	}
	_ = held[0].Close()
	_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil {
		t.Fatalf("the third connection was not served once one ended: %v", err)
	}
	resp.Body.Close()
}

// With LoopbackOnly a server does not start on an address that is not
// loopback, and says which setting opens it.
func TestLoopbackOnly(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1:0", true}, {"localhost:0", true}, {"0.0.0.0:0", false}, {":0", false}} {
		s := NewServer(Config{Setting: "ingest.addr", Addr: tt.addr, Handler: http.NotFoundHandler(), LoopbackOnly: "ingest.tokens"})
		err := s.Start()
		_ = s.Close(context.Background())
		if tt.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "set ingest.tokens")) {
			t.Errorf("%s: %v", tt.addr, err)
		}
	}
	s := NewServer(Config{Setting: "ingest.addr", Addr: "0.0.0.0:0", Handler: http.NotFoundHandler()})
	if err := s.Start(); err != nil {
		t.Fatalf("without LoopbackOnly: %v", err)
	}
	_ = s.Close(context.Background())
}

// A request's context ends after WriteTimeout: a handler's work stops when
// its answer could no longer be written.
func TestHandlerWorkEndsWithWriteTimeout(t *testing.T) {
	ended := make(chan time.Duration, 1)
	s := serve(t, Limits{WriteTimeout: 200 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		select {
		case <-r.Context().Done():
			ended <- time.Since(start)
		case <-time.After(20 * time.Second):
			ended <- -1
		}
	})
	go func() {
		if resp, err := http.Get("http://" + s.Addr() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	if d := <-ended; d < 0 || d > 5*time.Second {
		t.Fatalf("the handler's context ended after %s, want about 200ms", d)
	}
}

// BodyStatus answers a body that could not be read: 413 over the limit, 408
// too slow, 400 for the rest.
func TestBodyStatus(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"over the limit", fmt.Errorf("body: %w", &http.MaxBytesError{Limit: 10}), http.StatusRequestEntityTooLarge},
		{"too slow", fmt.Errorf("body: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), http.StatusRequestTimeout},
		{"not JSON", errors.New("invalid character 'x'"), http.StatusBadRequest},
		{"cut", io.ErrUnexpectedEOF, http.StatusBadRequest},
	} {
		if got := BodyStatus(tt.err); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
