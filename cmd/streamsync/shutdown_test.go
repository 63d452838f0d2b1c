package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamsync/streamsync/internal/testenv"
	"github.com/streamsync/streamsync/partnersim"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// SIGTERM stops reading, lets the deliveries in flight finish, and exits
// 0; /readyz answers 200 only while events are read.
func TestGracefulShutdown(t *testing.T) {
	rdb, keys, env := streams(t, "graceful")
	ctx := context.Background()
	sim, _ := partnersim.New(partnersim.Options{Faults: partnersim.Faults{Latency: partnersim.Duration(300 * time.Millisecond)}})
	hs := httptest.NewServer(sim)
	defer hs.Close()
	admin := freeAddr(t)
	env = append(env, "STREAMSYNC_SINK__BASE_URL="+hs.URL, "STREAMSYNC_CLICKHOUSE__ADDR=", "STREAMSYNC_ADMIN__ADDR="+admin)
	p := startProcess(t, env)
	t.Cleanup(func() { p.kill() }) // the p of the moment: a restart replaces it
	testenv.WaitFor(t, 20*time.Second, "/readyz 200", func() bool { return httpStatus("http://"+admin+"/readyz") == 200 })
	if httpStatus("http://"+admin+"/healthz") != 200 {
		t.Fatal("/healthz")
	}
	for i := range 30 {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Events, Values: []any{"id", fmt.Sprint("e", i), "account", fmt.Sprint("a", i%10),
			"entity", "x", "key", fmt.Sprint("k", i), "op", "upsert", "version", "1", "data", "{}"}})
	}
	testenv.WaitFor(t, 10*time.Second, "deliveries in flight", func() bool { return sim.Snapshot("").Stats.InFlight > 0 })
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit 20s after SIGTERM\n%s", p.out.String())
	}
	if n := sim.Snapshot("").Stats.InFlight; n != 0 {
		t.Fatalf("%d deliveries cut off", n)
	}
	delivered := len(sim.Snapshot("").Records)
	if delivered == 30 {
		t.Fatal("everything was delivered before the stop: the test proves nothing")
	}
	// What was not delivered waits in Redis, and a restart delivers it.
	p = startProcess(t, env)
	testenv.WaitFor(t, 30*time.Second, "all 30 delivered after the restart", func() bool { return len(sim.Snapshot("").Records) == 30 })
	if st := sim.Snapshot("").Stats; st.Overlaps != 0 {
		t.Fatalf("%d overlaps", st.Overlaps)
	}
}
