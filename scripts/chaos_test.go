package scripts

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chaosSandbox is a copy of chaos.sh and infra.sh in a directory of its
// own, with the suite's Redis (the only server it starts here) on a free
// port; run starts chaos.sh in its own process group with cmd as the suite.
type chaosSandbox struct {
	root, port string
}

func newChaosSandbox(t *testing.T) *chaosSandbox {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed (scripts/infra.sh up redis installs it)")
	}
	s := &chaosSandbox{root: t.TempDir(), port: freePort(t)}
	for _, f := range []string{"chaos.sh", "infra.sh"} {
		copyFile(t, f, filepath.Join(s.root, "scripts", f))
		if err := os.Chmod(filepath.Join(s.root, "scripts", f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { // a server a failed test left behind
		down := exec.Command(filepath.Join(s.root, "scripts", "infra.sh"), "down", "redis")
		down.Env = append(os.Environ(), "STREAMSYNC_DEV_REDIS_PORT="+s.port)
		_ = down.Run()
	})
	return s
}

func (s *chaosSandbox) start(t *testing.T, keep bool, suite string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.root, "scripts", "chaos.sh"), "sh", "-c", suite)
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), "CHAOS_SERVERS=redis", "CHAOS_REDIS_PORT="+s.port, "KEEP=")
	if keep {
		cmd.Env = append(cmd.Env, "KEEP=1")
	}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

func (s *chaosSandbox) redisAnswers() bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+s.port, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (s *chaosSandbox) spools() []string {
	m, _ := filepath.Glob(filepath.Join(s.root, ".run", "chaos", "spool-*"))
	return m
}

// The suite's command makes a spool, checks that its Redis answers, then
// fails, is interrupted, or ends well with KEEP=1.
const chaosSuite = `mkdir -p .run/chaos/spool-chaos_1 && redis-cli -p "$CHAOS_REDIS_PORT" ping | grep -q PONG && `

// make chaos stops the servers it started and removes its spools when the
// suite ends, fails or is interrupted, and keeps both with KEEP=1
// (docs/reliability.md, "The fault suite").
func TestChaosStopsItsServers(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		s := newChaosSandbox(t)
		cmd, out := s.start(t, false, chaosSuite+"exit 3")
		var ee *exec.ExitError
		if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("chaos.sh: %v, want the suite's exit status 3:\n%s", err, out)
		}
		s.checkStopped(t, "", out)
	})
	t.Run("interrupted", func(t *testing.T) {
		s := newChaosSandbox(t)
		started := filepath.Join(s.root, "started")
		cmd, out := s.start(t, false, chaosSuite+"touch "+started+" && sleep 60")
		deadline := time.Now().Add(60 * time.Second)
		for {
			if _, err := os.Stat(started); err == nil {
				break
			}
			if time.Now().After(deadline) {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				_ = cmd.Wait()
				t.Fatalf("the suite did not start:\n%s", out)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // as Ctrl-C does
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("chaos.sh ended well after SIGINT:\n%s", out)
			}
		case <-time.After(40 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("chaos.sh still runs 40 s after SIGINT:\n%s", out)
		}
		s.checkStopped(t, " after SIGINT", out)
	})
	t.Run("KEEP=1", func(t *testing.T) {
		s := newChaosSandbox(t)
		cmd, out := s.start(t, true, chaosSuite+"true")
		if err := cmd.Wait(); err != nil {
			t.Fatalf("chaos.sh: %v\n%s", err, out)
		}
		if !s.redisAnswers() {
			t.Errorf("KEEP=1 but the suite's Redis on %s is stopped:\n%s", s.port, out)
		}
		if len(s.spools()) != 1 {
			t.Errorf("KEEP=1 but the spool is gone:\n%s", out)
		}
		if !strings.Contains(out.String(), "STREAMSYNC_DEV_REDIS_PORT="+s.port+" scripts/infra.sh down redis") {
			t.Errorf("KEEP=1 does not say how to stop the Redis:\n%s", out)
		}
	})
}

// checkStopped fails t when the suite's Redis still answers or its spools
// are left, when naming the moment (" after SIGINT", or "").
func (s *chaosSandbox) checkStopped(t *testing.T, when string, out fmt.Stringer) {
	t.Helper()
	if s.redisAnswers() {
		t.Errorf("the suite's Redis on %s still answers%s:\n%s", s.port, when, out)
	}
	if sp := s.spools(); len(sp) != 0 {
		t.Errorf("spools left%s: %v\n%s", when, sp, out)
	}
}
