//go:build linux

package pipeline

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/streamsync/streamsync/internal/testenv"
)

// A process that has ended but is not reaped yet (a zombie: a SIGKILLed
// streamsync whose parent waits late) no longer runs, so a restart may take
// its consumer name back at once.
func TestZombieDoesNotRun(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	testenv.WaitFor(t, 10*time.Second, "the child to end", func() bool { return zombie(pid) })
	if processRuns(pid) {
		t.Fatalf("pid %d (a zombie) counts as running", pid)
	}
	_ = cmd.Wait()
	if processRuns(pid) {
		t.Fatalf("pid %d (reaped) counts as running", pid)
	}
	if !processRuns(os.Getpid()) {
		t.Fatal("this process counts as not running")
	}
}
